# Data sources of the module, mocked with realistic values so that the ARNs built from them
# (secrets, functions) look like real ones in the assertions. Loaded by
# `mock_provider "aws" { source = "./tests/mocks" }` in every *.tftest.hcl.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform-test"
    user_id    = "AIDAEXAMPLETERRAFORMTEST"
  }
}

mock_data "aws_region" {
  defaults = {
    name        = "us-east-1"
    description = "US East (N. Virginia)"
    endpoint    = "ec2.us-east-1.amazonaws.com"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

# Computed ARNs that the provider validates (a DLQ target, a role, a schedule target, a log
# destination) must look like ARNs; the mock's default random strings do not.
mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:mock-queue"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/mock-queue"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:role/mock-role"
    unique_id = "AROAEXAMPLEMOCKROLE"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn           = "arn:aws:lambda:us-east-1:123456789012:function:mock-function"
    qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:mock-function:$LATEST"
    invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mock-function/invocations"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock-log-group"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/mock-table"
  }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    id            = "a1b2c3d4e5"
    arn           = "arn:aws:apigateway:us-east-1::/apis/a1b2c3d4e5"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"
    api_endpoint  = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
  }
}

mock_resource "aws_scheduler_schedule_group" {
  defaults = {
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule-group/mock-group"
  }
}

mock_resource "aws_scheduler_schedule" {
  defaults = {
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/mock-group/mock-schedule"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mock-alarm"
  }
}
