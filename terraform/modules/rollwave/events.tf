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
