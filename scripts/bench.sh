#!/usr/bin/env bash
# `make bench`: the benchmark of DESIGN.md's budgets. Builds the release functions with
# cargo-lambda (scripts/package.sh), starts the AWS emulator on a free loopback port, runs
# riskflow-bench and writes bench/results.md. Takes 20-30 minutes on 2 cores: the release
# build (size-tuned, fat LTO) is most of it, the measurements about 5 minutes (the throughput
# part alone: 10,000 sessions at 200 then 50 requests/s, about 2.5 minutes).
# Extra arguments go to riskflow-bench, e.g. `--only cold,aws,throughput,zips` (some parts)
# or `--throughput-sessions 2000` (a shorter throughput run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
ensure_venv
bash scripts/package.sh
# The harness runs the exact bootstraps the zips hold (x86_64, this machine's architecture).
bins=$(mktemp -d)
for f in connections-api alert-tickets hr-departures departing-response state-sync; do
  mkdir -p "$bins/$f"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "dist/x86_64/$f/bootstrap.zip" "$bins/$f"
  chmod +x "$bins/$f/bootstrap"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# moto with its DynamoDB requests one at a time (scripts/moto_serial.py), as `make test` runs it.
"$VENV/bin/python" scripts/moto_serial.py -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
       AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# The functions are measured as the release builds above; the harness itself needs no LTO build.
cargo run -p riskflow-bench -- --functions-dir "$bins" --dist dist --out bench/results.md "$@"
