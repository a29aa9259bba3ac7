# ECS container instance state changes to the drainer's and verifier's event queues (the rules of
# shared/topology, each narrowed to what its waiters need), and the scan schedule to the
# scanner's queue.

resource "aws_cloudwatch_event_rule" "ecs" {
  for_each = local.topology_ecs_rules

  name        = "${var.prefix}-ecs-instance-to-${each.key}"
  description = each.value.description
  # Each queue gets only the container instance changes its waiters need (shared/topology's
  # ECSRuleDetail). With cluster_tag the clusters are not known here: every cluster's events are
  # routed; the workers act only on the instances of their jobs.
  event_pattern = (var.restrict_events_to_clusters && var.cluster_tag == ""
    ? jsonencode(merge(jsondecode(each.value.event_pattern), {
      detail = merge(jsondecode(each.value.event_pattern).detail, { clusterArn = local.cluster_arns })
    }))
    : each.value.event_pattern
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
  # The workers publish on the default bus (ROLLWAVE_EVENT_BUS is not set); only this
  # deployment's events (detail.deployment is the prefix of the deployment that published it).
  event_pattern = jsonencode({
    source      = ["rollwave"]
    detail-type = [each.value.detail_type]
    detail      = { deployment = [var.prefix] }
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

# The history: every rollwave pipeline event, archived whole into a log group that keeps it for
# history_retention_days; `rollwave jobs list`, `jobs describe` and `report` read it back
# (shared/history, docs/architecture.md "History").
resource "aws_cloudwatch_log_group" "history" {
  #checkov:skip=CKV_AWS_338:retention is an input (history_retention_days, default 90 days): the record of rollouts, not an audit log
  name              = "/aws/events/${var.prefix}-history"
  retention_in_days = var.history_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}

# EventBridge writes into a log group only where the group's resource policy lets it.
data "aws_iam_policy_document" "history" {
  statement {
    sid       = "EventBridgeWritesTheHistory"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.history.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.history.arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "history" {
  policy_name     = "${var.prefix}-history"
  policy_document = data.aws_iam_policy_document.history.json
}

resource "aws_cloudwatch_event_rule" "history" {
  name        = "${var.prefix}-history"
  description = "rollwave's pipeline events into its history log group"
  # This deployment's own events: each one's detail names the deployment that published it, and
  # the default bus is shared with every other deployment of the account and region.
  event_pattern = jsonencode(merge(local.topology_pipeline_event_pattern, { detail = { deployment = [var.prefix] } }))
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "history" {
  rule      = aws_cloudwatch_event_rule.history.name
  target_id = "logs-${var.prefix}-history"
  arn       = aws_cloudwatch_log_group.history.arn

  depends_on = [aws_cloudwatch_log_resource_policy.history]
}
