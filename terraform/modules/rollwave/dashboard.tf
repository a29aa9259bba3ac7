# One dashboard: the depth of every queue and dead-letter queue, and the running tasks of each
# worker.

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.prefix
  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type   = "metric"
          x      = 0
          y      = 0
          width  = 12
          height = 6
          properties = {
            title  = "Queue depth (visible + in flight)"
            region = local.region
            stat   = "Maximum"
            period = 60
            metrics = flatten([for k in keys(local.topology_queues) : [
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${var.prefix}-${k}"],
              ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", "${var.prefix}-${k}"],
            ]])
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 0
          width  = 12
          height = 6
          properties = {
            title   = "Dead-letter queues"
            region  = local.region
            stat    = "Maximum"
            period  = 300
            metrics = [for k, q in aws_sqs_queue.dlq : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.name]]
          }
        },
      ],
      var.create_services ? [
        {
          type   = "metric"
          x      = 0
          y      = 6
          width  = 24
          height = 6
          properties = {
            title   = "Running tasks per worker"
            region  = local.region
            stat    = "Maximum"
            period  = 60
            metrics = [for s in keys(local.services) : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", element(split("/", local.service_cluster_arn), 1), "ServiceName", "${var.prefix}-${s}"]]
          }
        },
      ] : [],
    )
  })
}
