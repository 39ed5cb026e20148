# riskflow: automated insider-risk integrations for Code42 Incydr.
# One region, one table, four functions (see DESIGN.md's route table).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  functions = toset(["connections-api", "alert-tickets", "hr-departures", "departing-response"])

  # Functions run by a schedule.
  scheduled = {
    "alert-tickets"      = var.schedules.alert_tickets
    "departing-response" = var.schedules.departing_response
    "hr-departures"      = var.schedules.hr_departures
  }

  secret_prefix = "${var.name}/"
  secret_arn    = "arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:secret:${local.secret_prefix}*"

  # The one place every function's environment is set (read by shared/src/config.rs).
  environment = {
    RISKFLOW_TABLE                = aws_dynamodb_table.state.name
    RISKFLOW_SECRET_PREFIX        = local.secret_prefix
    RISKFLOW_DRY_RUN              = tostring(var.dry_run)
    RISKFLOW_ALLOW_PRIVATE_URLS   = "false"
    RISKFLOW_AUDIT_RETENTION_DAYS = tostring(var.audit_retention_days)
    RISKFLOW_FUNCTION_NAMES       = join(",", [for f in ["alert-tickets", "hr-departures", "departing-response"] : "${f}=${var.name}-${f}"])
  }

  tags = merge({ "app" = "riskflow", "riskflow:deployment" = var.name }, var.tags)
}
