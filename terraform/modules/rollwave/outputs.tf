output "queue_urls" {
  description = "URL of each work queue, by logical name (scanner, patcher, reboot, drainer, verifier, drainer-events, verifier-events). Send a scan request to queue_urls[\"scanner\"], a hand-written job to queue_urls[\"patcher\"]."
  value       = { for k, q in aws_sqs_queue.queue : k => q.id }
}

output "queue_arns" {
  description = "ARN of each work queue, by logical name."
  value       = local.queue_arns
}

output "dead_letter_queue_urls" {
  description = "URL of each dead-letter queue, by the logical name of its queue."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.id }
}

output "dead_letter_queue_arns" {
  description = "ARN of each dead-letter queue, by the logical name of its queue."
  value       = local.dlq_arns
}

output "task_role_arns" {
  description = "ARN of each worker's task role, by worker."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arn" {
  description = "ARN of the execution role the four task definitions share."
  value       = aws_iam_role.execution.arn
}

output "service_names" {
  description = "Name of each worker's ECS service, by worker (empty when create_services is false)."
  value       = { for k, s in aws_ecs_service.service : k => s.name }
}

output "service_cluster_arn" {
  description = "ARN of the ECS cluster the workers run in (null when create_services is false)."
  value       = local.service_cluster_arn
}

output "ssm_document_names" {
  description = "Name of each SSM document, by kind (update-check, update-apply, update-cancel, reboot, version-lock)."
  value       = { for k, d in aws_ssm_document.this : k => d.name }
}

output "log_group_names" {
  description = "CloudWatch log group of each worker."
  value       = { for k, g in aws_cloudwatch_log_group.service : k => g.name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "pipeline_alarm_rule_arns" {
  description = "ARN of each EventBridge rule that sends pipeline events to alarm_sns_topic_arn (update-failed, rollout-halted): the topic's policy must let events.amazonaws.com publish from them."
  value       = { for k, r in aws_cloudwatch_event_rule.pipeline_alarm : k => r.arn }
}

output "history_log_group_name" {
  description = "CloudWatch Logs group of the history: every rollwave pipeline event, kept history_retention_days (rollwave jobs list and jobs describe read it; operators need logs:FilterLogEvents on it)."
  value       = aws_cloudwatch_log_group.history.name
}
