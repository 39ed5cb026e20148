#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks for `make test`.
# The Rust toolchain, Python 3 and curl come with the machine; Python packages are pinned in
# scripts/requirements.txt and installed by scripts/test.sh itself.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo is missing: this machine kind ships the Rust toolchain"; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
