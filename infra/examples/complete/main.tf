# A complete deployment: all four functions, schedules, the API and alarms to an SNS topic that
# e-mails someone. Build the zips first: `make package` at the repository root writes
# dist/x86_64/ (the module's default artifacts_dir when it is used from this repository).

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "alarm_email" {
  description = "E-mail address that receives the alarms (confirm the subscription e-mail AWS sends). Null: no subscription."
  type        = string
  default     = null
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The alarm topic's key. alias/aws/sns cannot be used: its key policy is managed by AWS and does
# not let CloudWatch alarms publish to a topic encrypted with it, so the notifications would be
# dropped. This customer-managed key lets cloudwatch.amazonaws.com use it.
resource "aws_kms_key" "alarms" {
  description         = "riskflow alarm topic"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account administers the key; IAM policies in the account decide who else uses it.
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch alarms publish to the encrypted topic.
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_sns_topic" "alarms" {
  name              = "riskflow-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "riskflow" {
  source = "../../"

  name                = "riskflow"
  alarm_sns_topic_arn = aws_sns_topic.alarms.arn

  # Every job, with its default interval; `enabled = false` switches one off (its schedule and
  # its alarms go).
  schedules = {
    alert_tickets      = { enabled = true, expression = "rate(5 minutes)" }
    departing_response = { enabled = true, expression = "rate(5 minutes)" }
    hr_departures      = { enabled = true, expression = "rate(15 minutes)" }
    connection_retest  = { enabled = true, expression = "rate(1 day)" }
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

output "alarm_topic_arn" {
  description = "The SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}
