# A complete deployment: all four functions, schedules, the API and alarms to an SNS topic.
# Build the zips first (`make package` at the repository root writes dist/<arch>/).

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

resource "aws_sns_topic" "alarms" {
  name              = "riskflow-alarms"
  kms_master_key_id = "alias/aws/sns"
}

module "riskflow" {
  source = "../../"

  name                = "riskflow"
  artifacts_dir       = "${path.module}/../../../dist/arm64"
  architecture        = "arm64"
  alarm_sns_topic_arn = aws_sns_topic.alarms.arn

  schedules = {
    alert_tickets      = "rate(5 minutes)"
    departing_response = "rate(5 minutes)"
    hr_departures      = "rate(15 minutes)"
  }

  tags = {
    owner = "security-engineering"
  }
}

output "api_url" {
  description = "The connections API and HR webhook base URL."
  value       = module.riskflow.api_url
}

output "dynamodb_table_name" {
  description = "The state table."
  value       = module.riskflow.dynamodb_table_name
}
