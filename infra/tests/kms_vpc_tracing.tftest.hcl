# A customer-managed KMS key, VPC placement and active tracing (scenario b): every store uses
# the key, every role that touches encrypted data may use it, and the only "*" resources are
# the VPC network interfaces and X-Ray.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir          = "./tests/fixtures/artifacts"
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  vpc_subnet_ids         = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  vpc_security_group_ids = ["sg-0a1b2c3d4e5f60001"]
  tracing_mode           = "Active"
}

run "kms_vpc_tracing" {
  command = apply

  assert {
    condition = alltrue([for p in aws_iam_role_policy.function : one([for s in jsondecode(p.policy).Statement : s if s.Sid == "Kms"]) == {
      Sid      = "Kms"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    }])
    error_message = "every function role needs kms:Decrypt and kms:GenerateDataKey on the key"
  }

  assert {
    condition     = alltrue([for p in aws_iam_role_policy.function : [for s in jsondecode(p.policy).Statement : s.Sid if contains(s.Resource, "*")] == ["VpcNetworkInterfaces", "XRay"]])
    error_message = "every function role needs VpcNetworkInterfaces and XRay, the only statements on '*'"
  }

  assert {
    condition     = alltrue([for p in aws_iam_role_policy.function : contains(one([for s in jsondecode(p.policy).Statement : s.Action if s.Sid == "VpcNetworkInterfaces"]), "ec2:CreateNetworkInterface") && one([for s in jsondecode(p.policy).Statement : s.Action if s.Sid == "XRay"]) == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]])
    error_message = "VpcNetworkInterfaces and XRay statements have the wrong actions"
  }

  assert {
    condition     = aws_dynamodb_table.state.server_side_encryption[0].enabled && aws_dynamodb_table.state.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "the table must be encrypted with the key"
  }

  assert {
    condition     = alltrue([for g in concat(values(aws_cloudwatch_log_group.function), [aws_cloudwatch_log_group.api_access]) : g.kms_key_id == var.kms_key_arn])
    error_message = "every log group must be encrypted with the key"
  }

  assert {
    condition     = alltrue([for q in [aws_sqs_queue.function_dlq, aws_sqs_queue.schedule_dlq] : q.kms_master_key_id == var.kms_key_arn && q.sqs_managed_sse_enabled != true])
    error_message = "both dead-letter queues must be encrypted with the key"
  }

  assert {
    condition     = length(aws_scheduler_schedule.job) == 4 && alltrue([for s in concat(values(aws_scheduler_schedule.job), aws_scheduler_schedule.connection_retest) : s.kms_key_arn == var.kms_key_arn])
    error_message = "every schedule must be encrypted with the key"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.kms_key_arn == var.kms_key_arn && f.environment[0].variables.RISKFLOW_KMS_KEY_ARN == var.kms_key_arn])
    error_message = "every function's environment is encrypted with the key, and RISKFLOW_KMS_KEY_ARN tells the code to create secrets with it"
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.scheduler.policy).Statement : s if s.Sid == "Kms"]) == {
      Sid      = "Kms"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    }
    error_message = "the scheduler role must be able to use the key (encrypted schedules and DLQ)"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.vpc_config[0].subnet_ids == toset(var.vpc_subnet_ids) && f.vpc_config[0].security_group_ids == toset(var.vpc_security_group_ids) && f.tracing_config[0].mode == "Active"])
    error_message = "every function must run in the VPC with active tracing"
  }
}

# Without a key nothing refers to one: AWS-owned / AWS-managed encryption, no Kms statement.
run "no_kms" {
  command = apply

  variables {
    kms_key_arn    = null
    vpc_subnet_ids = []
    tracing_mode   = "PassThrough"
  }

  assert {
    condition     = length(regexall("kms:|\"\\*\"", join("", concat([aws_iam_role_policy.scheduler.policy], [for p in aws_iam_role_policy.function : p.policy])))) == 0
    error_message = "without a key, VPC or tracing no policy mentions KMS or '*'"
  }

  assert {
    condition     = aws_sqs_queue.function_dlq.sqs_managed_sse_enabled && aws_sqs_queue.schedule_dlq.sqs_managed_sse_enabled && alltrue([for f in aws_lambda_function.function : f.environment[0].variables.RISKFLOW_KMS_KEY_ARN == "" && length(f.vpc_config) == 0])
    error_message = "without a key the queues use SQS-managed encryption and RISKFLOW_KMS_KEY_ARN is empty"
  }
}
