#!/usr/bin/env bash
# `make bench`: the benchmark of DESIGN.md's budgets. Builds the release functions with
# cargo-lambda (scripts/package.sh), starts the AWS emulator on a free loopback port, runs
# riskflow-bench and writes bench/results.md. Takes about 10 minutes on 2 cores (most of it the
# release build and the throughput run: 10,000 sessions at 200 then 50 requests/s).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
ensure_venv
bash scripts/package.sh
target=${CARGO_TARGET_DIR:-$root/target}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
       AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
cargo run --release -p riskflow-bench -- --functions-dir "$target/lambda" --dist dist --out bench/results.md "$@"
