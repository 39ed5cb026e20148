# riskflow: automated insider-risk integrations for Code42 Incydr.
# One region, one table, five functions (see DESIGN.md's route table).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  functions = toset(["connections-api", "alert-tickets", "hr-departures", "departing-response", "state-sync"])

  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # Function ARNs built from names, as RISKFLOW_FUNCTION_NAMES builds the names: policies that
  # let one function (or the scheduler) start another need no reference to the functions
  # themselves, so the roles never depend on the functions they allow to be invoked.
  function_arn = { for f in local.functions : f => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}-${f}" }

  artifacts_dir = var.artifacts_dir == null ? "${path.module}/../dist/${var.architecture}" : var.artifacts_dir

  # Per-function settings: the variables are merged over these, one key per function changed.
  default_memory_size = {
    "connections-api"    = 256
    "alert-tickets"      = 256
    "hr-departures"      = 256
    "departing-response" = 256
    "state-sync"         = 256
  }
  default_timeout = {
    "connections-api"    = 30
    "alert-tickets"      = 900
    "hr-departures"      = 300
    "departing-response" = 600
    "state-sync"         = 300
  }
  # -1: unreserved (the account's unreserved pool). The flow locks keep one run at a time.
  default_reserved_concurrency = {
    "connections-api"    = -1
    "alert-tickets"      = -1
    "hr-departures"      = -1
    "departing-response" = -1
    "state-sync"         = -1
  }

  memory_size          = merge(local.default_memory_size, var.memory_size)
  timeout              = merge(local.default_timeout, var.timeout)
  reserved_concurrency = merge(local.default_reserved_concurrency, var.reserved_concurrency)

  # The scheduled flows (function name => the job's settings) and those switched on.
  jobs = {
    "alert-tickets"      = var.schedules.alert_tickets
    "departing-response" = var.schedules.departing_response
    "hr-departures"      = var.schedules.hr_departures
    "state-sync"         = var.schedules.state_sync
  }
  enabled_jobs = { for f, j in local.jobs : f => j.expression if j.enabled }

  # Every function a schedule starts (the daily connection re-test runs in connections-api).
  scheduled_functions = sort(distinct(concat(keys(local.enabled_jobs), var.schedules.connection_retest.enabled ? ["connections-api"] : [])))

  secret_prefix = "${var.name}/"
  # A connection secret's ARN: Secrets Manager appends "-" and 6 random characters to the name.
  secret_arn = { for kind in distinct(flatten([for a in values(local.function_access) : concat(a.secrets_read, a.secrets_write)])) : kind => "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.secret_prefix}${kind}-??????" }

  # The one place every function's environment is set (read by shared/src/config.rs).
  environment = {
    RISKFLOW_TABLE                = aws_dynamodb_table.state.name
    RISKFLOW_SECRET_PREFIX        = local.secret_prefix
    RISKFLOW_DRY_RUN              = tostring(var.dry_run)
    RISKFLOW_ALLOW_PRIVATE_URLS   = "false"
    RISKFLOW_AUDIT_RETENTION_DAYS = tostring(var.audit_retention_days)
    RISKFLOW_FUNCTION_NAMES       = join(",", [for f in ["alert-tickets", "hr-departures", "departing-response", "state-sync"] : "${f}=${var.name}-${f}"])
    RISKFLOW_DEPLOYMENT           = var.name
    RISKFLOW_KMS_KEY_ARN          = var.kms_key_arn == null ? "" : var.kms_key_arn
  }

  tags = merge({ "app" = "riskflow", "riskflow:deployment" = var.name }, var.tags)
}
