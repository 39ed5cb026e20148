#!/usr/bin/env bash
# Fuzz every parser that reads outside bytes with libFuzzer (the targets in fuzz/fuzz_targets/,
# each calling one entry point of riskflow::fuzzing).
#
#   scripts/fuzz.sh            `make fuzz`: each target FUZZ_SECONDS (default 60) from the seed
#                              corpus; what it learns is kept in fuzz/corpus-local/ (ignored by git)
#   scripts/fuzz.sh --smoke    the test command's smoke: each target FUZZ_SMOKE_SECONDS
#                              (default 5) from the seeds, learning into a temporary directory
#   scripts/fuzz.sh <target>…  only these targets
#
# Needs a nightly toolchain (`cargo +nightly`); cargo-fuzz is installed (pinned) when missing.
# Without nightly, the smoke replays the seed corpus on stable (shared/tests/fuzz_corpus.rs,
# the same entry points) and says that the fuzzing itself was skipped; `make fuzz` fails.
# A crash fails the command; its input is in fuzz/artifacts/<target>/ (replay it with
# `cargo +nightly fuzz run <target> <file>`), and goes to fuzz/corpus/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CARGO_FUZZ_VERSION=0.13.2
smoke=false
if [ "${1:-}" = "--smoke" ]; then
  smoke=true
  shift
fi
if $smoke; then seconds=${FUZZ_SMOKE_SECONDS:-5}; else seconds=${FUZZ_SECONDS:-60}; fi
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  if $smoke; then
    echo "fuzzing SKIPPED: no nightly toolchain here (\`cargo +nightly\` fails; libFuzzer needs"
    echo "nightly: \`rustup toolchain install nightly\`). Replaying the seed corpus on stable instead:"
    cargo test -p riskflow --locked --test fuzz_corpus
    exit 0
  fi
  echo "make fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo +nightly install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# The fuzz build has its own target dir: it is a nightly build with coverage instrumentation
# that shares nothing with the stable one.
# Beside the stable build (CI keeps CARGO_TARGET_DIR outside the clone, so the nightly build is
# reused by the next run on the same machine).
target_dir=${RISKFLOW_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/fuzz}
# No sanitizer: riskflow has no unsafe code, and libFuzzer still catches every panic, overflow
# (debug assertions are on) and timeout; the build is much shorter without AddressSanitizer.
fuzz_flags=(--sanitizer none --target-dir "$target_dir")

start=$(date +%s)
# cargo fuzz has no --locked: check first that fuzz/Cargo.lock needs no change.
(cd fuzz && cargo +nightly metadata --locked --format-version 1 >/dev/null)
echo "== cargo fuzz build (nightly, into $target_dir)"
cargo +nightly fuzz build "${fuzz_flags[@]}"
built=$(date +%s)
echo "   built in $((built - start)) s"

if $smoke; then
  learned=$(mktemp -d)
  trap 'rm -rf "$learned"' EXIT
else
  learned=$root/fuzz/corpus-local
fi
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$learned/$t"
  echo "== fuzz $t for $seconds s (seeds: fuzz/corpus/$t)"
  # New inputs go to the first directory only: the seed corpus in the repository stays as is.
  if ! cargo +nightly fuzz run "${fuzz_flags[@]}" "$t" "$learned/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$learned/$t.log" 2>&1; then
    tail -n 40 "$learned/$t.log"
    failed+=("$t")
  else
    grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$learned/$t.log" | tail -n 1 || true
  fi
done
echo "== fuzzing took $(($(date +%s) - built)) s after a $((built - start)) s build"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
