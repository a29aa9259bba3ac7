variable "prefix" {
  description = "Prefix of every name the module creates (queues, rules, documents, roles, services). The workers read it as ROLLWAVE_PREFIX."
  type        = string
  default     = "rollwave"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,40}$", var.prefix))
    error_message = "prefix must be 1-40 letters, digits, '-' or '_' (it becomes part of queue, rule and role names)."
  }
}

variable "clusters" {
  description = "Names of the ECS clusters whose Bottlerocket container instances rollwave keeps up to date (ROLLWAVE_CLUSTERS). Without cluster_tag, the task roles and event rules are scoped to these clusters."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.clusters) > 0 || var.cluster_tag != ""
    error_message = "clusters must name at least one ECS cluster, or cluster_tag select them."
  }
}

variable "cluster_tag" {
  description = "KEY=VALUE (or KEY, for any value): also keep up to date every ECS cluster of the account and region carrying this tag (ROLLWAVE_CLUSTER_TAG of the scanner and the drainer). \"\" for none. When set, the task roles cover every cluster of the account and region (IAM cannot scope container instance and task actions by a cluster's tag) and the event rules are not restricted to clusters."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_tag == "" || can(regex("^[^=]+(=.*)?$", var.cluster_tag))
    error_message = "cluster_tag must be KEY=VALUE or KEY, or \"\"."
  }
}

variable "restrict_events_to_clusters" {
  description = "Route only the ECS events of var.clusters to the workers (detail.clusterArn in the rules' event pattern). false, or a cluster_tag, routes the events of every cluster in the account and region."
  type        = bool
  default     = true
}

variable "schedule" {
  description = "EventBridge schedule expression of the scan (a scan request to the scanner's queue). null creates no schedule: scans are then started by hand."
  type        = string
  default     = "cron(0 3 ? * TUE *)"
}

variable "max_out_of_service" {
  description = "Instances of a cluster out of service at once: a count (\"1\") or a percentage (\"10%\"). ROLLWAVE_MAX_OUT_OF_SERVICE of the drainer."
  type        = string
  default     = "1"
}

variable "timeouts" {
  description = "Go durations (\"25m\", \"90s\") of the workers' deadlines. drain: ROLLWAVE_DRAIN_TIMEOUT (drainer); reboot: ROLLWAVE_REBOOT_TIMEOUT (verifier); apply: ROLLWAVE_APPLY_TIMEOUT (patcher); scan: ROLLWAVE_SSM_TIMEOUT (scanner); recheck: ROLLWAVE_RECHECK_INTERVAL (drainer, verifier)."
  type = object({
    drain   = optional(string, "25m")
    reboot  = optional(string, "15m")
    apply   = optional(string, "15m")
    scan    = optional(string, "5m")
    recheck = optional(string, "30s")
  })
  default = {}
}

variable "on_verify_failure" {
  description = "What the verifier does with an instance whose update failed: keep-out (leave it DRAINING, marked failed) or reactivate."
  type        = string
  default     = "keep-out"

  validation {
    condition     = contains(["keep-out", "reactivate"], var.on_verify_failure)
    error_message = "on_verify_failure must be keep-out or reactivate."
  }
}

variable "standalone_tasks" {
  description = "What the patcher and drainer do with an instance running a task that no service started: skip or wait."
  type        = string
  default     = "skip"

  validation {
    condition     = contains(["skip", "wait"], var.standalone_tasks)
    error_message = "standalone_tasks must be skip or wait."
  }
}

variable "log_level" {
  description = "Log level of the workers: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "image_registry" {
  description = "Registry and path the worker images are pulled from; each image is <image_registry>/<service>:<image_tag>, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/rollwave/scanner:v1.0.0."
  type        = string
}

variable "image_tag" {
  description = "Tag of the worker images (use an immutable tag or a digest-pinned tag)."
  type        = string
}

variable "ecr_repository_arns" {
  description = "ARNs of the ECR repositories of the worker images, if they are in ECR: the execution role may pull only from these. Empty grants no ECR access (public registry)."
  type        = list(string)
  default     = []
}

variable "create_services" {
  description = "Create the ECS task definitions, services and their scaling. false creates only queues, rules, documents, roles and alarms (e.g. on LocalStack, whose free edition has no ECS)."
  type        = bool
  default     = true
}

variable "service_cluster_arn" {
  description = "ARN of an existing ECS cluster with Fargate to run the four workers in. null creates a cluster named <prefix>."
  type        = string
  default     = null
}

variable "subnets" {
  description = "Subnet IDs of the workers' tasks (awsvpc). They need a route to the ECS, SSM, SQS, EventBridge and CloudWatch Logs endpoints (NAT or VPC endpoints)."
  type        = list(string)
  default     = []
}

variable "security_groups" {
  description = "Security group IDs of the workers' tasks. They only need outbound HTTPS."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the workers' tasks a public IP (for subnets without NAT)."
  type        = bool
  default     = false
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks, X86_64 or ARM64; it must match the images."
  type        = string
  default     = "X86_64"
}

variable "max_tasks" {
  description = "Most tasks of each worker while its queue has messages. The drainer and verifier may run several (admission is claim-then-check)."
  type = object({
    scanner  = optional(number, 1)
    patcher  = optional(number, 1)
    drainer  = optional(number, 1)
    verifier = optional(number, 1)
  })
  default = {}
}

variable "scale_in_after_minutes" {
  description = "Minutes a worker's queue must stay empty (no visible and no in-flight message) before its service scales to zero."
  type        = number
  default     = 15
}

variable "log_retention_days" {
  description = "Retention of the workers' CloudWatch log groups."
  type        = number
  default     = 30
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the alarms notify (alarm and OK). null creates the alarms without actions."
  type        = string
  default     = null
}

variable "dead_letter_age_alarm_seconds" {
  description = "Alarm when the oldest message of a dead-letter queue is older than this: a failure nobody looked at."
  type        = number
  default     = 86400
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}
