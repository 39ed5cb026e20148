# Shared by the project's scripts: the Python virtualenv with pinned tools.
# VENV defaults to .venv in the repository; it is created (or completed) when missing.
VENV=${RISKFLOW_VENV:-$root/.venv}

ensure_venv() {
  make_venv "$VENV" "$root/scripts/requirements.txt"
}

# make_venv DIR REQUIREMENTS: create or complete a venv with pinned packages (skipped when the
# requirements file has not changed since the last install).
make_venv() {
  local VENV="$1" want="$2"
  local stamp="$VENV/.requirements.sha256"
  local sum
  sum=$(sha256sum "$want" | cut -d' ' -f1)
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  echo "== preparing Python tools in $VENV (pinned in ${want#"$root"/})"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$want"
  echo "$sum" >"$stamp"
}
