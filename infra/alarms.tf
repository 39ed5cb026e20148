# Alarms, each one something that can actually happen and that an operator can act on (see
# docs/runbook.md, one section per alarm):
# - riskflow's own metrics (namespace "riskflow", every one with the `deployment` dimension =
#   var.name, so two deployments in one account never mask each other): no successful run of a
#   scheduled flow within its interval, runs skipped because a system is not connected, lag,
#   a containment cap reached, webhook deliveries rejected;
# - AWS metrics: function errors and sustained throttling, messages in a dead-letter queue,
#   schedules that could not start their function, 5xx from the API.
# A job switched off (schedules.<job>.enabled = false) has no schedule and none of its alarms.

locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  expected_minutes = {
    "alert-tickets"      = var.expected_run_interval_minutes.alert_tickets
    "departing-response" = var.expected_run_interval_minutes.departing_response
    "hr-departures"      = var.expected_run_interval_minutes.hr_departures
    "state-sync"         = var.expected_run_interval_minutes.state_sync
  }
  # The scheduled flows that are switched on, with their expected interval (minutes).
  alarmed_jobs = { for f, m in local.expected_minutes : f => m if contains(keys(local.enabled_jobs), f) }

  # A run that outlasts the schedule interval makes the next invoke wait (throttled and retried
  # by Lambda when concurrency is reserved or the account is at its quota): only throttling
  # that lasts longer than the longest function timeout means something is wrong.
  throttle_periods = ceil(max(values(local.timeout)...) / 300) + 1

  dead_letter_queues = {
    functions = aws_sqs_queue.function_dlq.name
    schedules = aws_sqs_queue.schedule_dlq.name
  }

  scheduler_failures = {
    "target-errors"       = "TargetErrorCount"
    "invocations-dropped" = "InvocationDroppedCount"
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = local.functions
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "riskflow ${each.key} reported errors (a failed invocation: see its log group and docs/runbook.md)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each            = local.functions
  alarm_name          = "${var.name}-${each.key}-throttles"
  alarm_description   = "riskflow ${each.key} was throttled in ${local.throttle_periods} consecutive 5-minute periods, longer than any run lasts: the account's concurrency is exhausted or the function's reserved concurrency is too low."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = local.throttle_periods
  datapoints_to_alarm = local.throttle_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# runs_succeeded: 1 per scheduled or manual run that ended succeeded or partial (never for
# webhook batches, skipped, failed or deferred runs: a run whose needed call kept failing
# transiently emits runs_deferred). No data within the interval is breaching.
resource "aws_cloudwatch_metric_alarm" "no_successful_run" {
  for_each            = local.alarmed_jobs
  alarm_name          = "${var.name}-${each.key}-no-successful-run"
  alarm_description   = "riskflow ${each.key} has not completed a run (succeeded or partial) within ${each.value} minutes: runs failing, skipped or not started."
  namespace           = "riskflow"
  metric_name         = "runs_succeeded"
  dimensions          = { deployment = var.name, flow = each.key }
  statistic           = "Sum"
  period              = each.value * 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# runs_skipped: 1 per run skipped because a system it needs is not connected or failed its
# daily re-test (a run that found another run holding the lock is runs_overlapped instead).
resource "aws_cloudwatch_metric_alarm" "runs_skipped" {
  for_each            = local.alarmed_jobs
  alarm_name          = "${var.name}-${each.key}-runs-skipped"
  alarm_description   = "riskflow ${each.key} skipped runs in 3 consecutive ${each.value}-minute periods: a system it needs is not connected or failed its re-test (riskflow connections list)."
  namespace           = "riskflow"
  metric_name         = "runs_skipped"
  dimensions          = { deployment = var.name, flow = each.key }
  statistic           = "Sum"
  period              = each.value * 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name          = "${var.name}-alert-tickets-lag"
  alarm_description   = "The oldest unprocessed Incydr session is older than ${var.lag_alarm_seconds} s."
  namespace           = "riskflow"
  metric_name         = "lag_seconds"
  dimensions          = { deployment = var.name, flow = "alert-tickets" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.lag_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "cap_reached" {
  alarm_name          = "${var.name}-containment-cap-reached"
  alarm_description   = "departing-response stopped adding users to the Okta group: a cap was reached."
  namespace           = "riskflow"
  metric_name         = "cap_reached"
  dimensions          = { deployment = var.name, flow = "departing-response" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# A Workday pull that may have left people out (an unreadable row, an answer without
# Report_Entry, a drop past max_shrink_percent) cancels nobody until the next pull confirms;
# one that keeps happening would hold cancellations for good.
resource "aws_cloudwatch_metric_alarm" "workday_cancellations_held" {
  alarm_name          = "${var.name}-workday-cancellations-held"
  alarm_description   = "hr-departures did not read people missing from a Workday pull as cancelled (the run record says why): see docs/runbook.md."
  namespace           = "riskflow"
  metric_name         = "workday_cancellations_held"
  dimensions          = { deployment = var.name, flow = "hr-departures" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# webhook_rejected is emitted with the dimension sets {deployment} (watched here) and
# {deployment, source, reason} (what the operator reads).
resource "aws_cloudwatch_metric_alarm" "webhook_rejected" {
  alarm_name          = "${var.name}-webhook-rejected"
  alarm_description   = "More than ${var.webhook_rejected_alarm_threshold} HR webhook deliveries were rejected in 15 minutes. Look at webhook_rejected by its source and reason dimensions (namespace riskflow, deployment ${var.name}): e.g. bad_signature from a vendor still signing with an old key."
  namespace           = "riskflow"
  metric_name         = "webhook_rejected"
  dimensions          = { deployment = var.name }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.webhook_rejected_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = local.dead_letter_queues
  alarm_name          = "${var.name}-${each.key}-dead-letters"
  alarm_description   = "The ${each.key} dead-letter queue ${each.value} holds messages: invocations that never ran (aws sqs receive-message, docs/runbook.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "schedule_failures" {
  for_each            = local.scheduler_failures
  alarm_name          = "${var.name}-schedule-${each.key}"
  alarm_description   = "EventBridge Scheduler could not start a function of schedule group ${aws_scheduler_schedule_group.this.name} (${each.value})."
  namespace           = "AWS/Scheduler"
  metric_name         = each.value
  dimensions          = { ScheduleGroup = aws_scheduler_schedule_group.this.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The riskflow API answered 5xx (a function error, timeout or throttle behind the API)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
