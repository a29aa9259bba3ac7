package cluster

import (
	"context"
	"fmt"
)

// CountInstances returns how many container instances of cluster (every status but INACTIVE)
// match filter, an expression of the cluster query language such as
// "attribute:rollwave.stage in [staging, staged]". It reads the pages of ListContainerInstances
// only, never describing an instance: one call per 100 matches.
func (c *Client) CountInstances(ctx context.Context, cluster, filter string) (int, error) {
	arns, err := c.listInstanceARNs(ctx, cluster, "", filter)
	if err != nil {
		return 0, fmt.Errorf("count container instances of %s: %w", cluster, err)
	}
	return len(arns), nil
}
