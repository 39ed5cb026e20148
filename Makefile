# riskflow developer commands. `make test` is the one CI runs.
.PHONY: test fmt lint package release bench fuzz

test:
	bash scripts/test.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

package:
	bash scripts/package.sh

release:
	bash scripts/package.sh --release

bench:
	bash scripts/bench.sh

# libFuzzer on every parser of outside bytes, FUZZ_SECONDS (default 60) per target (nightly).
fuzz:
	bash scripts/fuzz.sh
