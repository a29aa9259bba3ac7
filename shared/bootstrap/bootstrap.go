// Package bootstrap prepares a deployment that nobody provisioned with Terraform: a local stack
// (make demo, docker-compose) or a test. It creates the queues and rules of a topology and
// registers the SSM documents, with the same code paths the tests of topology and ssmdoc cover.
package bootstrap

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
)

// Run makes the deployment match t (topology.Bootstrap: SQS, EventBridge, and CloudWatch Logs for
// the history, through cfg) and
// registers the SSM documents under t.Prefix (ssmdoc.Ensure). cfg must route each client to the
// right endpoint (the SSM client may point at another server than SQS). Run is idempotent.
func Run(ctx context.Context, cfg aws.Config, t topology.Topology) (topology.Resolved, error) {
	r, err := topology.Bootstrap(ctx, topology.Clients{
		SQS: sqs.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg),
	}, t)
	if err != nil {
		return topology.Resolved{}, err // already names the topology
	}
	if err := ssmdoc.Ensure(ctx, ssm.NewFromConfig(cfg), t.Prefix); err != nil {
		return topology.Resolved{}, fmt.Errorf("register documents %s: %w", t.Prefix, err)
	}
	return r, nil
}
