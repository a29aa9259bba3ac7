package cluster

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Services describes the services of cluster named in names (names or ARNs), 10 per call, in
// the order ECS returns them. With no names it lists every service of the cluster first. A
// name that ECS does not know is left out of the result.
func (c *Client) Services(ctx context.Context, cluster string, names []string) ([]Service, error) {
	if len(names) == 0 {
		var err error
		if names, err = c.listServices(ctx, cluster); err != nil {
			return nil, fmt.Errorf("list services of %s: %w", cluster, err)
		}
	}
	var services []Service
	for batch := range slices.Chunk(names, servicesBatch) {
		out, err := c.api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return nil, fmt.Errorf("describe services of %s: %w", cluster, classify(err))
		}
		for _, s := range out.Services {
			services = append(services, serviceFrom(s))
		}
	}
	return services, nil
}

func (c *Client) listServices(ctx context.Context, cluster string) ([]string, error) {
	in := &ecs.ListServicesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(pageSize)}
	var arns []string
	for {
		out, err := c.api.ListServices(ctx, in)
		if err != nil {
			return nil, classify(err)
		}
		arns = append(arns, out.ServiceArns...)
		if aws.ToString(out.NextToken) == "" {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
}

func serviceFrom(s types.Service) Service {
	out := Service{
		Name:        aws.ToString(s.ServiceName),
		ARN:         aws.ToString(s.ServiceArn),
		Status:      aws.ToString(s.Status),
		Desired:     int(s.DesiredCount),
		Running:     int(s.RunningCount),
		Pending:     int(s.PendingCount),
		Deployments: len(s.Deployments),
		Daemon:      s.SchedulingStrategy == types.SchedulingStrategyDaemon,
		// ECS's defaults for the rolling update deployment controller.
		MinHealthyPercent: 100,
		MaxPercent:        200,
	}
	if dc := s.DeploymentConfiguration; dc != nil {
		if dc.MinimumHealthyPercent != nil {
			out.MinHealthyPercent = int(*dc.MinimumHealthyPercent)
		}
		if dc.MaximumPercent != nil {
			out.MaxPercent = int(*dc.MaximumPercent)
		}
	}
	out.Settled = out.Deployments <= 1 && out.Running == out.Desired && out.Pending == 0
	return out
}
