# Scale to zero: each worker's desired count is the depth (visible + in flight) of its job queues
# (local.job_queues: the patcher's two lanes together) turned into 0 or max_tasks by two
# step-scaling policies. A message arriving on an empty queue starts the worker within a few
# minutes; queues empty for scale_in_after_minutes stop it. The drainer and the verifier hold a
# waiting job in flight, so they stay up while any job waits.

resource "aws_appautoscaling_target" "service" {
  for_each = var.create_services ? local.services : {}

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${element(split("/", local.service_cluster_arn), 1)}/${aws_ecs_service.service[each.key].name}"
  min_capacity       = 0
  max_capacity       = var.max_tasks[each.key]
}

resource "aws_appautoscaling_policy" "scale_out" {
  for_each = var.create_services ? local.services : {}

  name               = "${var.prefix}-${each.key}-scale-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = var.max_tasks[each.key]
    }
  }
}

resource "aws_appautoscaling_policy" "scale_in" {
  for_each = var.create_services ? local.services : {}

  name               = "${var.prefix}-${each.key}-scale-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = 0
    }
  }
}

locals {
  # The job queues of each worker, whose summed depth drives its scaling.
  scaling_queues = { for s, queues in local.job_queues : s => [for q in queues : "${var.prefix}-${q}"] }
  # The metrics of that sum by metric-math ID: v<i> and f<i>, the messages visible and in flight
  # of the i-th job queue.
  scaling_metrics = { for s, queues in local.scaling_queues : s => merge([for i, q in queues : {
    "v${i}" = { metric = "ApproximateNumberOfMessagesVisible", queue = q }
    "f${i}" = { metric = "ApproximateNumberOfMessagesNotVisible", queue = q }
  }]...) }
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  for_each = var.create_services ? local.services : {}

  alarm_name          = "${var.prefix}-${each.key}-backlog"
  alarm_description   = "Messages on ${join(" or ", local.scaling_queues[each.key])}: run the ${each.key}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_out[each.key].arn]

  metric_query {
    id          = "depth"
    expression  = join(" + ", keys(local.scaling_metrics[each.key]))
    label       = "messages visible or in flight"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = local.scaling_metrics[each.key]
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/SQS"
        metric_name = metric_query.value.metric
        dimensions  = { QueueName = metric_query.value.queue }
        period      = 60
        stat        = "Maximum"
      }
    }
  }

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "idle" {
  for_each = var.create_services ? local.services : {}

  alarm_name          = "${var.prefix}-${each.key}-idle"
  alarm_description   = "${join(" and ", local.scaling_queues[each.key])} empty for ${var.scale_in_after_minutes} minutes: stop the ${each.key}"
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  evaluation_periods  = var.scale_in_after_minutes
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_in[each.key].arn]

  metric_query {
    id          = "depth"
    expression  = join(" + ", keys(local.scaling_metrics[each.key]))
    label       = "messages visible or in flight"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = local.scaling_metrics[each.key]
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/SQS"
        metric_name = metric_query.value.metric
        dimensions  = { QueueName = metric_query.value.queue }
        period      = 60
        stat        = "Maximum"
      }
    }
  }

  tags = local.tags
}
