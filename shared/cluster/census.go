package cluster

import (
	"context"
	"fmt"

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
}

// View is the census as admission decides on it.
func (c Census) View() update.Census {
	return update.Census{Total: c.Registered, Instances: Views(c.Instances)}
}

// Census reads cluster for the limits in four calls, whatever its size: DescribeClusters for its
// size, ListContainerInstances with update.OutOfServiceFilter and with status DRAINING, and one
// DescribeContainerInstances of what those found (one per 100). A read of every instance
// (ListInstances) costs two calls per 100 instances and describes instances that serve.
// Instances that are registering or deregistering are in neither the size nor the instances,
// as ECS's registered count leaves them out, unless rollwave marked them.
func (c *Client) Census(ctx context.Context, cluster string) (Census, error) {
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
