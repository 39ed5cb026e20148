variable "name" {
  description = "Name of this deployment; prefixes every resource and the connection secrets (<name>/<kind>)."
  type        = string
  default     = "riskflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "artifacts_dir" {
  description = "Folder holding <function>/bootstrap.zip for each function, as `make package` writes them (dist/<arch>)."
  type        = string
  default     = "../../dist/arm64"
}

variable "architecture" {
  description = "Lambda architecture of the zips: arm64 (default, cheaper) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory (MB) per function."
  type        = map(number)
  default = {
    "connections-api"    = 256
    "alert-tickets"      = 256
    "hr-departures"      = 256
    "departing-response" = 256
  }
}

variable "timeout" {
  description = "Timeout (seconds) per function. The flow lock is held at least this long."
  type        = map(number)
  default = {
    "connections-api"    = 30
    "alert-tickets"      = 900
    "hr-departures"      = 300
    "departing-response" = 600
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function. alert-tickets and departing-response run one at a time; hr-departures serves webhooks and relies on its flow lock."
  type        = map(number)
  default = {
    "connections-api"    = 5
    "alert-tickets"      = 1
    "hr-departures"      = 10
    "departing-response" = 1
  }
}

variable "dry_run" {
  description = "Run every flow in dry-run mode: read everything, change nothing outside, record the plan."
  type        = bool
  default     = false
}

variable "audit_retention_days" {
  description = "How long audit entries are kept in the table."
  type        = number
  default     = 400
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention (days) of every function's log group and the API access log."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "AWS_LAMBDA_LOG_LEVEL of the functions (TRACE, DEBUG, INFO, WARN, ERROR)."
  type        = string
  default     = "INFO"
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the table, the secrets, the logs and the functions' environment. Null uses AWS-owned keys."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the state table from deletion."
  type        = bool
  default     = true
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the state table."
  type        = bool
  default     = true
}

variable "tracing_mode" {
  description = "X-Ray tracing of the functions: Active or PassThrough."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the functions in (for a fixed egress address that Okta or ServiceNow allow-lists). Empty: no VPC."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the functions when vpc_subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "schedules" {
  description = "Schedule expression of each scheduled job (rate or cron); null turns a schedule off."
  type = object({
    alert_tickets      = optional(string, "rate(5 minutes)")
    departing_response = optional(string, "rate(5 minutes)")
    hr_departures      = optional(string, "rate(15 minutes)")
    connection_retest  = optional(string, "rate(1 day)")
  })
  default = {}
}

variable "expected_run_interval_minutes" {
  description = "An alarm fires when a flow has no successful run within this many minutes."
  type = object({
    alert_tickets      = optional(number, 30)
    departing_response = optional(number, 30)
    hr_departures      = optional(number, 60)
  })
  default = {}
}

variable "lag_alarm_seconds" {
  description = "Alarm when lag_seconds (oldest unprocessed session) exceeds this."
  type        = number
  default     = 3600
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic that receives alarm notifications. Null: alarms without actions."
  type        = string
  default     = null
}

variable "webhook_throttle" {
  description = "Rate (requests/s) and burst of the public HR webhook route."
  type = object({
    rate_limit  = optional(number, 10)
    burst_limit = optional(number, 20)
  })
  default = {}
}
