terraform {
  # 1.7: terraform test with mock_provider (infra/tests/). Tested with 1.11.4.
  required_version = ">= 1.7.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Tested with 5.100.0; 6.x is untested (see README.md, "What is verified and how").
      version = ">= 5.100, < 6.0"
    }
  }
}
