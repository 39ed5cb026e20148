variable "name" {
  description = "Name of this deployment; prefixes every resource and the connection secrets (<name>/<kind>), and is the `deployment` dimension of riskflow's metrics. Two deployments in one account need two names."
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
  nullable    = false
}

variable "artifacts_dir" {
  description = "Folder holding <function>/bootstrap.zip for each function, as `make package` writes them (dist/<architecture>). Null: <module>/../dist/<architecture>, the repository's dist/ when the module is used from a checkout."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Lambda architecture of the zips: x86_64 (default; `make package` always builds it) or arm64 (cheaper per GB-second; `make package` builds it only when the aarch64-unknown-linux-gnu Rust target is installed)."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

# Per-function maps: each is merged over the defaults in main.tf, so one key changes one
# function. Keys must be function names.
variable "memory_size" {
  description = "Memory (MB) per function, merged over the defaults (256 each). Keys: connections-api, alert-tickets, hr-departures, departing-response, state-sync."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k in keys(var.memory_size) : contains(["connections-api", "alert-tickets", "hr-departures", "departing-response", "state-sync"], k)])
    error_message = "memory_size keys must be function names: connections-api, alert-tickets, hr-departures, departing-response, state-sync."
  }

  validation {
    condition     = alltrue([for v in values(var.memory_size) : v >= 128 && v <= 10240 && floor(v) == v])
    error_message = "memory_size values must be whole numbers of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Timeout (seconds) per function, merged over the defaults (connections-api 30, alert-tickets 900, hr-departures 300, departing-response 600, state-sync 300). The flow lock is held at least this long."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k in keys(var.timeout) : contains(["connections-api", "alert-tickets", "hr-departures", "departing-response", "state-sync"], k)])
    error_message = "timeout keys must be function names: connections-api, alert-tickets, hr-departures, departing-response, state-sync."
  }

  validation {
    condition     = alltrue([for v in values(var.timeout) : v >= 1 && v <= 900 && floor(v) == v])
    error_message = "timeout values must be whole seconds from 1 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Opt-in reserved concurrency per function; a function not listed is unreserved. Nothing is reserved by default: new AWS accounts have a concurrency quota of 10 and Lambda must keep part of the quota unreserved, so reservations fail there. The flow locks, not concurrency, keep one run of a flow at a time."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k in keys(var.reserved_concurrency) : contains(["connections-api", "alert-tickets", "hr-departures", "departing-response", "state-sync"], k)])
    error_message = "reserved_concurrency keys must be function names: connections-api, alert-tickets, hr-departures, departing-response, state-sync."
  }

  validation {
    condition     = alltrue([for v in values(var.reserved_concurrency) : v >= 0 && floor(v) == v])
    error_message = "reserved_concurrency values must be whole numbers, 0 or more (0 stops the function)."
  }
}

variable "dry_run" {
  description = "Run every flow in dry-run mode: read everything, change nothing outside, record the plan."
  type        = bool
  default     = false
  nullable    = false
}

variable "audit_retention_days" {
  description = "How long audit entries are kept in the table."
  type        = number
  default     = 400
  nullable    = false
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention (days) of every function's log group and the API access log."
  type        = number
  default     = 365
  nullable    = false
}

variable "log_level" {
  description = "Application log level of the functions (Lambda's logging_config): TRACE, DEBUG or INFO. Lambda's own lines (REPORT, INIT) are always kept at INFO."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO"], var.log_level)
    error_message = "log_level must be TRACE, DEBUG or INFO. The functions' CloudWatch metric lines (EMF) are INFO-level lines, so WARN or ERROR would drop them and silence the alarms."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the state table, the connection secrets riskflow creates (<name>/<kind>), the log groups, the dead-letter queues, the schedules and the functions' environment; the function roles and the scheduler role may use it. Its key policy must let CloudWatch Logs use it (see examples/with-kms). Null: AWS-owned or AWS-managed keys."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the state table from deletion (set false and apply before `terraform destroy`)."
  type        = bool
  default     = true
  nullable    = false
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the state table."
  type        = bool
  default     = true
  nullable    = false
}

variable "tracing_mode" {
  description = "X-Ray tracing of the functions: Active or PassThrough."
  type        = string
  default     = "PassThrough"
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the functions in (for a fixed egress address that Okta or ServiceNow allow-lists). Empty: no VPC."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_security_group_ids" {
  description = "Security groups of the functions when vpc_subnet_ids is set."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "schedules" {
  description = "Each scheduled job: enabled (false removes its schedule and its alarms) and its schedule expression (rate or cron, UTC). A job left out keeps its defaults."
  type = object({
    alert_tickets = optional(object({
      enabled    = optional(bool, true)
      expression = optional(string, "rate(5 minutes)")
    }), {})
    departing_response = optional(object({
      enabled    = optional(bool, true)
      expression = optional(string, "rate(5 minutes)")
    }), {})
    hr_departures = optional(object({
      enabled    = optional(bool, true)
      expression = optional(string, "rate(15 minutes)")
    }), {})
    state_sync = optional(object({
      enabled    = optional(bool, true)
      expression = optional(string, "rate(5 minutes)")
    }), {})
    connection_retest = optional(object({
      enabled    = optional(bool, true)
      expression = optional(string, "rate(1 day)")
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for j in values(var.schedules) : can(regex("^(rate|cron)\\(.+\\)$", j.expression))])
    error_message = "each schedule expression must be rate(...) or cron(...)."
  }
}

variable "expected_run_interval_minutes" {
  description = "Per scheduled flow: an alarm fires when the flow has no successful run within this many minutes, and another when its runs were skipped in 3 consecutive such periods."
  type = object({
    alert_tickets      = optional(number, 30)
    departing_response = optional(number, 30)
    hr_departures      = optional(number, 60)
    state_sync         = optional(number, 30)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for m in values(var.expected_run_interval_minutes) : m >= 5 && m <= 480 && floor(m) == m])
    error_message = "expected_run_interval_minutes must be whole minutes from 5 to 480 (3 periods must fit in CloudWatch's one-day evaluation window)."
  }
}

variable "lag_alarm_seconds" {
  description = "Alarm when lag_seconds (oldest unprocessed session) exceeds this."
  type        = number
  default     = 3600
  nullable    = false
}

variable "webhook_rejected_alarm_threshold" {
  description = "Alarm when more than this many HR webhook deliveries are rejected (bad signature, unknown source, malformed, replayed) within 15 minutes."
  type        = number
  default     = 5
  nullable    = false
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic that receives alarm and OK notifications. If it is encrypted, its KMS key policy must let cloudwatch.amazonaws.com use the key (alias/aws/sns cannot be used). Null: alarms without actions."
  type        = string
  default     = null
}

variable "webhook_throttle" {
  description = "Rate (requests/s) and burst of the public HR webhook route."
  type = object({
    rate_limit  = optional(number, 10)
    burst_limit = optional(number, 20)
  })
  default  = {}
  nullable = false
}

variable "health_throttle" {
  description = "Rate (requests/s) and burst of the public GET /health route."
  type = object({
    rate_limit  = optional(number, 5)
    burst_limit = optional(number, 10)
  })
  default  = {}
  nullable = false
}
