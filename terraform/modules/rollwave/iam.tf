# One task role per worker, granting exactly the AWS actions that worker calls (the list in
# deploy/iam.go, which a test derives from the code), each scoped as narrowly as AWS allows:
# clusters, container instances, queues, documents, the event bus. The actions that AWS only
# authorizes on "*" are listed in terraform/README.md with the reason.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:*"]
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = local.services

  name               = "${var.prefix}-${each.key}-task"
  description        = "rollwave ${each.key}: the AWS calls of the worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "task" {
  for_each = local.services

  name = "${var.prefix}-${each.key}"
  role = aws_iam_role.task[each.key].id
  policy = {
    scanner  = data.aws_iam_policy_document.scanner.json
    patcher  = data.aws_iam_policy_document.patcher.json
    drainer  = data.aws_iam_policy_document.drainer.json
    verifier = data.aws_iam_policy_document.verifier.json
  }[each.key]
}

data "aws_iam_policy_document" "scanner" {
  statement {
    sid       = "ConsumeOwnQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [local.queue_arns["scanner"]]
  }
  statement {
    sid       = "SendJobsAndDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns["patcher"], local.dlq_arns["scanner"]]
  }
  statement {
    sid       = "ResolveQueues"
    actions   = ["sqs:GetQueueUrl"]
    resources = local.all_queue_arns
  }
  statement {
    sid       = "ListInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = local.cluster_arns
    dynamic "condition" {
      for_each = local.cluster_tag_condition
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "FindClustersByTag"
    actions   = ["ecs:ListClusters"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadClusterTags"
    actions   = ["ecs:DescribeClusters"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/*"]
  }
  statement {
    sid       = "DescribeAndReactivateInstances"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "ReclaimMarks"
    actions   = ["ecs:PutAttributes", "ecs:DeleteAttributes"]
    resources = local.container_instance_arns
  }
  statement {
    sid       = "RunUpdateCheckAndCancel"
    actions   = ["ssm:SendCommand"]
    resources = [local.document_arns["update-check"], local.document_arns["update-cancel"]]
  }
  statement {
    sid       = "RunUpdateCheckAndLockOnInstances"
    actions   = ["ssm:SendCommand"]
    resources = [local.any_instance_arn]
    dynamic "condition" {
      for_each = local.instance_condition
      content {
        test     = "StringEquals"
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "ReadCommandResults"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands"]
    resources = ["*"]
  }
  statement {
    sid       = "FindLaunchTemplates"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeLaunchTemplateVersions", "autoscaling:DescribeAutoScalingGroups"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadBottlerocketImages"
    actions   = ["ssm:GetParameter"]
    resources = [local.bottlerocket_image_parameters]
  }
  statement {
    sid       = "UpdateLaunchTemplates"
    actions   = ["ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"]
    resources = local.launch_template_arns
    dynamic "condition" {
      for_each = local.launch_template_condition
      content {
        test     = "StringEquals"
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "PublishPipelineEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["rollwave"]
    }
  }
  statement {
    sid       = "PublishMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["rollwave"]
    }
  }
}

data "aws_iam_policy_document" "patcher" {
  statement {
    sid       = "ConsumeOwnQueues"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [local.queue_arns["patcher"], local.queue_arns["reboot"]]
  }
  statement {
    sid       = "SendJobsAndDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns["drainer"], local.queue_arns["verifier"], local.queue_arns["patcher"], local.dlq_arns["patcher"], local.dlq_arns["reboot"]]
  }
  statement {
    sid       = "ResolveQueues"
    actions   = ["sqs:GetQueueUrl"]
    resources = local.all_queue_arns
  }
  statement {
    sid       = "ListInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = local.cluster_arns
    dynamic "condition" {
      for_each = local.cluster_tag_condition
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    # The managed clusters (shared/managed): every worker refuses a job of any other cluster,
    # so it resolves ROLLWAVE_CLUSTERS to their ARNs and finds those carrying cluster_tag.
    sid       = "ResolveManagedClusters"
    actions   = ["ecs:DescribeClusters"]
    resources = local.cluster_arns
  }
  statement {
    sid       = "FindClustersByTag"
    actions   = ["ecs:ListClusters"]
    resources = ["*"]
  }
  statement {
    sid       = "InstancesAndTasksOfTheClusters"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState", "ecs:ListTasks", "ecs:DescribeTasks"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "MarkInstances"
    actions   = ["ecs:PutAttributes", "ecs:DeleteAttributes"]
    resources = local.container_instance_arns
  }
  statement {
    sid       = "StageCancelReboot"
    actions   = ["ssm:SendCommand"]
    resources = [local.document_arns["update-check"], local.document_arns["update-apply"], local.document_arns["update-cancel"], local.document_arns["reboot"], local.document_arns["version-lock"]]
  }
  statement {
    sid       = "StageCancelRebootOnInstances"
    actions   = ["ssm:SendCommand"]
    resources = [local.any_instance_arn]
    dynamic "condition" {
      for_each = local.instance_condition
      content {
        test     = "StringEquals"
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "ReadCommands"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands"]
    resources = ["*"]
  }
  statement {
    sid       = "ErrorBudget"
    actions   = ["sqs:ListQueueTags", "sqs:TagQueue"]
    resources = [local.queue_arns["drainer"]]
  }
  statement {
    sid       = "PublishPipelineEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["rollwave"]
    }
  }
  statement {
    sid       = "PublishMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["rollwave"]
    }
  }
}

data "aws_iam_policy_document" "drainer" {
  statement {
    sid       = "ConsumeOwnQueues"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [local.queue_arns["drainer"], local.queue_arns["drainer-events"]]
  }
  statement {
    sid       = "SendJobsAndDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns["reboot"], local.queue_arns["patcher"], local.dlq_arns["drainer"], local.dlq_arns["drainer-events"]]
  }
  statement {
    sid       = "ResolveQueues"
    actions   = ["sqs:GetQueueUrl"]
    resources = local.all_queue_arns
  }
  statement {
    sid       = "ListInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = local.cluster_arns
    dynamic "condition" {
      for_each = local.cluster_tag_condition
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "InstancesAndTasksOfTheClusters"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState", "ecs:ListTasks", "ecs:DescribeTasks"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    # The standalone-task policy "stop" (opted into per cluster) stops standalone tasks after
    # their grace period; only tasks of the clusters rollwave updates.
    sid       = "StopStandaloneTasks"
    actions   = ["ecs:StopTask"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    # The global limit counts the clusters carrying cluster_tag too (ROLLWAVE_CLUSTER_TAG).
    sid       = "FindClustersByTag"
    actions   = ["ecs:ListClusters"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadClusterTags"
    actions   = ["ecs:DescribeClusters"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/*"]
  }
  statement {
    sid       = "ServicesOfTheClusters"
    actions   = ["ecs:ListServices", "ecs:DescribeServices"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "MarkInstances"
    actions   = ["ecs:PutAttributes", "ecs:DeleteAttributes"]
    resources = local.container_instance_arns
  }
  statement {
    sid       = "CheckAndCancelStagedUpdate"
    actions   = ["ssm:SendCommand"]
    resources = [local.document_arns["update-check"], local.document_arns["update-cancel"]]
  }
  statement {
    sid       = "CheckAndCancelStagedUpdateOnInstances"
    actions   = ["ssm:SendCommand"]
    resources = [local.any_instance_arn]
    dynamic "condition" {
      for_each = local.instance_condition
      content {
        test     = "StringEquals"
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "ReadCommandResults"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands"]
    resources = ["*"]
  }
  statement {
    sid       = "PublishPipelineEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["rollwave"]
    }
  }
  statement {
    sid       = "PauseTagsAndErrorBudget"
    actions   = ["sqs:ListQueueTags", "sqs:TagQueue"]
    resources = [local.queue_arns["drainer"]]
  }
  statement {
    # The gate alarms (alarm_names, alarm_prefix): any alarm of the account and region, as a
    # prefix cannot be written as an ARN pattern the names would match exactly.
    sid       = "ReadGateAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:*"]
  }
  statement {
    sid       = "PublishMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["rollwave"]
    }
  }
}

data "aws_iam_policy_document" "verifier" {
  statement {
    sid       = "ConsumeOwnQueues"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [local.queue_arns["verifier"], local.queue_arns["verifier-events"]]
  }
  statement {
    sid       = "SendDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arns["verifier"], local.dlq_arns["verifier-events"]]
  }
  statement {
    sid       = "ResolveQueues"
    actions   = ["sqs:GetQueueUrl"]
    resources = local.all_queue_arns
  }
  statement {
    sid       = "ListInstances"
    actions   = ["ecs:ListContainerInstances"]
    resources = local.cluster_arns
    dynamic "condition" {
      for_each = local.cluster_tag_condition
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    # The managed clusters (shared/managed): every worker refuses a job of any other cluster,
    # so it resolves ROLLWAVE_CLUSTERS to their ARNs and finds those carrying cluster_tag.
    sid       = "ResolveManagedClusters"
    actions   = ["ecs:DescribeClusters"]
    resources = local.cluster_arns
  }
  statement {
    sid       = "FindClustersByTag"
    actions   = ["ecs:ListClusters"]
    resources = ["*"]
  }
  statement {
    sid       = "InstancesOfTheClusters"
    actions   = ["ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"]
    resources = ["*"]
    condition {
      test     = local.cluster_condition
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "MarkInstances"
    actions   = ["ecs:PutAttributes", "ecs:DeleteAttributes"]
    resources = local.container_instance_arns
  }
  statement {
    sid       = "RunUpdateCheckAndLock"
    actions   = ["ssm:SendCommand"]
    resources = [local.document_arns["update-check"], local.document_arns["version-lock"]]
  }
  statement {
    sid       = "RunUpdateCheckAndLockOnInstances"
    actions   = ["ssm:SendCommand"]
    resources = [local.any_instance_arn]
    dynamic "condition" {
      for_each = local.instance_condition
      content {
        test     = "StringEquals"
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }
  statement {
    sid       = "ReadCommandsAndAgents"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:DescribeInstanceInformation"]
    resources = ["*"]
  }
  statement {
    sid       = "ErrorBudget"
    actions   = ["sqs:ListQueueTags", "sqs:TagQueue"]
    resources = [local.queue_arns["drainer"]]
  }
  statement {
    sid       = "PublishPipelineEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["rollwave"]
    }
  }
  statement {
    sid       = "PublishMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["rollwave"]
    }
  }
}

# The execution role lets ECS pull the image and write the logs; the worker's code never uses it.

resource "aws_iam_role" "execution" {
  name               = "${var.prefix}-execution"
  description        = "rollwave: ECS pulls the worker images and writes their logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.service : "${g.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "PullImages"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = var.ecr_repository_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "ECRLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.prefix}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}
