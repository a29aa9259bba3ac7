# Values derived from the inputs and the account. The topology itself (queue settings, event
# pattern, SSM document contents) is in topology.gen.tf, generated from the Go code.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  # The four workers and the queues each consumes (shared/topology's Queue.Consumer): its job
  # queues, whose depth starts and stops it (scaling.tf), and the ECS events it waits on. The
  # patcher has two lanes, the patcher queue (staging, the intake) and the reboot queue, each with
  # its own handlers, so that a reboot never waits behind staging (docs/decisions/lanes.md).
  job_queues = {
    scanner  = ["scanner"]
    patcher  = ["patcher", "reboot"]
    drainer  = ["drainer"]
    verifier = ["verifier"]
  }
  services = {
    scanner  = ["scanner"]
    patcher  = ["patcher", "reboot"]
    drainer  = ["drainer", "drainer-events"]
    verifier = ["verifier", "verifier-events"]
  }

  # With cluster_tag, the clusters are found when the scanner runs, and IAM cannot follow them:
  # ecs:cluster takes cluster ARNs, and aws:ResourceTag on a container instance or task is that
  # resource's own tags, never its cluster's. So the roles then cover every cluster of the account
  # and region (ArnLike cluster/*); otherwise the listed clusters (terraform/README.md).
  any_cluster             = var.cluster_tag != ""
  cluster_condition       = local.any_cluster ? "ArnLike" : "ArnEquals"
  cluster_arns            = local.any_cluster ? ["arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/*"] : [for c in var.clusters : "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${c}"]
  container_instance_arns = local.any_cluster ? ["arn:${local.partition}:ecs:${local.region}:${local.account}:container-instance/*"] : [for c in var.clusters : "arn:${local.partition}:ecs:${local.region}:${local.account}:container-instance/${c}/*"]
  any_instance_arn        = "arn:${local.partition}:ec2:${local.region}:${local.account}:instance/*"
  # The one ECS action whose resource is the cluster itself and that every worker calls,
  # ecs:ListContainerInstances, is narrowed to the tagged clusters by aws:ResourceTag when the
  # clusters are selected by cluster_tag alone (with listed clusters too, one statement cannot say
  # "listed or tagged"). Everything else is held to the managed clusters by the workers
  # themselves (shared/managed; terraform/README.md).
  cluster_tag_condition = var.cluster_tag != "" && length(var.clusters) == 0 ? [{
    test     = length(split("=", var.cluster_tag)) > 1 ? "StringEquals" : "Null"
    variable = "aws:ResourceTag/${trimspace(split("=", var.cluster_tag)[0])}"
    values   = length(split("=", var.cluster_tag)) > 1 ? [trimspace(join("=", slice(split("=", var.cluster_tag), 1, length(split("=", var.cluster_tag)))))] : ["false"]
  }] : []
  # ssm:SendCommand names both the document and the instance; the instances are narrowed by the tag
  # of var.instance_tag (none with "*": every instance of the account and region).
  instance_condition = var.instance_tag == "*" ? [] : [{
    variable = "ssm:resourceTag/${split("=", var.instance_tag)[0]}"
    values   = [join("=", slice(split("=", var.instance_tag), 1, length(split("=", var.instance_tag))))]
  }]
  # The launch templates the scanner may give a new version and default (launch_templates =
  # "update"): those carrying launch_template_tag, or every one of the account and region with
  # "*". Without the opt-in the statement names no template (IDs start with lt-), so the scanner
  # can only read them.
  launch_template_arns = ["arn:${local.partition}:ec2:${local.region}:${local.account}:launch-template/${var.launch_templates == "update" ? "*" : "none-without-launch_templates-update"}"]
  launch_template_condition = var.launch_template_tag == "*" ? [] : [{
    variable = "aws:ResourceTag/${split("=", var.launch_template_tag)[0]}"
    values   = [join("=", slice(split("=", var.launch_template_tag), 1, length(split("=", var.launch_template_tag))))]
  }]
  bottlerocket_image_parameters = "arn:${local.partition}:ssm:${local.region}::parameter/aws/service/bottlerocket/*"

  event_bus_arn = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/default"
  document_arns = { for k, d in aws_ssm_document.this : k => d.arn }

  queue_arns = { for k, q in aws_sqs_queue.queue : k => q.arn }
  dlq_arns   = { for k, q in aws_sqs_queue.dlq : k => q.arn }
  # Every queue a worker resolves by name at start (topology.Resolve looks up all of them).
  all_queue_arns = concat(values(local.queue_arns), values(local.dlq_arns))

  tags = merge(var.tags, { "rollwave:prefix" = var.prefix })
}
