# One role and one inline policy per function, allowing only the actions its code calls, on the
# table, on the connection secrets it needs (by kind) and on the functions it starts. Only
# connections-api may create, update or delete secrets, and only it starts other functions.
# Policies are jsonencode() of plain objects (no aws_iam_policy_document), so `terraform plan`
# shows them and infra/tests/ can read them.

locals {
  # What each function's role allows. shared/tests/infra_contract.rs checks this table against
  # the AWS calls each function's code makes (literals only, so that test can read it).
  #   table               DynamoDB actions on the state table
  #   table_in_transaction DynamoDB actions allowed only inside TransactWriteItems
  #                       (condition ForAnyValue:StringEquals dynamodb:EnclosingOperation = TransactWriteItems)
  #   secrets_read        connection kinds whose secret <name>/<kind> the function reads (GetSecretValue)
  #   secrets_write       connection kinds whose secret it creates, updates, deletes, restores
  #   invoke              functions it starts (lambda:InvokeFunction)
  function_access = {
    "connections-api" = {
      table                = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
      table_in_transaction = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
      secrets_read         = ["incydr", "jira", "servicenow", "okta", "workday", "adp", "bamboohr", "generic"]
      secrets_write        = ["incydr", "jira", "servicenow", "okta", "workday", "adp", "bamboohr", "generic"]
      invoke               = ["alert-tickets", "hr-departures", "departing-response", "state-sync"]
    }
    "alert-tickets" = {
      table                = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
      table_in_transaction = ["dynamodb:DeleteItem"]
      secrets_read         = ["incydr", "jira", "servicenow"]
      secrets_write        = []
      invoke               = []
    }
    "hr-departures" = {
      table                = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:Query"]
      table_in_transaction = ["dynamodb:DeleteItem"]
      secrets_read         = ["incydr", "workday", "adp", "bamboohr", "generic"]
      secrets_write        = []
      invoke               = []
    }
    "departing-response" = {
      table                = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:Query"]
      table_in_transaction = ["dynamodb:DeleteItem"]
      secrets_read         = ["incydr", "okta", "jira"]
      secrets_write        = []
      invoke               = []
    }
    "state-sync" = {
      table                = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
      table_in_transaction = []
      secrets_read         = ["incydr", "jira", "servicenow"]
      secrets_write        = []
      invoke               = []
    }
  }
  secret_read_actions  = ["secretsmanager:GetSecretValue"]
  secret_write_actions = ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret"]
}

locals {
  kms_actions = ["kms:Decrypt", "kms:GenerateDataKey"]

  # The statements of each function's policy, from function_access; a statement whose list is
  # empty is left out.
  function_statements = {
    for f, a in local.function_access : f => concat(
      length(a.table) == 0 ? [] : [{
        Sid      = "State"
        Effect   = "Allow"
        Action   = a.table
        Resource = [aws_dynamodb_table.state.arn]
      }],
      length(a.table_in_transaction) == 0 ? [] : [{
        Sid      = "StateInTransaction"
        Effect   = "Allow"
        Action   = a.table_in_transaction
        Resource = [aws_dynamodb_table.state.arn]
        Condition = {
          "ForAnyValue:StringEquals" = { "dynamodb:EnclosingOperation" = ["TransactWriteItems"] }
        }
      }],
      length(a.secrets_read) == 0 ? [] : [{
        Sid      = "ReadSecrets"
        Effect   = "Allow"
        Action   = local.secret_read_actions
        Resource = [for kind in a.secrets_read : local.secret_arn[kind]]
      }],
      length(a.secrets_write) == 0 ? [] : [{
        Sid      = "WriteSecrets"
        Effect   = "Allow"
        Action   = local.secret_write_actions
        Resource = [for kind in a.secrets_write : local.secret_arn[kind]]
      }],
      length(a.invoke) == 0 ? [] : [{
        Sid      = "StartRuns"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [for target in a.invoke : local.function_arn[target]]
      }],
      [{
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function[f].arn}:*"]
      }],
      [{
        Sid      = "DeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.function_dlq.arn]
      }],
      var.kms_key_arn == null ? [] : [{
        Sid      = "Kms"
        Effect   = "Allow"
        Action   = local.kms_actions
        Resource = [var.kms_key_arn]
      }],
      # ENI management has no resource-level permissions: the only "*" besides X-Ray.
      length(var.vpc_subnet_ids) == 0 ? [] : [{
        Sid    = "VpcNetworkInterfaces"
        Effect = "Allow"
        Action = [
          "ec2:CreateNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ]
        Resource = ["*"]
      }],
      # X-Ray segment upload has no resource-level permissions.
      var.tracing_mode != "Active" ? [] : [{
        Sid      = "XRay"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      }],
    )
  }

  # The scheduler's role: start the scheduled functions and nothing else, send to its
  # dead-letter queue, and use the KMS key its schedules and queue are encrypted with.
  scheduler_statements = concat(
    length(local.scheduled_functions) == 0 ? [] : [{
      Sid      = "InvokeScheduled"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [for f in local.scheduled_functions : local.function_arn[f]]
    }],
    [{
      Sid      = "DeadLetters"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.schedule_dlq.arn]
    }],
    var.kms_key_arn == null ? [] : [{
      Sid      = "Kms"
      Effect   = "Allow"
      Action   = local.kms_actions
      Resource = [var.kms_key_arn]
    }],
  )
}

resource "aws_iam_role" "function" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = local.function_statements[each.key] })
}

resource "aws_iam_role" "scheduler" {
  name = "${var.name}-scheduler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.scheduler_statements })
}
