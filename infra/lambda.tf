resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_sqs_queue" "function_dlq" {
  name                              = "${var.name}-function-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
  tags                              = local.tags
}

resource "aws_lambda_function" "function" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the customer owns; the release publishes SHA256SUMS instead.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (vpc_subnet_ids): the functions call SaaS APIs on the internet.
  #checkov:skip=CKV_AWS_115:Unreserved by default (opt in with reserved_concurrency): new AWS accounts have a concurrency quota of 10 and Lambda must keep part of the quota unreserved, so reservations (they added up to 17) fail there; the flow locks keep one run of a flow at a time.
  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = "${local.artifacts_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${local.artifacts_dir}/${each.key}/bootstrap.zip")
  memory_size      = local.memory_size[each.key]
  timeout          = local.timeout[each.key]
  kms_key_arn      = var.kms_key_arn

  # -1 (the default): unreserved.
  reserved_concurrent_executions = local.reserved_concurrency[each.key]

  # AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT are set by Lambda from logging_config.
  environment {
    variables = local.environment
  }

  # system_log_level INFO keeps Lambda's REPORT lines (Max Memory Used, Init Duration), which
  # WARN would hide. The metric lines (EMF) are INFO-level: log_level refuses WARN and ERROR.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = var.log_level
    system_log_level      = "INFO"
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.function_dlq.arn
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.function]
}

# Asynchronous invokes (POST /runs/{flow}) are not retried: the next scheduled tick is the retry.
resource "aws_lambda_function_event_invoke_config" "function" {
  for_each                     = local.functions
  function_name                = aws_lambda_function.function[each.key].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 3600
}
