#!/usr/bin/env bash
# Offline checks of the Terraform module in infra/ (called by scripts/test.sh; runs alone too):
#   terraform fmt -check -recursive infra
#   terraform init -backend=false -input=false -plugin-dir=<mirror> + terraform validate
#     in infra/ and in every folder under infra/examples/
#   terraform test in infra/ (infra/tests/*.tftest.hcl, mock_provider "aws": no AWS account)
# No network and no AWS credentials: the hashicorp/aws provider comes from a filesystem mirror
# (RISKFLOW_TF_PLUGIN_DIR, else found on this machine), the CLI configuration is /dev/null, and
# each configuration gets its own temporary TF_DATA_DIR, so nothing is written into the
# repository but .terraform.lock.hcl files, and those only while the script runs (gitignored;
# removed again unless they were there before).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

die() {
  echo "check_terraform: $*" >&2
  exit 1
}

now_ms() { date +%s%3N; }
t_start=$(now_ms)

# --- terraform >= 1.7 on PATH ------------------------------------------------------------------
tf=$(command -v terraform || true)
[ -n "$tf" ] || die "terraform is not on PATH (looked in PATH=$PATH). Terraform >= 1.7 is needed (terraform test with mock_provider)."
tf_version=$("$tf" version | sed -n '1s/^Terraform v\([0-9][0-9.]*\).*/\1/p')
[ -n "$tf_version" ] || die "could not read the version of $tf ('$tf version' printed: $("$tf" version 2>&1 | head -1))."
IFS=. read -r tf_major tf_minor _ <<<"$tf_version"
if [ "$tf_major" -lt 1 ] || { [ "$tf_major" -eq 1 ] && [ "$tf_minor" -lt 7 ]; }; then
  die "$tf is Terraform $tf_version; >= 1.7 is needed (terraform test with mock_provider)."
fi

# --- the hashicorp/aws provider mirror ---------------------------------------------------------
# A mirror is the folder ABOVE registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/.
if [ -n "${RISKFLOW_TF_PLUGIN_DIR:-}" ]; then
  plugin_dir=$RISKFLOW_TF_PLUGIN_DIR
  compgen -G "$plugin_dir/registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws_*" >/dev/null ||
    die "RISKFLOW_TF_PLUGIN_DIR=$plugin_dir holds no hashicorp/aws provider (looked for $plugin_dir/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws_*)."
else
  provider=$(find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
    -name 'terraform-provider-aws_*' -path '*registry.terraform.io*' -print 2>/dev/null | head -n 1 || true)
  [ -n "$provider" ] ||
    die "no hashicorp/aws provider mirror found: searched / (except /proc, /sys, /dev) for registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws_*. Set RISKFLOW_TF_PLUGIN_DIR to the folder above registry.terraform.io (these checks never download providers)."
  plugin_dir=${provider%%/registry.terraform.io/*}
fi
providers=$(cd "$plugin_dir/registry.terraform.io/hashicorp/aws" && echo */*)
echo "terraform $tf_version ($tf); hashicorp/aws from $plugin_dir: $providers"

# --- temporary data dirs, and lock files removed again if this script created them ---------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/riskflow-tf.XXXXXX")
configs=(infra)
for d in infra/examples/*/; do configs+=("${d%/}"); done
created_locks=()
for c in "${configs[@]}"; do
  [ -e "$c/.terraform.lock.hcl" ] || created_locks+=("$c/.terraform.lock.hcl")
done
cleanup() {
  rm -rf "$tmp"
  for l in "${created_locks[@]}"; do rm -f "$root/$l"; done
}
trap cleanup EXIT

# step LABEL DIR CMD...: run CMD in DIR, print the command, its output when it fails (or when
# it is `validate` or `test`) and how long it took.
step() {
  local dir=$1
  shift
  local t0 rc out
  t0=$(now_ms)
  echo "+ (cd $dir && $*)"
  set +e
  out=$(cd "$root/$dir" && "$@" 2>&1)
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "$out"
    die "FAILED (exit $rc): (cd $dir && $*)"
  fi
  case "$2" in validate | test) echo "$out" | sed 's/^/    /' ;; esac
  echo "  ok, $(($(now_ms) - t0)) ms"
}

data_dir() { echo "$tmp/$(echo "$1" | tr / _)"; }

echo "== terraform fmt"
step . "$tf" fmt -check -recursive -diff -no-color infra

echo "== terraform init + validate (module and every example)"
for c in "${configs[@]}"; do
  export TF_DATA_DIR
  TF_DATA_DIR=$(data_dir "$c")
  step "$c" "$tf" init -backend=false -input=false -no-color -plugin-dir="$plugin_dir"
  step "$c" "$tf" validate -no-color
  # The module's data dir is kept for `terraform test`; the others (a copy of the provider,
  # ~700 MB each) go now.
  [ "$c" = infra ] || rm -rf "$TF_DATA_DIR"
done

echo "== terraform test (infra/tests, mock provider)"
TF_DATA_DIR=$(data_dir infra)
export TF_DATA_DIR
step infra "$tf" test -no-color

echo "== terraform checks passed: ${#configs[@]} configurations validated, tests passed, $(($(now_ms) - t_start)) ms in all"
