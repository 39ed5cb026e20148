# Per-function settings (scenario d): a one-key map changes that function only; the others keep
# their defaults (before, a one-key map replaced the defaults and failed with "Invalid index").

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "./tests/fixtures/artifacts"
}

run "one_function_overridden" {
  command = apply

  variables {
    memory_size          = { "alert-tickets" = 512 }
    timeout              = { "alert-tickets" = 300 }
    reserved_concurrency = { "alert-tickets" = 1 }
    architecture         = "arm64"
  }

  assert {
    condition     = aws_lambda_function.function["alert-tickets"].memory_size == 512 && aws_lambda_function.function["alert-tickets"].timeout == 300 && aws_lambda_function.function["alert-tickets"].reserved_concurrent_executions == 1
    error_message = "the alert-tickets overrides did not apply"
  }

  assert {
    condition     = { for k, f in aws_lambda_function.function : k => [f.memory_size, f.timeout, f.reserved_concurrent_executions] if k != "alert-tickets" } == { "connections-api" = [256, 30, -1], "hr-departures" = [256, 300, -1], "departing-response" = [256, 600, -1], "state-sync" = [256, 300, -1] }
    error_message = "the other functions must keep their defaults (and stay unreserved)"
  }

  # The longest timeout is now departing-response's 600 s: 3 periods of 5 minutes.
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.throttles : a.evaluation_periods == 3 && a.datapoints_to_alarm == 3])
    error_message = "throttles alarms follow the longest timeout (ceil(600 / 300) + 1 = 3 periods)"
  }

  # With no artifacts_dir the zips would be taken from dist/<architecture>; here they are given.
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.architectures == tolist(["arm64"])])
    error_message = "architecture must reach every function"
  }
}
