# EventBridge Scheduler: one schedule per scheduled job and a daily re-test of every connection;
# `schedules.<job>.enabled = false` removes a job's schedule (and its alarms, alarms.tf). Rate
# schedules are not retried: the next tick is the retry. Undeliverable invocations go to a
# dead-letter queue.

resource "aws_sqs_queue" "schedule_dlq" {
  name                              = "${var.name}-schedule-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
  tags                              = local.tags
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name
  tags = local.tags
}

resource "aws_scheduler_schedule" "job" {
  for_each = local.enabled_jobs

  name                         = "${var.name}-${each.key}"
  group_name                   = aws_scheduler_schedule_group.this.name
  schedule_expression          = each.value
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.function[each.key].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "riskflow.schedule", job = each.key })

    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 300
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }
  }
}

resource "aws_scheduler_schedule" "connection_retest" {
  count = var.schedules.connection_retest.enabled ? 1 : 0

  name                         = "${var.name}-connection-retest"
  group_name                   = aws_scheduler_schedule_group.this.name
  schedule_expression          = var.schedules.connection_retest.expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.function["connections-api"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "riskflow.schedule", job = "connection-retest" })

    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 300
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }
  }
}
