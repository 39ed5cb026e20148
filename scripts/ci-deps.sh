#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks for `make test`: curl, Python's
# venv, and Debian's Chromium and ChromeDriver for the Data Sources page test. The Rust
# toolchain and Python 3 come with the machine; Python packages are pinned in scripts/ and
# installed by scripts/test.sh itself.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is missing: this machine kind ships the Rust toolchain"; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
