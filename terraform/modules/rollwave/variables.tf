variable "prefix" {
  description = "Prefix of every name the module creates (queues, rules, documents, roles, services). The workers read it as ROLLWAVE_PREFIX."
  type        = string
  default     = "rollwave"

  # The longest name derived from the prefix against its AWS limit, so that no name is refused at
  # apply (deploy's TestTerraformNamesFitTheirLimits derives them from shared/topology and the
  # module): EventBridge rule <prefix>-ecs-instance-to-verifier-events (64, so 32 for the prefix);
  # event target ID sqs-<prefix>-verifier-events (64); IAM role <prefix>-verifier-task (64); SQS
  # queue <prefix>-verifier-events-dlq (80); SSM document (128); log group (512); ECS, alarm and
  # dashboard names (255). Every one of them accepts letters, digits, '-' and '_'.
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,32}$", var.prefix))
    error_message = "prefix must be 1-32 letters, digits, '-' or '_': the longest name made from it, the EventBridge rule <prefix>-ecs-instance-to-verifier-events, may have 64 characters."
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
  description = "KEY=VALUE (or KEY, for any value): also keep up to date every ECS cluster of the account and region carrying this tag (ROLLWAVE_CLUSTER_TAG of every worker, which refuses jobs of any other cluster). \"\" for none. When set, the task roles cover every cluster of the account and region (IAM cannot scope container instance and task actions by a cluster's tag; only ecs:ListContainerInstances is narrowed to the tagged clusters, when no clusters are listed) and the event rules are not restricted to clusters."
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
  description = "Instances of a cluster out of service at once: a count (\"1\") or a percentage (\"10%\", 1% to 100%). ROLLWAVE_MAX_OUT_OF_SERVICE of the drainer, and of the patcher, which stages as many instances of each cluster ahead of the drains."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^([1-9][0-9]*|[1-9][0-9]?%|100%)$", var.max_out_of_service))
    error_message = "max_out_of_service must be a count of at least 1 (\"2\") or a percentage from 1% to 100% (\"20%\")."
  }
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
  description = "Verifier ROLLWAVE_ON_VERIFY_FAILURE, what becomes of an instance whose update failed after its reboot: park (left out of service, marked failed, counted against the limit) or return (an instance that booted its previous version again serves again, pinned to it by version-lock and marked failed; other failures park). Per cluster: onVerifyFailure in cluster_policies."
  type        = string
  default     = "park"

  validation {
    condition     = contains(["park", "return"], var.on_verify_failure)
    error_message = "on_verify_failure must be park or return."
  }
}

variable "standalone_tasks" {
  description = "Default of the per-cluster standalone-task policy (ROLLWAVE_STANDALONE_TASKS of the patcher and drainer): what to do with an instance running a task that no service started. skip: leave the instance for a later scan, never touching the task. wait: drain it and wait (standalone_deadline) for the task to end on its own. stop: drain it and STOP the task with ecs:StopTask once standalone_grace has passed, which kills work such as batch jobs; set stop per cluster in cluster_policies rather than here, for the clusters whose standalone tasks may be stopped."
  type        = string
  default     = "skip"

  validation {
    condition     = contains(["skip", "wait", "stop"], var.standalone_tasks)
    error_message = "standalone_tasks must be skip, wait or stop."
  }
}

variable "log_level" {
  description = "Log level of the workers: debug, info, warn or error (ROLLWAVE_LOG_LEVEL)."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

# Rollout policies (docs/policies.md) and operational settings. null (the default) sets no
# environment variable, so the worker uses the default its code defines.

variable "global_max_out_of_service" {
  description = "Instances rollwave may hold out of service at once across every cluster of clusters and cluster_tag (ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE of the drainer). 0 is no limit beyond each cluster's; null keeps the workers' default (0)."
  type        = number
  default     = null

  validation {
    condition     = var.global_max_out_of_service == null || try(var.global_max_out_of_service >= 0 && floor(var.global_max_out_of_service) == var.global_max_out_of_service, false)
    error_message = "global_max_out_of_service must be a whole number, 0 or more."
  }
}

variable "capacity_check" {
  description = "Make a drain wait until the cluster's other ACTIVE instances can host the service tasks it moves (ROLLWAVE_CAPACITY_CHECK of the drainer). null keeps the workers' default (true)."
  type        = bool
  default     = null
}

variable "health_gate" {
  description = "Make a drain wait until the cluster's services are steady and the instances updated before run again (ROLLWAVE_HEALTH_GATE of the drainer). null keeps the workers' default (true)."
  type        = bool
  default     = null
}

variable "health_gate_timeout" {
  description = "How long the health gate may stay closed after the newest verified update before the cluster halts (ROLLWAVE_HEALTH_GATE_TIMEOUT of the drainer), a Go duration. null keeps the workers' default (15m)."
  type        = string
  default     = null

  validation {
    condition     = var.health_gate_timeout == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.health_gate_timeout)) && can(regex("[1-9]", var.health_gate_timeout)))
    error_message = "health_gate_timeout must be a positive Go duration such as 90s, 15m or 2h, or null for the workers' default."
  }
}

variable "maintenance_window" {
  description = "When new drains may start (ROLLWAVE_MAINTENANCE_WINDOW of the drainer): windows separated by ';' with an optional IANA time zone at the end, e.g. \"Mon-Fri 22:00-06:00 Europe/Berlin\" (docs/policies.md). null keeps the workers' default (always open)."
  type        = string
  default     = null

  validation {
    condition     = var.maintenance_window == null || can(regex("[0-9]{2}:[0-9]{2}(:[0-9]{2})?-[0-9]{2}:[0-9]{2}", var.maintenance_window))
    error_message = "maintenance_window must be windows such as \"Mon-Fri 22:00-06:00 Europe/Berlin\" or \"daily 02:00-04:30\" (docs/policies.md), or null."
  }
}

variable "standalone_deadline" {
  description = "Standalone policy wait: how long after the drain started the standalone tasks may take to end before the drain is undone (ROLLWAVE_STANDALONE_DEADLINE of the drainer), a Go duration. null keeps the workers' default (2h)."
  type        = string
  default     = null

  validation {
    condition     = var.standalone_deadline == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.standalone_deadline)) && can(regex("[1-9]", var.standalone_deadline)))
    error_message = "standalone_deadline must be a positive Go duration such as 90s, 15m or 2h, or null for the workers' default."
  }
}

variable "standalone_grace" {
  description = "Standalone policy stop: how long after the drain started standalone tasks may run before rollwave stops them (ROLLWAVE_STANDALONE_GRACE of the drainer), a Go duration. null keeps the workers' default (10m)."
  type        = string
  default     = null

  validation {
    condition     = var.standalone_grace == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.standalone_grace)) && can(regex("[1-9]", var.standalone_grace)))
    error_message = "standalone_grace must be a positive Go duration such as 90s, 15m or 2h, or null for the workers' default."
  }
}

variable "rollback" {
  description = "Roll the suspects of a failed health gate back to their previous version before the cluster halts (ROLLWAVE_ROLLBACK of the drainer). null keeps the workers' default (false)."
  type        = bool
  default     = null
}

variable "error_budget" {
  description = "Failed updates in a cluster within window that halt its rollout (ROLLWAVE_ERROR_BUDGET_FAILURES and ROLLWAVE_ERROR_BUDGET_WINDOW of the patcher, drainer and verifier, which all count failures). failures: 1 to 8 (a queue tag holds eight); window: a Go duration. An omitted field keeps the workers' default (2 failures, 1h)."
  type = object({
    failures = optional(number)
    window   = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.error_budget.failures == null || try(var.error_budget.failures >= 1 && var.error_budget.failures <= 8 && floor(var.error_budget.failures) == var.error_budget.failures, false)
    error_message = "error_budget.failures must be a whole number from 1 to 8: the failures are counted in a queue tag, which holds eight."
  }

  validation {
    condition     = var.error_budget.window == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.error_budget.window)) && can(regex("[1-9]", var.error_budget.window)))
    error_message = "error_budget.window must be a positive Go duration such as 1h."
  }
}

variable "cluster_policies" {
  description = "Per-cluster overrides of any policy, keyed by cluster name, jsonencoded into ROLLWAVE_CLUSTER_POLICIES of the patcher, drainer and verifier. Each value is an object with any of the fields of docs/policies.md, spelled as there: maxOutOfService (string, \"2\" or \"20%\"), capacityCheck, healthGate, rollback (bool), healthGateTimeout, standaloneDeadline, standaloneGrace (Go durations), maintenanceWindow (string), standaloneTasks (skip, wait or stop: stop kills the cluster's standalone tasks after standaloneGrace, so opt in here for the clusters where that is safe), onVerifyFailure (park or return), errorBudget ({ failures = 1..8, window = duration }), alarmNames (list of CloudWatch alarm names) and alarmPrefix (string): the cluster's own gate alarms, beside alarm_names and alarm_prefix. An omitted field keeps the default; {} sets nothing."
  type        = any
  default     = {}
  nullable    = false

  validation {
    condition     = try(alltrue([for cluster, p in var.cluster_policies : alltrue([for k in keys(p) : contains(["maxOutOfService", "capacityCheck", "healthGate", "healthGateTimeout", "maintenanceWindow", "standaloneTasks", "standaloneDeadline", "standaloneGrace", "rollback", "onVerifyFailure", "errorBudget", "alarmNames", "alarmPrefix"], k)])]), false)
    error_message = "cluster_policies must map cluster names to objects whose fields are among maxOutOfService, capacityCheck, healthGate, healthGateTimeout, maintenanceWindow, standaloneTasks, standaloneDeadline, standaloneGrace, rollback, onVerifyFailure, errorBudget, alarmNames, alarmPrefix (spelled as in docs/policies.md: the workers refuse any other field)."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || can(regex("^(true|false)$", jsonencode(v))) if contains(["capacityCheck", "healthGate", "rollback"], k)]])), false)
    error_message = "cluster_policies: capacityCheck, healthGate and rollback must be true or false (not strings)."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^\"", jsonencode(v))) && can(regex("^([1-9][0-9]*|[1-9][0-9]?%|100%)$", v))) if k == "maxOutOfService"]])), false)
    error_message = "cluster_policies: maxOutOfService must be a string: a count of at least 1 (\"2\") or a percentage from 1% to 100% (\"20%\")."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", v)) && can(regex("[1-9]", v))) if contains(["healthGateTimeout", "standaloneDeadline", "standaloneGrace"], k)]])), false)
    error_message = "cluster_policies: healthGateTimeout, standaloneDeadline and standaloneGrace must be positive Go durations such as 90s, 15m or 2h."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^\"", jsonencode(v))) && contains(["skip", "wait", "stop"], v)) if k == "standaloneTasks"]])), false)
    error_message = "cluster_policies: standaloneTasks must be skip, wait or stop."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^\"", jsonencode(v))) && contains(["park", "return"], v)) if k == "onVerifyFailure"]])), false)
    error_message = "cluster_policies: onVerifyFailure must be park or return."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^\"", jsonencode(v))) && can(regex("[0-9]{2}:[0-9]{2}(:[0-9]{2})?-[0-9]{2}:[0-9]{2}", v))) if k == "maintenanceWindow"]])), false)
    error_message = "cluster_policies: maintenanceWindow must be windows such as \"Mon-Fri 22:00-06:00 Europe/Berlin\" (docs/policies.md)."
  }

  validation {
    condition = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (
      alltrue([for f in keys(v) : contains(["failures", "window"], f)]) &&
      (try(v.failures, null) == null || can(regex("^[1-8]$", jsonencode(v.failures)))) &&
      (try(v.window, null) == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", v.window)) && can(regex("[1-9]", v.window))))
    ) if k == "errorBudget"]])), false)
    error_message = "cluster_policies: errorBudget must be { failures = 1 to 8, window = a Go duration such as 2h }, either field optional."
  }

  validation {
    condition = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (
      can(regex("^\\[", jsonencode(v))) && alltrue([for n in v : can(regex("^\"", jsonencode(n))) && length(trimspace(n)) > 0 && length(n) <= 255]) && length(distinct(v)) == length(v)
    ) if k == "alarmNames"]])), false)
    error_message = "cluster_policies: alarmNames must be a list of CloudWatch alarm names (1 to 255 characters), each once."
  }

  validation {
    condition     = try(alltrue(flatten([for cluster, p in var.cluster_policies : [for k, v in p : v == null || (can(regex("^\"", jsonencode(v))) && length(trimspace(v)) > 0 && length(v) <= 255) if k == "alarmPrefix"]])), false)
    error_message = "cluster_policies: alarmPrefix must be the start of CloudWatch alarm names, 1 to 255 characters."
  }
}

variable "metrics" {
  description = "Send the workers' CloudWatch metrics (namespace rollwave): ROLLWAVE_METRICS on (true) or off (false) of every worker. null keeps the workers' default (on). The task roles keep cloudwatch:PutMetricData either way."
  type        = bool
  default     = null
}

variable "dry_run" {
  description = "Make every job a dry run: each worker decides and logs what it would do and changes nothing (ROLLWAVE_DRY_RUN of every worker). null keeps the workers' default (false)."
  type        = bool
  default     = null
}

variable "reboot_grace" {
  description = "After the reboot was sent, how long the verifier waits for the host to go down before checking its version anyway (ROLLWAVE_REBOOT_GRACE of the verifier), a Go duration. null keeps the workers' default (1m)."
  type        = string
  default     = null

  validation {
    condition     = var.reboot_grace == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.reboot_grace)) && can(regex("[1-9]", var.reboot_grace)))
    error_message = "reboot_grace must be a positive Go duration such as 90s, 15m or 2h, or null for the workers' default."
  }
}

variable "alarm_names" {
  description = "CloudWatch alarms that gate every drain (ROLLWAVE_ALARM_NAMES of the drainer): no new drain starts while one is in ALARM, and a rollout in progress halts (\"Cluster Rollout Halted\", reason alarm). Empty: none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.alarm_names : length(n) > 0 && length(n) <= 255 && !strcontains(n, ",")])
    error_message = "alarm_names must be alarm names of 1 to 255 characters without commas."
  }
}

variable "alarm_prefix" {
  description = "Every CloudWatch alarm whose name starts with this prefix gates every drain, as alarm_names (ROLLWAVE_ALARM_PREFIX of the drainer). null: none."
  type        = string
  default     = null
}

variable "alarm_halt" {
  description = "What a firing gate alarm does (ROLLWAVE_ALARM_HALT of the drainer): resume (drains start again by themselves once every alarm is OK) or stay (the cluster is paused until a person resumes it). null keeps the code's default (resume)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_halt == null ? true : contains(["resume", "stay"], var.alarm_halt)
    error_message = "alarm_halt must be resume or stay, or null for the code's default."
  }
}

variable "target_version" {
  description = "The version each scan's rollout targets, one for every host (ROLLWAVE_TARGET_VERSION of the scanner): latest (the newest version one of the scanned hosts is offered), a minor version such as 1.20 (its newest patch on offer) or a version such as 1.20.3. Each host is pinned there once its Bottlerocket wave offers it. null: each host goes to whatever its own update check chooses. A scan request's targetVersion overrides it."
  type        = string
  default     = null

  validation {
    condition     = var.target_version == null || can(regex("^(latest|(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?)?)$", var.target_version))
    error_message = "target_version must be latest, a minor version such as 1.20 or a version such as 1.20.3 (no leading v), or null."
  }
}

variable "stages" {
  description = "A staged promotion (ROLLWAVE_STAGES of the scanner and the drainer, docs/policies.md \"Staged promotion\"): the stages in order, each with a name (1-64 letters, digits, - or _), its clusters (names, each in one stage) and a bake time (a Go duration such as 30m or 2h; none: 0). A stage starts on a rollout's version only once every stage before it took the version, no job of it failed, no gate alarm fired during its bake and its bake has passed since its last host was verified. At most 10 stages. []: no promotion, every cluster rolls at once."
  type = list(object({
    name     = string
    clusters = list(string)
    bake     = optional(string)
  }))
  default  = []
  nullable = false

  validation {
    condition     = length(var.stages) <= 10 && alltrue([for s in var.stages : can(regex("^[A-Za-z0-9_-]{1,64}$", s.name)) && length(s.clusters) > 0])
    error_message = "stages: at most 10, each named with 1-64 letters, digits, - or _, with at least one cluster."
  }

  validation {
    condition     = length(distinct([for s in var.stages : s.name])) == length(var.stages) && length(distinct(flatten([for s in var.stages : s.clusters]))) == length(flatten([for s in var.stages : s.clusters]))
    error_message = "stages: each stage's name once, and each cluster in one stage only."
  }

  validation {
    condition     = alltrue([for s in var.stages : s.bake == null || can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", s.bake)) || s.bake == "0"])
    error_message = "stages: bake must be a Go duration such as 30m or 2h, or omitted for none."
  }
}

variable "launch_templates" {
  description = "What a scan that finds a cluster's rollout complete does about the launch templates of the Auto Scaling groups behind it (ROLLWAVE_LAUNCH_TEMPLATES of the scanner): report the drift (a \"Launch Template Drift\" event and a LaunchTemplatesDrifted metric), update it too (a new template version with only the image changed, made the default when the group launches $Default; a resolve:ssm: image or a group pinned to a version number is left alone), or off. Only update lets the scanner's role create template versions and change defaults, on the templates launch_template_tag selects. null keeps the scanner's default (report)."
  type        = string
  default     = null

  validation {
    condition     = var.launch_templates == null ? true : contains(["off", "report", "update"], var.launch_templates)
    error_message = "launch_templates must be off, report or update, or null for the scanner's default (report)."
  }
}

variable "launch_template_tag" {
  description = "Which launch templates the scanner may change with launch_templates = \"update\" (ec2:CreateLaunchTemplateVersion, ec2:ModifyLaunchTemplate): KEY=VALUE, the templates carrying that tag (aws:ResourceTag/KEY). \"*\" (the default) is every launch template of the account and region."
  type        = string
  default     = "*"

  validation {
    condition     = var.launch_template_tag == "*" || can(regex("^[^=*]+=.+$", var.launch_template_tag))
    error_message = "launch_template_tag must be KEY=VALUE (the tag of the launch templates the scanner may change), or \"*\" for every launch template of the account and region."
  }
}

variable "waiting_threshold" {
  description = "How long a job may wait for admission (pause, halt, maintenance window, health gate, capacity, limits) before the drainer warns about it, or for its host's Bottlerocket wave before the patcher does, and how often it warns again while the job waits: a warn log line with the reason, a JobsWaiting count and, once per wait, an \"Instance Update Waiting\" event (ROLLWAVE_WAITING_THRESHOLD of the drainer and the patcher). Whole hours, minutes and seconds such as 15m or 1h30m, at least 1s; null keeps the workers' default (15m)."
  type        = string
  default     = null

  validation {
    condition     = var.waiting_threshold == null || (can(regex("^([0-9]+(h|m|s))+$", var.waiting_threshold)) && can(regex("[1-9]", var.waiting_threshold)))
    error_message = "waiting_threshold must be whole hours, minutes and seconds such as 90s, 15m or 1h30m, at least 1s, or null for the workers' default."
  }
}

variable "visibility_timeout" {
  description = "How long a message a worker received stays hidden between the worker's extensions, for all its queues (ROLLWAVE_VISIBILITY_TIMEOUT of every worker): bounds how long the job of a killed task waits before another task resumes it. A Go duration; null keeps each queue's own (2m for job queues, 30s for event queues)."
  type        = string
  default     = null

  validation {
    condition     = var.visibility_timeout == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.visibility_timeout)) && can(regex("[1-9]", var.visibility_timeout)))
    error_message = "visibility_timeout must be a positive Go duration such as 90s, 15m or 2h, or null for the workers' default."
  }
}

variable "lease" {
  description = "How long a job's lease on its instance (the rollwave.lease attribute) lasts unless the worker holding the job renews it (ROLLWAVE_LEASE of every worker); the scanner reclaims an instance whose lease expired half a lease ago, so a lost job orphans nothing. A Go duration; null keeps the workers' default (1h). The workers refuse to start with a lease shorter than twice the patcher's staging (apply timeout + 3 SSM timeouts) or four times the drainer's and verifier's gaps between looks."
  type        = string
  default     = null

  validation {
    condition     = var.lease == null || (can(regex("^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", var.lease)) && can(regex("[1-9]", var.lease)))
    error_message = "lease must be a positive Go duration such as 90m or 2h, or null for the workers' default."
  }
}

variable "concurrency" {
  description = "Jobs one task of each worker handles at once (ROLLWAVE_CONCURRENCY; for the patcher, the instances it stages at once), and reboot: the reboots the patcher's reboot lane sends at once (ROLLWAVE_REBOOT_CONCURRENCY; keep it at least the largest cluster limit, so that a whole wave is rebooted together). An omitted field keeps the workers' default (4 for the scanner and patcher, 16 for the drainer and verifier, which hold each job for a whole drain or reboot, 32 for reboot)."
  type = object({
    scanner  = optional(number)
    patcher  = optional(number)
    reboot   = optional(number)
    drainer  = optional(number)
    verifier = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for w, n in var.concurrency : n == null || try(n >= 1 && floor(n) == n, false)])
    error_message = "concurrency must be whole numbers of at least 1."
  }
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
  description = "Retention of the workers' CloudWatch log groups, in days: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), or 0 to keep the logs forever."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (the values CloudWatch Logs accepts), or 0 to keep the logs forever."
  }
}

variable "history_retention_days" {
  description = "How long the history log group (/aws/events/<prefix>-history) keeps rollwave's pipeline events, which rollwave jobs list and jobs describe read back, in days: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), or 0 to keep them forever."
  type        = number
  default     = 90

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.history_retention_days)
    error_message = "history_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (the values CloudWatch Logs accepts), or 0 to keep them forever."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a customer managed KMS key to encrypt the workers' log groups with; its key policy must let logs.<region>.amazonaws.com use it. null keeps CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "instance_tag" {
  description = "Which EC2 instances the workers may run rollwave's SSM documents on (ssm:SendCommand): KEY=VALUE, the instances carrying that tag (ssm:resourceTag/KEY); tag the hosts' Auto Scaling group with it and propagate_at_launch. \"*\" is every instance of the account and region, an explicit choice."
  type        = string

  validation {
    condition     = var.instance_tag == "*" || can(regex("^[^=*]+=.+$", var.instance_tag))
    error_message = "instance_tag must be KEY=VALUE (the tag of the hosts the workers may send commands to), or \"*\" for every instance of the account and region."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the alarms notify (alarm and OK) and the pipeline events of alarm_pipeline_events go to. If it is encrypted, its KMS key must be a customer managed key whose policy lets cloudwatch.amazonaws.com and events.amazonaws.com use it (the AWS managed alias/aws/sns does not). null creates the alarms without actions."
  type        = string
  default     = null
}

variable "alarm_pipeline_events" {
  description = "Send rollwave's \"Instance Update Failed\" and \"Cluster Rollout Halted\" pipeline events (docs/events.md) to alarm_sns_topic_arn as readable messages, through two EventBridge rules on the default bus. Requires alarm_sns_topic_arn, whose policy must let events.amazonaws.com publish."
  type        = bool
  default     = true

  validation {
    condition     = !var.alarm_pipeline_events || var.alarm_sns_topic_arn != null
    error_message = "alarm_pipeline_events needs alarm_sns_topic_arn; set it to false to create no pipeline event rules."
  }
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
