# The four workers as Fargate services in one ECS cluster. Each starts at zero tasks; its desired
# count follows its queue (scaling.tf).

resource "aws_ecs_cluster" "workers" {
  count = var.create_services && var.service_cluster_arn == null ? 1 : 0

  name = var.prefix
  tags = local.tags
}

locals {
  service_cluster_arn = var.service_cluster_arn != null ? var.service_cluster_arn : one(aws_ecs_cluster.workers[*].arn)

  # Each worker's settings (see services/<name>/config.go, shared/service/service.go and
  # shared/policy; docs/configuration.md lists them all). A null value sets no variable, so the
  # worker uses its code's default. The error budget and the cluster policies go to every worker
  # that counts failures (patcher, drainer, verifier), so they all halt at the same budget.
  error_budget_environment = {
    ROLLWAVE_ERROR_BUDGET_FAILURES = var.error_budget.failures == null ? null : tostring(var.error_budget.failures)
    ROLLWAVE_ERROR_BUDGET_WINDOW   = var.error_budget.window
    ROLLWAVE_CLUSTER_POLICIES      = length(var.cluster_policies) == 0 ? null : jsonencode(var.cluster_policies)
  }
  service_environment = {
    scanner = {
      ROLLWAVE_SSM_TIMEOUT      = var.timeouts.scan
      ROLLWAVE_TARGET_VERSION   = var.target_version
      ROLLWAVE_STAGES           = length(var.stages) == 0 ? null : jsonencode([for s in var.stages : { name = s.name, clusters = s.clusters, bake = s.bake == null ? "0s" : s.bake }])
      ROLLWAVE_LAUNCH_TEMPLATES = var.launch_templates
      ROLLWAVE_CONCURRENCY      = var.concurrency.scanner == null ? null : tostring(var.concurrency.scanner)
    }
    patcher = {
      ROLLWAVE_APPLY_TIMEOUT         = var.timeouts.apply
      ROLLWAVE_STANDALONE_TASKS      = var.standalone_tasks
      ROLLWAVE_WAITING_THRESHOLD     = var.waiting_threshold
      ROLLWAVE_CONCURRENCY           = var.concurrency.patcher == null ? null : tostring(var.concurrency.patcher)
      ROLLWAVE_REBOOT_CONCURRENCY    = var.concurrency.reboot == null ? null : tostring(var.concurrency.reboot)
      ROLLWAVE_MAX_OUT_OF_SERVICE    = var.max_out_of_service # each cluster's look-ahead of staged instances
      ROLLWAVE_ERROR_BUDGET_FAILURES = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_FAILURES
      ROLLWAVE_ERROR_BUDGET_WINDOW   = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_WINDOW
      ROLLWAVE_CLUSTER_POLICIES      = local.error_budget_environment.ROLLWAVE_CLUSTER_POLICIES
    }
    drainer = {
      ROLLWAVE_MAX_OUT_OF_SERVICE        = var.max_out_of_service
      ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE = var.global_max_out_of_service == null ? null : tostring(var.global_max_out_of_service)
      ROLLWAVE_CAPACITY_CHECK            = var.capacity_check == null ? null : tostring(var.capacity_check)
      ROLLWAVE_HEALTH_GATE               = var.health_gate == null ? null : tostring(var.health_gate)
      ROLLWAVE_HEALTH_GATE_TIMEOUT       = var.health_gate_timeout
      ROLLWAVE_MAINTENANCE_WINDOW        = var.maintenance_window
      ROLLWAVE_STANDALONE_TASKS          = var.standalone_tasks
      ROLLWAVE_STANDALONE_DEADLINE       = var.standalone_deadline
      ROLLWAVE_STANDALONE_GRACE          = var.standalone_grace
      ROLLWAVE_ROLLBACK                  = var.rollback == null ? null : tostring(var.rollback)
      ROLLWAVE_ERROR_BUDGET_FAILURES     = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_FAILURES
      ROLLWAVE_ERROR_BUDGET_WINDOW       = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_WINDOW
      ROLLWAVE_CLUSTER_POLICIES          = local.error_budget_environment.ROLLWAVE_CLUSTER_POLICIES
      ROLLWAVE_DRAIN_TIMEOUT             = var.timeouts.drain
      ROLLWAVE_RECHECK_INTERVAL          = var.timeouts.recheck
      ROLLWAVE_WAITING_THRESHOLD         = var.waiting_threshold
      ROLLWAVE_ALARM_NAMES               = length(var.alarm_names) == 0 ? null : join(",", var.alarm_names)
      ROLLWAVE_ALARM_PREFIX              = var.alarm_prefix
      ROLLWAVE_ALARM_HALT                = var.alarm_halt
      ROLLWAVE_STAGES                    = length(var.stages) == 0 ? null : jsonencode([for s in var.stages : { name = s.name, clusters = s.clusters, bake = s.bake == null ? "0s" : s.bake }])
      ROLLWAVE_CONCURRENCY               = var.concurrency.drainer == null ? null : tostring(var.concurrency.drainer)
    }
    verifier = {
      ROLLWAVE_REBOOT_TIMEOUT        = var.timeouts.reboot
      ROLLWAVE_REBOOT_GRACE          = var.reboot_grace
      ROLLWAVE_RECHECK_INTERVAL      = var.timeouts.recheck
      ROLLWAVE_ON_VERIFY_FAILURE     = var.on_verify_failure
      ROLLWAVE_CONCURRENCY           = var.concurrency.verifier == null ? null : tostring(var.concurrency.verifier)
      ROLLWAVE_ERROR_BUDGET_FAILURES = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_FAILURES
      ROLLWAVE_ERROR_BUDGET_WINDOW   = local.error_budget_environment.ROLLWAVE_ERROR_BUDGET_WINDOW
      ROLLWAVE_CLUSTER_POLICIES      = local.error_budget_environment.ROLLWAVE_CLUSTER_POLICIES
    }
  }
  # The managed clusters go to every worker: each refuses a job or scan request of any other
  # cluster (shared/managed), and all four must agree on the set.
  common_environment = {
    AWS_REGION                  = local.region
    ROLLWAVE_CLUSTERS           = join(",", var.clusters)
    ROLLWAVE_CLUSTER_TAG        = var.cluster_tag
    ROLLWAVE_PREFIX             = var.prefix
    ROLLWAVE_LOG_LEVEL          = var.log_level
    ROLLWAVE_METRICS            = var.metrics == null ? null : (var.metrics ? "on" : "off")
    ROLLWAVE_DRY_RUN            = var.dry_run == null ? null : tostring(var.dry_run)
    ROLLWAVE_VISIBILITY_TIMEOUT = var.visibility_timeout
    ROLLWAVE_LEASE              = var.lease
  }
}

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_338:retention is an input (log_retention_days, default 30 days): the workers' logs are operational, the pipeline events and metrics are the record
  for_each = local.services

  name              = "/rollwave/${var.prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}

resource "aws_ecs_task_definition" "service" {
  for_each = var.create_services ? local.services : {}

  family                   = "${var.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  task_role_arn            = aws_iam_role.task[each.key].arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = "${var.image_registry}/${each.key}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    # The workers return unfinished messages within ROLLWAVE_SHUTDOWN_GRACE (10s) of SIGTERM.
    stopTimeout = 30
    environment = [
      for k, v in merge(local.common_environment, local.service_environment[each.key]) : { name = k, value = v } if v != null
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])

  tags = local.tags
}

resource "aws_ecs_service" "service" {
  for_each = var.create_services ? local.services : {}

  name            = "${var.prefix}-${each.key}"
  cluster         = local.service_cluster_arn
  task_definition = aws_ecs_task_definition.service[each.key].arn
  launch_type     = "FARGATE"
  desired_count   = 0

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  lifecycle {
    # Application Auto Scaling owns the desired count.
    ignore_changes = [desired_count]
  }

  tags = local.tags
}
