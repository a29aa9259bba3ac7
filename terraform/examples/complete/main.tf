# A complete deployment: the two production clusters, the images from ECR, the workers in private
# subnets, the alarms to an SNS topic that mails the on-call team.

variable "region" {
  description = "Region of the clusters."
  type        = string
  default     = "eu-west-1"
}

variable "clusters" {
  description = "ECS clusters to keep up to date."
  type        = list(string)
  default     = ["prod", "staging"]
}

variable "image_tag" {
  description = "Release of rollwave to run."
  type        = string
  default     = "v0.1.0"
}

variable "subnets" {
  description = "Private subnets (with NAT or VPC endpoints) for the workers."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the subnets."
  type        = string
}

variable "alarm_email" {
  description = "Who is told about dead-lettered jobs, failed updates and halted clusters."
  type        = string
}

variable "instance_tag" {
  description = "KEY=VALUE tag of the clusters' Bottlerocket hosts (set on their Auto Scaling groups with propagate_at_launch): the workers may run their SSM documents on these instances only."
  type        = string
  default     = "rollwave=managed"
}

variable "ecr_kms_key_arn" {
  description = "Customer managed KMS key for the ECR repositories; null encrypts them with AES256 (ECR's own keys)."
  type        = string
  default     = null
}

variable "log_kms_key_arn" {
  description = "Customer managed KMS key for the workers' log groups (its policy must let logs.<region>.amazonaws.com use it); null keeps CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  registry = "${data.aws_caller_identity.current.account_id}.dkr.ecr.${var.region}.amazonaws.com/rollwave"
}

resource "aws_ecr_repository" "worker" {
  #checkov:skip=CKV_AWS_136:a customer managed key is an input (ecr_kms_key_arn); without one the images are encrypted with AES256
  for_each = toset(["scanner", "patcher", "drainer", "verifier"])

  name                 = "rollwave/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = var.ecr_kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.ecr_kms_key_arn
  }
}

resource "aws_security_group" "workers" {
  name        = "rollwave-workers"
  description = "rollwave workers: outbound HTTPS to the AWS APIs only"
  vpc_id      = var.vpc_id

  egress {
    description = "AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# The alarm topic is encrypted with a key of its own: CloudWatch alarms and EventBridge can publish
# to an encrypted topic only through a customer managed key whose policy lets them use it (never
# through the AWS managed alias/aws/sns).
data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_356:a key policy's "*" resource is the key it is attached to, nothing else
  #checkov:skip=CKV_AWS_111:a key policy's "*" resource is the key; only the account root may change it, the services may only encrypt and decrypt with it
  #checkov:skip=CKV_AWS_109:the account root administers its own key, as the default key policy does; without it the key becomes unmanageable
  statement {
    sid       = "Administer"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  # As AWS documents it for alarms to an encrypted topic, without a condition: the key serves
  # this topic only, and the topic's policy says who may publish.
  statement {
    sid       = "PublishAlarmsAndEvents"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description         = "rollwave alarm topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarms_key.json
}

resource "aws_sns_topic" "alarms" {
  name              = "rollwave-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

# Who may publish: the account's CloudWatch alarms and rollwave's pipeline event rules.
data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
  statement {
    sid       = "PipelineEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = values(module.rollwave.pipeline_alarm_rule_arns)
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarms" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "rollwave" {
  source = "../../modules/rollwave"

  prefix                      = "rollwave"
  clusters                    = var.clusters
  restrict_events_to_clusters = true
  schedule                    = "cron(0 3 ? * TUE *)"
  max_out_of_service          = "10%"
  timeouts = {
    drain  = "30m"
    reboot = "15m"
  }

  # Policies for every cluster; cluster_policies overrides them per cluster (docs/policies.md).
  global_max_out_of_service = 3
  maintenance_window        = "Mon-Fri 22:00-06:00 Europe/Berlin"
  rollback                  = true
  error_budget = {
    failures = 2
    window   = "1h"
  }
  cluster_policies = {
    prod = {
      maxOutOfService   = "20%"
      healthGateTimeout = "20m"
      rollback          = true
    }
    staging = {
      maintenanceWindow = "daily 00:00-24:00"
      # stop kills the standalone tasks still running 5m after the drain started: staging only.
      standaloneTasks = "stop"
      standaloneGrace = "5m"
      capacityCheck   = false
      errorBudget = {
        failures = 3
        window   = "2h"
      }
    }
  }

  image_registry      = local.registry
  image_tag           = var.image_tag
  ecr_repository_arns = [for r in aws_ecr_repository.worker : r.arn]

  subnets         = var.subnets
  security_groups = [aws_security_group.workers.id]
  max_tasks = {
    drainer  = 2
    verifier = 2
  }

  alarm_sns_topic_arn   = aws_sns_topic.alarms.arn
  alarm_pipeline_events = true
  log_kms_key_arn       = var.log_kms_key_arn
  instance_tag          = var.instance_tag

  tags = {
    team = "platform"
  }
}

output "scanner_queue_url" {
  description = "Send {\"schema\":\"rollwave.scan/v1\"} here to scan now."
  value       = module.rollwave.queue_urls["scanner"]
}

output "patcher_queue_url" {
  description = "Send a hand-written job (docs/job.md) here."
  value       = module.rollwave.queue_urls["patcher"]
}

output "service_names" {
  description = "The workers' ECS services."
  value       = module.rollwave.service_names
}
