# riskflow with one customer-managed KMS key for everything it stores: the state table, the
# connection secrets riskflow creates (<name>/<kind>), the log groups, the dead-letter queues,
# the schedules, the functions' environment, and the alarm topic. The key policy below is the
# documentation of who needs the key and why. The function roles and the scheduler role get
# kms:Decrypt and kms:GenerateDataKey on it through IAM (the module's policies), which the
# first statement allows.
#
# Build the zips first: `make package` at the repository root writes dist/x86_64/.

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the deployment (the module's name): prefixes its resources, log groups and secrets."
  type        = string
  default     = "riskflow"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

resource "aws_kms_key" "riskflow" {
  description         = "riskflow ${var.name}: table, connection secrets, logs, queues, schedules, function environment, alarm topic"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Whoever runs Terraform, and the roles the module creates, use the key through IAM:
        # the account administers it and its IAM policies grant its use. Creating the table,
        # the functions (environment) and the schedules with the key happens as the deploying
        # principal; the function roles (table items, secrets they create and read, DLQ
        # messages, environment) and the scheduler role (encrypted schedules, its DLQ) use it
        # at run time with kms:Decrypt and kms:GenerateDataKey from their policies.
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch Logs encrypts the functions' log groups (/aws/lambda/<name>-*) and the API
        # access log (/aws/apigateway/<name>). Logs is a service principal, not an IAM role, so
        # the key policy itself must allow it, limited to those log groups.
        Sid       = "CloudWatchLogsEncryptsRiskflowLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = [
              "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-*",
              "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${var.name}",
            ]
          }
        }
      },
      {
        # CloudWatch alarms publish to the alarm topic, which is encrypted with this key.
        Sid       = "CloudWatchAlarmsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "riskflow" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.riskflow.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.riskflow.arn
}

module "riskflow" {
  source = "../../"

  name                = var.name
  kms_key_arn         = aws_kms_key.riskflow.arn
  alarm_sns_topic_arn = aws_sns_topic.alarms.arn
}

output "api_url" {
  description = "The connections API and HR webhook base URL."
  value       = module.riskflow.api_url
}

output "kms_key_arn" {
  description = "The key riskflow's data is encrypted with."
  value       = aws_kms_key.riskflow.arn
}
