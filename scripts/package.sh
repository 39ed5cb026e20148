#!/usr/bin/env bash
# Build every Lambda function as a zip with cargo-lambda, into the paths the Terraform module
# expects: dist/<arch>/<function>/bootstrap.zip, plus dist/SHA256SUMS.
#   scripts/package.sh            x86_64 always; arm64 when its Rust target is installed
#   scripts/package.sh --release  the same, and a release tarball per architecture
# cargo-lambda and zig come from PyPI into the project's venv (scripts/requirements-package.txt).
# arm64: zig cross-links it, but Rust needs the aarch64-unknown-linux-gnu standard library
# (`rustup target add aarch64-unknown-linux-gnu`), which these machines cannot download.
#
# The zips are reproducible: the build is --locked, and each zip is rewritten with one entry
# (`bootstrap`, mode 0755) at a fixed time, so an unchanged commit gives byte-identical zips and
# Terraform's source_code_hash does not redeploy the functions.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
ensure_venv
if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-package.txt
fi
export PATH="$VENV/bin:$PATH"   # cargo-lambda finds zig through the venv's python (ziglang)

functions=(connections-api alert-tickets hr-departures departing-response state-sync)
archs=(x86_64)
if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  archs+=(arm64)
else
  echo "note: the aarch64-unknown-linux-gnu Rust target is not installed, so no arm64 zips are built"
  echo "      (rustup target add aarch64-unknown-linux-gnu, then run this again; Terraform's default architecture is arm64)"
fi

rm -rf dist && mkdir -p dist
for arch in "${archs[@]}"; do
  flag=()
  [ "$arch" = arm64 ] && flag=(--arm64)
  bins=()
  for f in "${functions[@]}"; do bins+=(--bin "$f"); done
  echo "== cargo lambda build --release --output-format zip ${flag[*]} (${arch})"
  cargo lambda build --release --locked "${flag[@]}" "${bins[@]}"
  for f in "${functions[@]}"; do
    mkdir -p "dist/$arch/$f"
    python3 scripts/reproducible_zip.py "${CARGO_TARGET_DIR:-target}/lambda/$f/bootstrap" "dist/$arch/$f/bootstrap.zip"
  done
done
(cd dist && find . -name bootstrap.zip | sort | xargs sha256sum > SHA256SUMS)
echo "== zips"
(cd dist && for z in $(find . -name bootstrap.zip | sort); do printf '%-40s %10s bytes\n' "$z" "$(stat -c %s "$z")"; done)
if [ "${1:-}" = "--release" ]; then
  version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="riskflow"))')
  for arch in "${archs[@]}"; do
    tar -C dist -czf "dist/riskflow-$version-$arch.tar.gz" "$arch" SHA256SUMS
  done
  (cd dist && sha256sum riskflow-*.tar.gz >> SHA256SUMS)
  echo "release tarballs in dist/"
fi
