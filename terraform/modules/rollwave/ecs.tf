# The four workers as Fargate services in one ECS cluster. Each starts at zero tasks; its desired
# count follows its queue (scaling.tf).

resource "aws_ecs_cluster" "workers" {
  count = var.create_services && var.service_cluster_arn == null ? 1 : 0

  name = var.prefix
  tags = local.tags
}

locals {
  service_cluster_arn = var.service_cluster_arn != null ? var.service_cluster_arn : one(aws_ecs_cluster.workers[*].arn)

  # Each worker's settings (see services/<name>/config.go and shared/pipeline/runtime.go).
  service_environment = {
    scanner = {
      ROLLWAVE_CLUSTERS    = join(",", var.clusters)
      ROLLWAVE_CLUSTER_TAG = var.cluster_tag
      ROLLWAVE_SSM_TIMEOUT = var.timeouts.scan
    }
    patcher = {
      ROLLWAVE_APPLY_TIMEOUT    = var.timeouts.apply
      ROLLWAVE_STANDALONE_TASKS = var.standalone_tasks
    }
    drainer = {
      ROLLWAVE_MAX_OUT_OF_SERVICE = var.max_out_of_service
      ROLLWAVE_DRAIN_TIMEOUT      = var.timeouts.drain
      ROLLWAVE_RECHECK_INTERVAL   = var.timeouts.recheck
      ROLLWAVE_STANDALONE_TASKS   = var.standalone_tasks
      ROLLWAVE_CLUSTERS           = join(",", var.clusters)
      ROLLWAVE_CLUSTER_TAG        = var.cluster_tag
    }
    verifier = {
      ROLLWAVE_REBOOT_TIMEOUT    = var.timeouts.reboot
      ROLLWAVE_RECHECK_INTERVAL  = var.timeouts.recheck
      ROLLWAVE_ON_VERIFY_FAILURE = var.on_verify_failure
    }
  }
  common_environment = {
    AWS_REGION         = local.region
    ROLLWAVE_PREFIX    = var.prefix
    ROLLWAVE_LOG_LEVEL = var.log_level
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/rollwave/${var.prefix}/${each.key}"
  retention_in_days = var.log_retention_days
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
    # The workers return unfinished messages within ROLLWAVE_SHUTDOWN_GRACE (20s) of SIGTERM.
    stopTimeout = 30
    environment = [
      for k, v in merge(local.common_environment, local.service_environment[each.key]) : { name = k, value = v }
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
