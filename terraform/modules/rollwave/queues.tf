# One work queue and one dead-letter queue per entry of local.topology_queues (shared/topology):
# encrypted with SQS-managed keys (EventBridge can deliver to them, unlike the AWS-managed KMS
# key), reachable only over TLS, the DLQ accepting messages from its own queue only.

resource "aws_sqs_queue" "dlq" {
  for_each = local.topology_queues

  name                      = "${var.prefix}-${each.key}${local.topology_dead_letter_suffix}"
  message_retention_seconds = each.value.dlq_message_retention_seconds
  max_message_size          = each.value.max_message_size
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "queue" {
  for_each = local.topology_queues

  name                       = "${var.prefix}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  receive_wait_time_seconds  = each.value.receive_wait_time_seconds
  max_message_size           = each.value.max_message_size
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
  tags = local.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.topology_queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.queue[each.key].arn]
  })
}

locals {
  # The EventBridge rules that deliver to each queue: the ECS rules and the scan schedule.
  queue_rules = merge(
    { for k, r in aws_cloudwatch_event_rule.ecs : k => { (r.name) = r.arn } },
    { scanner = { for r in aws_cloudwatch_event_rule.scan : r.name => r.arn } },
  )
}

data "aws_iam_policy_document" "queue" {
  for_each = local.topology_queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.queue[each.key].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = lookup(local.queue_rules, each.key, {})
    content {
      sid       = "AllowEventBridge-${statement.key}"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.queue[each.key].arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "queue" {
  for_each = local.topology_queues

  queue_url = aws_sqs_queue.queue[each.key].id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

data "aws_iam_policy_document" "dlq" {
  for_each = local.topology_queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.topology_queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}
