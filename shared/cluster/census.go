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
	// Registered is the cluster's container instances, of every status but INACTIVE, as
	// ListContainerInstances lists them.
	Registered int
	// Instances are the instances out of service (update.InstanceView.OutOfService): not
	// ACTIVE, their agent disconnected, or taken out of service by rollwave.
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
// DescribeContainerInstances. A larger one costs eight calls, where a read of every instance
// costs two per 100: that first page, DescribeClusters for its size (ACTIVE and DRAINING
// instances), ListContainerInstances with update.OutOfServiceFilter and with each status other
// than ACTIVE (DRAINING, REGISTERING, DEREGISTERING, REGISTRATION_FAILED), and one
// DescribeContainerInstances of what those found (one per 100).
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
	registered := cs[0].RegisteredInstances
	arns, err := c.listInstanceARNs(ctx, cluster, "", update.OutOfServiceFilter())
	if err != nil {
		return Census{}, fmt.Errorf("list container instances of %s out of service: %w", cluster, err)
	}
	seen := make(map[string]bool, len(arns))
	for _, a := range arns {
		seen[a] = true
	}
	for _, status := range notActive {
		found, err := c.listInstanceARNs(ctx, cluster, status, "")
		if err != nil {
			return Census{}, fmt.Errorf("list container instances of %s %s: %w", cluster, status, err)
		}
		if status != StatusDraining {
			registered += len(found) // not in ECS's registered count, but in the cluster
		}
		for _, a := range found {
			if !seen[a] {
				seen[a] = true
				arns = append(arns, a)
			}
		}
	}
	instances, _, err := c.describeInstances(ctx, cluster, arns)
	if err != nil {
		return Census{}, fmt.Errorf("describe container instances of %s out of service: %w", cluster, err)
	}
	return Census{Registered: registered, Instances: instances}, nil
}

// notActive are the statuses of a registered container instance other than ACTIVE: each one
// out of service (update.InstanceView.OutOfService).
var notActive = []string{StatusDraining, "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED"}

// censusOf is the census of a cluster read whole, all: what the reads of a larger cluster's
// census would have found, and all besides.
func censusOf(all []Instance) Census {
	c := Census{Registered: len(all), All: all}
	for _, in := range all {
		if in.View().OutOfService() {
			c.Instances = append(c.Instances, in)
		}
	}
	return c
}
