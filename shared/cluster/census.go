package cluster

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/rollwave/rollwave/shared/update"
)

// Census is a cluster as the limits read it (update.Census): its size, and every instance that
// may be out of service, described.
type Census struct {
	// Registered is the cluster's registered container instances, ACTIVE or DRAINING.
	Registered int
	// Instances are the instances that are DRAINING, whose agent is disconnected, or that
	// rollwave took out of service (update.OutOfServiceFilter).
	Instances []Instance
	// All is every instance of the cluster when it has no more than one page of them (100):
	// the census then read them all, in as many calls as it would have taken otherwise. Nil
	// for a larger cluster.
	All []Instance
}

// View is the census as admission decides on it.
func (c Census) View() update.Census {
	return update.Census{Total: c.Registered, Instances: Views(c.Instances)}
}

// Census reads cluster for the limits in a number of calls that does not grow with its size.
// A cluster of up to 100 instances is read whole: one ListContainerInstances, one
// DescribeContainerInstances. A larger one costs five calls, where a read of every instance
// costs two per 100: that first page, DescribeClusters for its size, ListContainerInstances with
// update.OutOfServiceFilter and with status DRAINING, and one DescribeContainerInstances of what
// those found (one per 100). Instances that are registering or deregistering are in neither the
// size nor the instances, as ECS's registered count leaves them out, unless rollwave marked them.
func (c *Client) Census(ctx context.Context, cluster string) (Census, error) {
	first, err := c.api.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(pageSize)})
	if err != nil {
		return Census{}, fmt.Errorf("list container instances of %s: %w", cluster, classify(err))
	}
	if aws.ToString(first.NextToken) == "" {
		all, _, err := c.describeInstances(ctx, cluster, first.ContainerInstanceArns)
		if err != nil {
			return Census{}, fmt.Errorf("describe container instances of %s: %w", cluster, err)
		}
		return censusOf(all), nil
	}
	cs, err := c.Clusters(ctx, []string{cluster})
	if err != nil {
		return Census{}, err
	}
	arns, err := c.listInstanceARNs(ctx, cluster, "", update.OutOfServiceFilter())
	if err != nil {
		return Census{}, fmt.Errorf("list container instances of %s out of service: %w", cluster, err)
	}
	draining, err := c.listInstanceARNs(ctx, cluster, StatusDraining, "")
	if err != nil {
		return Census{}, fmt.Errorf("list container instances of %s draining: %w", cluster, err)
	}
	seen := make(map[string]bool, len(arns))
	for _, a := range arns {
		seen[a] = true
	}
	for _, a := range draining {
		if !seen[a] {
			arns = append(arns, a)
		}
	}
	instances, _, err := c.describeInstances(ctx, cluster, arns)
	if err != nil {
		return Census{}, fmt.Errorf("describe container instances of %s out of service: %w", cluster, err)
	}
	return Census{Registered: cs[0].RegisteredInstances, Instances: instances}, nil
}

// censusOf is the census of a cluster read whole, all: what the reads of a larger cluster's
// census would have found (DescribeClusters counts ACTIVE and DRAINING; the filter finds a
// disconnected agent or a stage whatever the status), and all besides.
func censusOf(all []Instance) Census {
	c := Census{All: all}
	for _, in := range all {
		if in.Status == StatusActive || in.Status == StatusDraining {
			c.Registered++
		}
		if v := in.View(); in.Status == StatusDraining || !v.AgentConnected || v.Stage.TakenOutOfService() {
			c.Instances = append(c.Instances, in)
		}
	}
	return c
}
