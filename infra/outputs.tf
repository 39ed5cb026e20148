output "api_url" {
  description = "Base URL of the connections API and the HR webhooks (POST <api_url>/webhooks/hr/{bamboohr,generic})."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_id" {
  description = "ID of the HTTP API (the ApiId dimension of its CloudWatch metrics)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API: grant execute-api:Invoke on <api_execution_arn>/*/*/connections* etc. to the people and roles that use the CLI against this deployment."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "lambda_function_arns" {
  description = "ARN of each function, by function."
  value       = { for k, f in aws_lambda_function.function : k => f.arn }
}

output "lambda_function_names" {
  description = "Name of each function, by function."
  value       = { for k, f in aws_lambda_function.function : k => f.function_name }
}

output "iam_role_arns" {
  description = "ARN of each function's role, by function."
  value       = { for k, r in aws_iam_role.function : k => r.arn }
}

output "dynamodb_table_name" {
  description = "The state table."
  value       = aws_dynamodb_table.state.name
}

output "dynamodb_table_arn" {
  description = "ARN of the state table."
  value       = aws_dynamodb_table.state.arn
}

output "secret_prefix" {
  description = "Prefix of the connection secrets (<prefix><kind>), which riskflow creates at run time (not Terraform)."
  value       = local.secret_prefix
}

output "schedule_group_name" {
  description = "EventBridge Scheduler group holding this deployment's schedules."
  value       = aws_scheduler_schedule_group.this.name
}

output "sqs_dead_letter_queue_urls" {
  description = "Dead-letter queues of the functions and of the schedules (URLs)."
  value       = { functions = aws_sqs_queue.function_dlq.url, schedules = aws_sqs_queue.schedule_dlq.url }
}

output "sqs_dead_letter_queue_arns" {
  description = "Dead-letter queues of the functions and of the schedules (ARNs)."
  value       = { functions = aws_sqs_queue.function_dlq.arn, schedules = aws_sqs_queue.schedule_dlq.arn }
}

output "resource_names" {
  description = "The name of everything this deployment creates, by kind: what must not collide with another deployment in the same account, and what to look for in the console."
  value = {
    lambda_functions         = sort([for f in aws_lambda_function.function : f.function_name])
    iam_roles                = sort(concat([for r in aws_iam_role.function : r.name], [aws_iam_role.scheduler.name]))
    iam_role_policies        = sort(concat([for p in aws_iam_role_policy.function : p.name], [aws_iam_role_policy.scheduler.name]))
    dynamodb_tables          = [aws_dynamodb_table.state.name]
    sqs_queues               = sort([aws_sqs_queue.function_dlq.name, aws_sqs_queue.schedule_dlq.name])
    cloudwatch_log_groups    = sort(concat([for g in aws_cloudwatch_log_group.function : g.name], [aws_cloudwatch_log_group.api_access.name]))
    scheduler_schedule_group = [aws_scheduler_schedule_group.this.name]
    scheduler_schedules      = sort(concat([for s in aws_scheduler_schedule.job : s.name], [for s in aws_scheduler_schedule.connection_retest : s.name]))
    apigatewayv2_apis        = [aws_apigatewayv2_api.this.name]
    cloudwatch_metric_alarms = sort(concat(
      [for a in aws_cloudwatch_metric_alarm.errors : a.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.throttles : a.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.no_successful_run : a.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.runs_skipped : a.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.dead_letters : a.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.schedule_failures : a.alarm_name],
      [aws_cloudwatch_metric_alarm.lag.alarm_name, aws_cloudwatch_metric_alarm.cap_reached.alarm_name],
      [aws_cloudwatch_metric_alarm.workday_cancellations_held.alarm_name],
      [aws_cloudwatch_metric_alarm.webhook_rejected.alarm_name, aws_cloudwatch_metric_alarm.api_5xx.alarm_name],
    ))
  }
}
