# Two deployments in one account (scenario e): "riskflow" and "riskflow-staging" share no
# resource name, and each one's roles, secrets and alarms stay under its own name.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "./tests/fixtures/artifacts"
}

run "side_by_side" {
  command = apply

  module {
    source = "./tests/fixtures/two_deployments"
  }

  assert {
    condition     = keys(output.production) == keys(output.staging) && alltrue([for kind, names in output.production : length(names) > 0 && length(names) == length(output.staging[kind])])
    error_message = "both deployments must create the same kinds and numbers of resources"
  }

  assert {
    condition     = alltrue([for kind, names in output.production : length(setintersection(toset(names), toset(output.staging[kind]))) == 0])
    error_message = "two deployments share a resource name (function, role, table, queue, log group, schedule group, API or alarm)"
  }

  assert {
    condition     = length(output.production.cloudwatch_metric_alarms) == 27 && length(output.production.cloudwatch_log_groups) == 6 && length(output.production.iam_roles) == 6 && length(output.production.scheduler_schedules) == 5
    error_message = "the name lists must cover every alarm, log group, role and schedule"
  }

  assert {
    condition     = output.secret_prefixes == ["riskflow/", "riskflow-staging/"]
    error_message = "each deployment has its own secret prefix"
  }
}

# The staging deployment alone: its secrets, metrics and functions are its own.
run "staging" {
  command = apply

  variables {
    name = "riskflow-staging"
  }

  assert {
    condition = alltrue(flatten([for p in aws_iam_role_policy.function : [
      for s in jsondecode(p.policy).Statement : [for r in s.Resource : startswith(r, "arn:aws:secretsmanager:us-east-1:123456789012:secret:riskflow-staging/") && endswith(r, "-??????")]
      if startswith(s.Sid, "ReadSecrets") || startswith(s.Sid, "WriteSecrets")
    ]]))
    error_message = "every secret ARN in the staging roles must be under riskflow-staging/"
  }

  assert {
    condition     = length(regexall("secret:riskflow/", join("", [for p in aws_iam_role_policy.function : p.policy]))) == 0
    error_message = "a staging role reaches the production secrets"
  }

  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.no_successful_run), values(aws_cloudwatch_metric_alarm.runs_skipped), [aws_cloudwatch_metric_alarm.lag, aws_cloudwatch_metric_alarm.cap_reached, aws_cloudwatch_metric_alarm.webhook_rejected, aws_cloudwatch_metric_alarm.workday_cancellations_held]) : a.dimensions["deployment"] == "riskflow-staging"])
    error_message = "staging's alarms must watch staging's metrics (deployment dimension)"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.environment[0].variables.RISKFLOW_DEPLOYMENT == "riskflow-staging" && f.environment[0].variables.RISKFLOW_SECRET_PREFIX == "riskflow-staging/" && f.environment[0].variables.RISKFLOW_TABLE == "riskflow-staging-state"])
    error_message = "staging's functions must use staging's table, secrets and metric dimension"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.function["connections-api"].policy).Statement[4].Resource == [for f in ["alert-tickets", "hr-departures", "departing-response", "state-sync"] : "arn:aws:lambda:us-east-1:123456789012:function:riskflow-staging-${f}"]
    error_message = "staging's connections-api may only start staging's functions"
  }
}
