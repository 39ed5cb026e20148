# Alarms: function errors and throttles, lag, a containment cap reached, and "no successful run
# of a flow within its expected interval" (a disconnected or silently failing flow is not quiet).

locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  expected_minutes = {
    "alert-tickets"      = var.expected_run_interval_minutes.alert_tickets
    "departing-response" = var.expected_run_interval_minutes.departing_response
    "hr-departures"      = var.expected_run_interval_minutes.hr_departures
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = local.functions
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "riskflow ${each.key} reported errors."
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
  alarm_description   = "riskflow ${each.key} was throttled."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name          = "${var.name}-alert-tickets-lag"
  alarm_description   = "The oldest unprocessed Incydr session is older than ${var.lag_alarm_seconds} s."
  namespace           = "riskflow"
  metric_name         = "lag_seconds"
  dimensions          = { flow = "alert-tickets" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.lag_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "cap_reached" {
  alarm_name          = "${var.name}-containment-cap-reached"
  alarm_description   = "departing-response stopped adding users to the Okta group: a cap was reached."
  namespace           = "riskflow"
  metric_name         = "cap_reached"
  dimensions          = { flow = "departing-response" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}

# Each run emits duration_ms; a flow that did not run (or always fails before emitting) leaves
# the metric missing, which this alarm treats as breaching.
resource "aws_cloudwatch_metric_alarm" "no_successful_run" {
  for_each            = local.expected_minutes
  alarm_name          = "${var.name}-${each.key}-no-successful-run"
  alarm_description   = "riskflow ${each.key} has not completed a run within ${each.value} minutes."
  namespace           = "riskflow"
  metric_name         = "duration_ms"
  dimensions          = { flow = each.key }
  statistic           = "SampleCount"
  period              = each.value * 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  tags                = local.tags
}
