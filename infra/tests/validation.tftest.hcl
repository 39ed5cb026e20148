# Inputs the module refuses (scenario f).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "./tests/fixtures/artifacts"
}

# WARN or ERROR would drop the INFO-level metric lines (EMF) and silence the alarms.
run "log_level_warn_refused" {
  command = plan

  variables {
    log_level = "WARN"
  }

  expect_failures = [var.log_level]
}

run "log_level_error_refused" {
  command = plan

  variables {
    log_level = "ERROR"
  }

  expect_failures = [var.log_level]
}

run "memory_size_bad_key_refused" {
  command = plan

  variables {
    memory_size = { "alert_tickets" = 512 }
  }

  expect_failures = [var.memory_size]
}

run "timeout_bad_key_refused" {
  command = plan

  variables {
    timeout = { "state_sync" = 60 }
  }

  expect_failures = [var.timeout]
}

run "reserved_concurrency_bad_key_refused" {
  command = plan

  variables {
    reserved_concurrency = { "hr_departures" = 2 }
  }

  expect_failures = [var.reserved_concurrency]
}

run "timeout_over_15_minutes_refused" {
  command = plan

  variables {
    timeout = { "alert-tickets" = 1800 }
  }

  expect_failures = [var.timeout]
}

run "debug_accepted" {
  command = plan

  variables {
    log_level = "DEBUG"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.logging_config[0].application_log_level == "DEBUG" && f.logging_config[0].system_log_level == "INFO"])
    error_message = "DEBUG is accepted and applied; Lambda's own lines stay at INFO"
  }
}
