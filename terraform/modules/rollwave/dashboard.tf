# One dashboard: rollwave's own metrics (namespace rollwave, docs/events.md), per cluster, found by
# SEARCH so that clusters selected by cluster_tag appear too, then the depth of every queue and
# dead-letter queue.

locals {
  # Each widget of rollwave's metrics: a SEARCH over the metric's dimensions exactly as the workers
  # publish them (deploy's TestTerraformDashboard holds them to docs/events.md).
  dashboard_metrics = [
    { title = "Jobs started per cluster", metric = "JobsStarted", dimensions = "Cluster", stat = "Sum", period = 300 },
    { title = "Jobs succeeded per cluster", metric = "JobsSucceeded", dimensions = "Cluster,Reason,Step", stat = "Sum", period = 300 },
    { title = "Jobs failed per cluster, step and reason", metric = "JobsFailed", dimensions = "Cluster,Reason,Step", stat = "Sum", period = 300 },
    { title = "Instances out of service per cluster", metric = "InstancesOutOfService", dimensions = "Cluster", stat = "Maximum", period = 60 },
    # A job counts once per ROLLWAVE_WAITING_THRESHOLD while it waits past it: the Sum over a period
    # of the threshold (the default, 15m) is the number of jobs waiting that long.
    { title = "Jobs waiting for admission past the threshold, per cluster and reason", metric = "JobsWaiting", dimensions = "Cluster,Reason", stat = "Sum", period = 900 },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.prefix
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, w in local.dashboard_metrics : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title  = w.title
          region = local.region
          stat   = w.stat
          period = w.period
          metrics = [[{
            id         = "m${i}"
            expression = "SEARCH('{rollwave,${w.dimensions}} MetricName=\"${w.metric}\"', '${w.stat}', ${w.period})"
          }]]
        }
      }],
      [
        {
          type   = "metric"
          x      = 0
          y      = 18
          width  = 12
          height = 6
          properties = {
            title  = "Queue depth (visible + in flight)"
            region = local.region
            stat   = "Maximum"
            period = 60
            # One line per metric and queue (flatten would flatten the lines themselves too).
            metrics = concat(
              [for k in keys(local.topology_queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${var.prefix}-${k}"]],
              [for k in keys(local.topology_queues) : ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", "${var.prefix}-${k}"]],
            )
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 18
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
    )
  })
}
