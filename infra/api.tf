# API Gateway HTTP API per DESIGN.md's route table: IAM (SigV4) on the connections, runs, items,
# containments and audit routes; the HR webhook route is public (its function verifies signatures) and
# throttled; GET /health is public, returns no data and has its own low throttle.

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "riskflow connections API and HR webhooks"
  tags          = local.tags
}

resource "aws_apigatewayv2_integration" "function" {
  for_each               = toset(["connections-api", "hr-departures"])
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.function[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

locals {
  iam_routes = [
    "GET /connections",
    "GET /connections/{kind}",
    "PUT /connections/{kind}",
    "DELETE /connections/{kind}",
    "POST /connections/{kind}/test",
    "GET /runs",
    "POST /runs/{flow}",
    "GET /items",
    "POST /items/{flow}/retry",
    "GET /containments",
    "POST /containments/{id}/undo",
    "GET /audit",
  ]
}

resource "aws_apigatewayv2_route" "iam" {
  for_each           = toset(local.iam_routes)
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.function["connections-api"].id}"
}

resource "aws_apigatewayv2_route" "health" {
  #checkov:skip=CKV_AWS_309:GET /health is public by design and returns no data.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /health"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.function["connections-api"].id}"
}

resource "aws_apigatewayv2_route" "webhook" {
  #checkov:skip=CKV_AWS_309:HR systems cannot sign SigV4; every delivery's HMAC signature is verified in the function.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "POST /webhooks/hr/{source}"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.function["hr-departures"].id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = 20
    throttling_burst_limit = 40
  }

  route_settings {
    route_key              = aws_apigatewayv2_route.webhook.route_key
    throttling_rate_limit  = var.webhook_throttle.rate_limit
    throttling_burst_limit = var.webhook_throttle.burst_limit
  }

  route_settings {
    route_key              = aws_apigatewayv2_route.health.route_key
    throttling_rate_limit  = var.health_throttle.rate_limit
    throttling_burst_limit = var.health_throttle.burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      caller         = "$context.identity.userArn"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latency        = "$context.integrationLatency"
    })
  }

  tags = local.tags
}

resource "aws_lambda_permission" "api" {
  for_each      = toset(["connections-api", "hr-departures"])
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
