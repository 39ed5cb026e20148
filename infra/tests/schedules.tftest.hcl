# Switching jobs off (scenario c): schedules.<job>.enabled = false removes that job's schedule,
# its "no successful run" and "runs skipped" alarms and the scheduler's right to start it;
# every other job keeps its schedule and alarms.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "./tests/fixtures/artifacts"
}

run "alert_tickets_off" {
  command = apply

  variables {
    schedules = { alert_tickets = { enabled = false } }
  }

  assert {
    condition     = keys(aws_scheduler_schedule.job) == ["departing-response", "hr-departures", "state-sync"] && length(aws_scheduler_schedule.connection_retest) == 1
    error_message = "alert-tickets' schedule must be gone, the others kept"
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.no_successful_run) == ["departing-response", "hr-departures", "state-sync"] && keys(aws_cloudwatch_metric_alarm.runs_skipped) == ["departing-response", "hr-departures", "state-sync"]
    error_message = "alert-tickets' no-successful-run and runs-skipped alarms must be gone, the others kept"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy).Statement[0].Resource == [for f in ["connections-api", "departing-response", "hr-departures", "state-sync"] : "arn:aws:lambda:us-east-1:123456789012:function:riskflow-${f}"]
    error_message = "the scheduler may no longer start alert-tickets"
  }
}

run "departing_response_off" {
  command = apply

  variables {
    schedules = { departing_response = { enabled = false } }
  }

  assert {
    condition     = keys(aws_scheduler_schedule.job) == ["alert-tickets", "hr-departures", "state-sync"] && length(aws_scheduler_schedule.connection_retest) == 1
    error_message = "departing-response's schedule must be gone, the others kept"
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.no_successful_run) == ["alert-tickets", "hr-departures", "state-sync"] && keys(aws_cloudwatch_metric_alarm.runs_skipped) == ["alert-tickets", "hr-departures", "state-sync"]
    error_message = "departing-response's alarms must be gone, the others kept"
  }
}

run "hr_departures_off" {
  command = apply

  variables {
    schedules = { hr_departures = { enabled = false } }
  }

  assert {
    condition     = keys(aws_scheduler_schedule.job) == ["alert-tickets", "departing-response", "state-sync"] && length(aws_scheduler_schedule.connection_retest) == 1
    error_message = "hr-departures' schedule must be gone, the others kept"
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.no_successful_run) == ["alert-tickets", "departing-response", "state-sync"] && keys(aws_cloudwatch_metric_alarm.runs_skipped) == ["alert-tickets", "departing-response", "state-sync"]
    error_message = "hr-departures' alarms must be gone, the others kept"
  }

  # Webhooks still reach hr-departures: only its schedule is off.
  assert {
    condition     = contains(keys(aws_apigatewayv2_integration.function), "hr-departures") && length(aws_lambda_function.function) == 5
    error_message = "switching the schedule off must not remove the function or its webhook route"
  }
}

run "connection_retest_off" {
  command = apply

  variables {
    schedules = { connection_retest = { enabled = false } }
  }

  assert {
    condition     = length(aws_scheduler_schedule.connection_retest) == 0 && keys(aws_scheduler_schedule.job) == ["alert-tickets", "departing-response", "hr-departures", "state-sync"]
    error_message = "the re-test schedule must be gone, the job schedules kept"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.no_successful_run) == 4 && length(aws_cloudwatch_metric_alarm.runs_skipped) == 4
    error_message = "the jobs' alarms must be kept"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy).Statement[0].Resource == [for f in ["alert-tickets", "departing-response", "hr-departures", "state-sync"] : "arn:aws:lambda:us-east-1:123456789012:function:riskflow-${f}"]
    error_message = "the scheduler may no longer start connections-api"
  }
}

run "all_off" {
  command = apply

  variables {
    schedules = {
      alert_tickets      = { enabled = false }
      departing_response = { enabled = false }
      hr_departures      = { enabled = false }
      state_sync         = { enabled = false }
      connection_retest  = { enabled = false }
    }
  }

  assert {
    condition     = length(aws_scheduler_schedule.job) + length(aws_scheduler_schedule.connection_retest) + length(aws_cloudwatch_metric_alarm.no_successful_run) + length(aws_cloudwatch_metric_alarm.runs_skipped) == 0
    error_message = "no schedule and no run alarm when every job is off"
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.scheduler.policy).Statement : s.Sid] == ["DeadLetters"]
    error_message = "with nothing scheduled the scheduler may start no function"
  }
}

# Changing one expression keeps that job on and leaves the others at their defaults.
run "one_expression_changed" {
  command = apply

  variables {
    schedules = { hr_departures = { expression = "cron(0/30 * * * ? *)" } }
  }

  assert {
    condition     = { for k, s in aws_scheduler_schedule.job : k => s.schedule_expression } == { "alert-tickets" = "rate(5 minutes)", "departing-response" = "rate(5 minutes)", "hr-departures" = "cron(0/30 * * * ? *)", "state-sync" = "rate(5 minutes)" } && aws_scheduler_schedule.connection_retest[0].schedule_expression == "rate(1 day)"
    error_message = "only hr-departures' expression must change"
  }
}
