output "api_url" {
  description = "Base URL of the connections API and the HR webhooks (POST <api_url>/webhooks/hr/{bamboohr,generic})."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "lambda_function_arns" {
  description = "ARN of each function, by name."
  value       = { for k, f in aws_lambda_function.function : k => f.arn }
}

output "lambda_function_names" {
  description = "Name of each function, by name."
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

output "secret_prefix" {
  description = "Prefix of the connection secrets (<prefix><kind>)."
  value       = local.secret_prefix
}

output "sqs_dead_letter_queue_urls" {
  description = "Dead-letter queues of the functions and of the schedules."
  value       = { functions = aws_sqs_queue.function_dlq.url, schedules = aws_sqs_queue.schedule_dlq.url }
}
