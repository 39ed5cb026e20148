# The module with its defaults (scenario a): what each role may do, concurrency, schedules,
# alarms, logging, environment, routes and outputs. Offline: mock provider, placeholder zips.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  artifacts_dir = "./tests/fixtures/artifacts"
}

run "defaults" {
  command = apply

  # --- functions -------------------------------------------------------------------------
  assert {
    condition     = keys(aws_lambda_function.function) == ["alert-tickets", "connections-api", "departing-response", "hr-departures", "state-sync"]
    error_message = "expected exactly the four functions"
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.function : f.function_name == "riskflow-${k}" && f.architectures == tolist(["x86_64"]) && f.filename == "./tests/fixtures/artifacts/${k}/bootstrap.zip"])
    error_message = "function names, architecture (x86_64 by default) or zip paths are wrong"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.reserved_concurrent_executions == -1])
    error_message = "every function must be unreserved (-1) by default: new accounts have a concurrency quota of 10"
  }

  assert {
    condition     = { for k, f in aws_lambda_function.function : k => [f.memory_size, f.timeout] } == { "connections-api" = [256, 30], "alert-tickets" = [256, 900], "hr-departures" = [256, 300], "departing-response" = [256, 600], "state-sync" = [256, 300] }
    error_message = "default memory sizes or timeouts changed"
  }

  # --- logging and environment -----------------------------------------------------------
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.logging_config[0].system_log_level == "INFO" && f.logging_config[0].application_log_level == "INFO" && f.logging_config[0].log_format == "JSON"])
    error_message = "logging_config must be JSON, application INFO, system INFO (WARN hides REPORT lines)"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.function : !contains(keys(f.environment[0].variables), "AWS_LAMBDA_LOG_LEVEL") && !contains(keys(f.environment[0].variables), "AWS_LAMBDA_LOG_FORMAT")])
    error_message = "AWS_LAMBDA_LOG_LEVEL/FORMAT are set by Lambda from logging_config, not in the environment"
  }

  assert {
    condition = alltrue([for f in aws_lambda_function.function : f.environment[0].variables == tomap({
      RISKFLOW_TABLE                = "riskflow-state"
      RISKFLOW_SECRET_PREFIX        = "riskflow/"
      RISKFLOW_DRY_RUN              = "false"
      RISKFLOW_ALLOW_PRIVATE_URLS   = "false"
      RISKFLOW_AUDIT_RETENTION_DAYS = "400"
      RISKFLOW_FUNCTION_NAMES       = "alert-tickets=riskflow-alert-tickets,hr-departures=riskflow-hr-departures,departing-response=riskflow-departing-response,state-sync=riskflow-state-sync"
      RISKFLOW_DEPLOYMENT           = "riskflow"
      RISKFLOW_KMS_KEY_ARN          = ""
    })])
    error_message = "the functions' environment is not the expected one (RISKFLOW_DEPLOYMENT, RISKFLOW_KMS_KEY_ARN, ...)"
  }

  # --- IAM: one policy per function, statements from function_access ---------------------
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["connections-api"].policy).Statement : s.Sid] == ["State", "StateInTransaction", "ReadSecrets", "WriteSecrets", "StartRuns", "Logs", "DeadLetters"]
    error_message = "connections-api's statements are not State, StateInTransaction, ReadSecrets, WriteSecrets, StartRuns, Logs, DeadLetters"
  }

  assert {
    condition     = alltrue([for f in ["alert-tickets", "hr-departures", "departing-response"] : [for s in jsondecode(aws_iam_role_policy.function[f].policy).Statement : s.Sid] == ["State", "StateInTransaction", "ReadSecrets", "Logs", "DeadLetters"]])
    error_message = "a flow function's statements are not State, StateInTransaction, ReadSecrets, Logs, DeadLetters"
  }

  assert {
    condition     = alltrue([for p in aws_iam_role_policy.function : alltrue([for s in jsondecode(p.policy).Statement : s.Effect == "Allow" && !contains(s.Resource, "*")])])
    error_message = "no '*' resource without VPC or X-Ray"
  }

  assert {
    condition     = alltrue([for p in aws_iam_role_policy.function : alltrue([for s in jsondecode(p.policy).Statement : s.Resource == [aws_dynamodb_table.state.arn] if startswith(s.Sid, "State")])])
    error_message = "table statements must be on the state table's ARN"
  }

  # DeleteItem is granted (to every function but state-sync, which deletes nothing), and only
  # inside TransactWriteItems.
  assert {
    condition = alltrue([for k, p in aws_iam_role_policy.function : length([for s in jsondecode(p.policy).Statement : s if contains(s.Action, "dynamodb:DeleteItem")]) == (k == "state-sync" ? 0 : 1) && alltrue([
      for s in jsondecode(p.policy).Statement : jsonencode(try(s.Condition, null)) == jsonencode({ "ForAnyValue:StringEquals" = { "dynamodb:EnclosingOperation" = ["TransactWriteItems"] } })
      if contains(s.Action, "dynamodb:DeleteItem")
    ])])
    error_message = "every role but state-sync needs dynamodb:DeleteItem exactly once, with the EnclosingOperation = TransactWriteItems condition"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.function["hr-departures"].policy).Statement[2].Resource == [for k in ["incydr", "workday", "adp", "bamboohr", "generic"] : "arn:aws:secretsmanager:us-east-1:123456789012:secret:riskflow/${k}-??????"]
    error_message = "hr-departures must read exactly the incydr, workday, adp, bamboohr and generic secrets"
  }

  # The internet-facing webhook function cannot read the ticketing or identity secrets.
  assert {
    condition     = length(regexall("secret:riskflow/(okta|jira|servicenow)", aws_iam_role_policy.function["hr-departures"].policy)) == 0
    error_message = "hr-departures' role can read the okta, jira or servicenow secret"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.function["departing-response"].policy).Statement[2].Resource == [for k in ["incydr", "okta", "jira"] : "arn:aws:secretsmanager:us-east-1:123456789012:secret:riskflow/${k}-??????"]
    error_message = "departing-response must read exactly the incydr, okta and jira secrets"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.function["alert-tickets"].policy).Statement[2].Resource == [for k in ["incydr", "jira", "servicenow"] : "arn:aws:secretsmanager:us-east-1:123456789012:secret:riskflow/${k}-??????"]
    error_message = "alert-tickets must read exactly the incydr, jira and servicenow secrets"
  }

  assert {
    condition     = length(regexall("secretsmanager:(Create|Put|Delete|Restore)", join("", [for f in ["alert-tickets", "hr-departures", "departing-response", "state-sync"] : aws_iam_role_policy.function[f].policy]))) == 0
    error_message = "only connections-api may write secrets"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.function["connections-api"].policy).Statement[4] == {
      Sid      = "StartRuns"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = ["arn:aws:lambda:us-east-1:123456789012:function:riskflow-alert-tickets", "arn:aws:lambda:us-east-1:123456789012:function:riskflow-hr-departures", "arn:aws:lambda:us-east-1:123456789012:function:riskflow-departing-response", "arn:aws:lambda:us-east-1:123456789012:function:riskflow-state-sync"]
    }
    error_message = "connections-api's StartRuns must be lambda:InvokeFunction on the four name-built flow function ARNs"
  }

  assert {
    condition     = alltrue([for k, p in aws_iam_role_policy.function : one([for s in jsondecode(p.policy).Statement : s.Resource if s.Sid == "Logs"]) == ["${aws_cloudwatch_log_group.function[k].arn}:*"] && one([for s in jsondecode(p.policy).Statement : s.Resource if s.Sid == "DeadLetters"]) == [aws_sqs_queue.function_dlq.arn]])
    error_message = "Logs must be on the function's own log group, DeadLetters on the functions' DLQ"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy).Statement == [{ Sid = "InvokeScheduled", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [for f in ["alert-tickets", "connections-api", "departing-response", "hr-departures", "state-sync"] : "arn:aws:lambda:us-east-1:123456789012:function:riskflow-${f}"] }, { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.schedule_dlq.arn] }]
    error_message = "the scheduler may only start the scheduled functions and send to its DLQ"
  }

  assert {
    condition     = jsondecode(aws_iam_role.scheduler.assume_role_policy).Statement[0].Condition == { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    error_message = "the scheduler role must only be assumable on behalf of this account"
  }

  # --- schedules -------------------------------------------------------------------------
  assert {
    condition     = { for k, s in aws_scheduler_schedule.job : k => s.schedule_expression } == { "alert-tickets" = "rate(5 minutes)", "departing-response" = "rate(5 minutes)", "hr-departures" = "rate(15 minutes)", "state-sync" = "rate(5 minutes)" }
    error_message = "the three job schedules with their default expressions"
  }

  assert {
    condition     = length(aws_scheduler_schedule.connection_retest) == 1 && aws_scheduler_schedule.connection_retest[0].schedule_expression == "rate(1 day)"
    error_message = "the daily connection re-test schedule"
  }

  # --- alarms ----------------------------------------------------------------------------
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.no_successful_run : (
      a.namespace == "riskflow" && a.metric_name == "runs_succeeded" && a.statistic == "Sum"
      && a.dimensions == tomap({ deployment = "riskflow", flow = k }) && a.comparison_operator == "LessThanThreshold"
      && a.threshold == 1 && a.treat_missing_data == "breaching"
    )]) && keys(aws_cloudwatch_metric_alarm.no_successful_run) == ["alert-tickets", "departing-response", "hr-departures", "state-sync"]
    error_message = "one no-successful-run alarm per job on runs_succeeded {deployment, flow}, Sum < 1, missing = breaching"
  }

  assert {
    condition     = { for k, a in aws_cloudwatch_metric_alarm.no_successful_run : k => a.period } == { "alert-tickets" = 1800, "departing-response" = 1800, "hr-departures" = 3600, "state-sync" = 1800 }
    error_message = "no-successful-run periods are the expected intervals"
  }

  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.runs_skipped : (
      a.namespace == "riskflow" && a.metric_name == "runs_skipped" && a.statistic == "Sum"
      && a.dimensions == tomap({ deployment = "riskflow", flow = k }) && a.evaluation_periods == 3 && a.datapoints_to_alarm == 3
      && a.threshold == 1 && a.comparison_operator == "GreaterThanOrEqualToThreshold" && a.treat_missing_data == "notBreaching"
    )]) && keys(aws_cloudwatch_metric_alarm.runs_skipped) == ["alert-tickets", "departing-response", "hr-departures", "state-sync"]
    error_message = "one runs-skipped alarm per job: runs_skipped {deployment, flow} >= 1 in 3 of 3 periods"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.lag.dimensions == tomap({ deployment = "riskflow", flow = "alert-tickets" }) && aws_cloudwatch_metric_alarm.cap_reached.dimensions == tomap({ deployment = "riskflow", flow = "departing-response" })
    error_message = "lag and cap_reached alarms need the deployment dimension"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.workday_cancellations_held.metric_name == "workday_cancellations_held" && aws_cloudwatch_metric_alarm.workday_cancellations_held.dimensions == tomap({ deployment = "riskflow", flow = "hr-departures" }) && aws_cloudwatch_metric_alarm.workday_cancellations_held.threshold == 0 && aws_cloudwatch_metric_alarm.workday_cancellations_held.treat_missing_data == "notBreaching"
    error_message = "an alarm when a Workday pull holds cancellations, on workday_cancellations_held {deployment, flow = hr-departures}"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.webhook_rejected.dimensions == tomap({ deployment = "riskflow" }) && aws_cloudwatch_metric_alarm.webhook_rejected.threshold == 5 && aws_cloudwatch_metric_alarm.webhook_rejected.period == 900 && aws_cloudwatch_metric_alarm.webhook_rejected.treat_missing_data == "notBreaching"
    error_message = "webhook_rejected alarm on the {deployment} rollup, > 5 in 15 minutes"
  }

  assert {
    condition     = { for k, a in aws_cloudwatch_metric_alarm.dead_letters : k => [a.namespace, a.metric_name, a.statistic, a.dimensions.QueueName] } == { functions = ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "riskflow-function-dlq"], schedules = ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "riskflow-schedule-dlq"] }
    error_message = "an alarm on each dead-letter queue"
  }

  assert {
    condition     = toset([for a in aws_cloudwatch_metric_alarm.schedule_failures : a.metric_name]) == toset(["TargetErrorCount", "InvocationDroppedCount"]) && alltrue([for a in aws_cloudwatch_metric_alarm.schedule_failures : a.namespace == "AWS/Scheduler" && a.dimensions == tomap({ ScheduleGroup = "riskflow" })])
    error_message = "Scheduler TargetErrorCount and InvocationDroppedCount alarms on the module's schedule group"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.api_5xx.namespace == "AWS/ApiGateway" && aws_cloudwatch_metric_alarm.api_5xx.metric_name == "5xx" && aws_cloudwatch_metric_alarm.api_5xx.dimensions == tomap({ ApiId = aws_apigatewayv2_api.this.id })
    error_message = "API 5xx alarm"
  }

  # 900 s is the longest timeout: throttled in 4 consecutive 5-minute periods, not 1.
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.throttles : a.period == 300 && a.evaluation_periods == 4 && a.datapoints_to_alarm == 4])
    error_message = "throttles alarms must outlast the longest function timeout (4 periods of 5 minutes)"
  }

  assert {
    condition     = length(output.resource_names.cloudwatch_metric_alarms) == 27
    error_message = "expected 27 alarms with the defaults (README's cost at rest counts them)"
  }

  # --- API -------------------------------------------------------------------------------
  assert {
    condition     = alltrue([for r in ["GET /items", "POST /items/{flow}/retry"] : aws_apigatewayv2_route.iam[r].authorization_type == "AWS_IAM"])
    error_message = "the items routes need IAM auth"
  }

  assert {
    condition     = alltrue([for r in ["GET /containments", "POST /containments/{id}/undo"] : aws_apigatewayv2_route.iam[r].authorization_type == "AWS_IAM"])
    error_message = "the containment routes need IAM auth"
  }

  assert {
    condition     = length([for s in aws_apigatewayv2_stage.default.route_settings : s if s.route_key == "GET /health" && s.throttling_rate_limit == 5 && s.throttling_burst_limit == 10]) == 1
    error_message = "GET /health needs its own throttle (5 rps, burst 10)"
  }

  assert {
    condition     = length([for s in aws_apigatewayv2_stage.default.route_settings : s if s.route_key == "POST /webhooks/hr/{source}" && s.throttling_rate_limit == 10 && s.throttling_burst_limit == 20]) == 1
    error_message = "the webhook route keeps its throttle"
  }

  assert {
    condition     = alltrue([for i in aws_apigatewayv2_integration.function : i.timeout_milliseconds == 29000])
    error_message = "integration timeout is 29 s"
  }

  # --- outputs ---------------------------------------------------------------------------
  assert {
    condition     = output.api_id == aws_apigatewayv2_api.this.id && output.api_execution_arn == aws_apigatewayv2_api.this.execution_arn && output.dynamodb_table_arn == aws_dynamodb_table.state.arn && output.dynamodb_table_name == "riskflow-state" && output.schedule_group_name == "riskflow"
    error_message = "api_id, api_execution_arn, dynamodb_table_arn/name, schedule_group_name outputs"
  }

  assert {
    condition     = keys(output.lambda_function_arns) == keys(aws_lambda_function.function) && output.lambda_function_names["alert-tickets"] == "riskflow-alert-tickets" && length(output.iam_role_arns) == 5 && keys(output.sqs_dead_letter_queue_arns) == ["functions", "schedules"]
    error_message = "lambda_function_arns/names, iam_role_arns, sqs_dead_letter_queue_arns outputs"
  }
}

# Every alarm notifies the topic on ALARM and on OK.
run "alarm_topic" {
  command = apply

  variables {
    alarm_sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:security-alarms"
  }

  assert {
    condition = alltrue([for a in concat(
      values(aws_cloudwatch_metric_alarm.errors), values(aws_cloudwatch_metric_alarm.throttles),
      values(aws_cloudwatch_metric_alarm.no_successful_run), values(aws_cloudwatch_metric_alarm.runs_skipped),
      values(aws_cloudwatch_metric_alarm.dead_letters), values(aws_cloudwatch_metric_alarm.schedule_failures),
      [aws_cloudwatch_metric_alarm.lag, aws_cloudwatch_metric_alarm.cap_reached, aws_cloudwatch_metric_alarm.webhook_rejected, aws_cloudwatch_metric_alarm.api_5xx],
      ) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:security-alarms"]) && a.ok_actions == toset(["arn:aws:sns:us-east-1:123456789012:security-alarms"])
    ])
    error_message = "every alarm needs alarm_actions and ok_actions = the SNS topic"
  }
}
