# ECS container instance state changes to the drainer's and verifier's event queues (the rules of
# shared/topology), and the scan schedule to the scanner's queue.

resource "aws_cloudwatch_event_rule" "ecs" {
  for_each = local.topology_ecs_rules

  name        = "${var.prefix}-ecs-instance-to-${each.key}"
  description = each.value.description
  # With cluster_tag the clusters are not known here: every cluster's events are routed; the
  # workers act only on the instances of their jobs.
  event_pattern = (var.restrict_events_to_clusters && var.cluster_tag == ""
    ? jsonencode(merge(local.topology_ecs_event_pattern, { detail = { clusterArn = local.cluster_arns } }))
    : jsonencode(local.topology_ecs_event_pattern)
  )
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "ecs" {
  for_each = local.topology_ecs_rules

  rule      = aws_cloudwatch_event_rule.ecs[each.key].name
  target_id = "sqs-${var.prefix}-${each.key}"
  arn       = aws_sqs_queue.queue[each.key].arn

  # The queue policy must let the rule in before the first event is sent.
  depends_on = [aws_sqs_queue_policy.queue]
}

resource "aws_cloudwatch_event_rule" "scan" {
  count = var.schedule == null ? 0 : 1

  name                = "${var.prefix}-scan-schedule"
  description         = "Scan the clusters for Bottlerocket updates"
  schedule_expression = var.schedule
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "scan" {
  count = var.schedule == null ? 0 : 1

  rule      = aws_cloudwatch_event_rule.scan[0].name
  target_id = "sqs-${var.prefix}-scanner"
  arn       = aws_sqs_queue.queue["scanner"].arn
  input = jsonencode({
    schema      = "rollwave.scan/v1"
    requestedBy = "rollwave-schedule"
    reason      = "scheduled scan: ${var.schedule}"
  })

  depends_on = [aws_sqs_queue_policy.queue]
}

# rollwave's own pipeline events that need a person (docs/events.md), to the alarm topic, each
# turned into a message a person can read in an e-mail: the detail fields named here are those of
# notify.JobDetail and notify.HaltedDetail (deploy's TestTerraformPipelineAlarms holds them to the
# code).
locals {
  pipeline_alarms = {
    update-failed = {
      detail_type = "Instance Update Failed"
      description = "rollwave: an instance update failed; what it left on the instance depends on the reason (docs/job.md)"
      input_paths = {
        cluster  = "$.detail.cluster"
        instance = "$.detail.instance"
        step     = "$.detail.step"
        reason   = "$.detail.reason"
        message  = "$.detail.message"
        job      = "$.detail.jobId"
        time     = "$.time"
        account  = "$.account"
        region   = "$.region"
      }
      input_template = "\"rollwave: the update of instance <instance> in cluster <cluster> failed at step <step>, reason <reason>: <message>. Job <job>, <time>, account <account>, region <region>. What the reason leaves on the instance: docs/job.md; what to do: docs/operations.md.\""
    }
    rollout-halted = {
      detail_type = "Cluster Rollout Halted"
      description = "rollwave: a cluster's rollout halted (error budget spent or health gate failed) until a person resumes it"
      input_paths = {
        cluster = "$.detail.cluster"
        reason  = "$.detail.reason"
        message = "$.detail.message"
        time    = "$.time"
        account = "$.account"
        region  = "$.region"
      }
      input_template = "\"rollwave halted the rollout of cluster <cluster>, reason <reason>: <message>. <time>, account <account>, region <region>.\""
    }
  }
}

resource "aws_cloudwatch_event_rule" "pipeline_alarm" {
  for_each = var.alarm_pipeline_events ? local.pipeline_alarms : {}

  name        = "${var.prefix}-alarm-${each.key}"
  description = each.value.description
  # The workers publish on the default bus (ROLLWAVE_EVENT_BUS is not set).
  event_pattern = jsonencode({
    source      = ["rollwave"]
    detail-type = [each.value.detail_type]
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "pipeline_alarm" {
  for_each = var.alarm_pipeline_events ? local.pipeline_alarms : {}

  rule      = aws_cloudwatch_event_rule.pipeline_alarm[each.key].name
  target_id = "sns-alarms"
  arn       = var.alarm_sns_topic_arn

  input_transformer {
    input_paths    = each.value.input_paths
    input_template = each.value.input_template
  }
}
