# A message on a dead-letter queue is a job that failed in a way a person must look at.

locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.topology_queues

  alarm_name          = "${aws_sqs_queue.dlq[each.key].name}-depth"
  alarm_description   = "Messages on ${aws_sqs_queue.dlq[each.key].name}: each carries its reason in the rollwave.reason attribute"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_age" {
  for_each = local.topology_queues

  alarm_name          = "${aws_sqs_queue.dlq[each.key].name}-age"
  alarm_description   = "The oldest message on ${aws_sqs_queue.dlq[each.key].name} waits for a person for more than ${var.dead_letter_age_alarm_seconds}s"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dead_letter_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
