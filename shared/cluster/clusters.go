package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ClusterExists reports whether the cluster name (or ARN) exists and is ACTIVE.
func (c *Client) ClusterExists(ctx context.Context, name string) (bool, error) {
	cs, err := c.Clusters(ctx, []string{name})
	if errors.Is(err, ErrClusterNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cs[0].Status == "ACTIVE", nil
}

// Clusters describes the named clusters (names or ARNs) with their tags, 100 per call, in the
// order given. A name that ECS does not know makes it return an error that Is
// ErrClusterNotFound and names it. A deleted cluster is returned with status INACTIVE.
func (c *Client) Clusters(ctx context.Context, names []string) ([]Cluster, error) {
	byKey := map[string]Cluster{}
	for batch := range slices.Chunk(names, describeBatch) {
		out, err := c.api.DescribeClusters(ctx, &ecs.DescribeClustersInput{
			Clusters: batch,
			Include:  []types.ClusterField{types.ClusterFieldTags},
		})
		if err != nil {
			return nil, fmt.Errorf("describe clusters: %w", classify(err))
		}
		if len(out.Failures) > 0 {
			f := out.Failures[0]
			return nil, fmt.Errorf("describe cluster %s: %w (%s)", aws.ToString(f.Arn), ErrClusterNotFound, aws.ToString(f.Reason))
		}
		for _, cl := range out.Clusters {
			c := clusterFrom(cl)
			byKey[c.Name], byKey[c.ARN] = c, c
		}
	}
	clusters := make([]Cluster, 0, len(names))
	for _, n := range names {
		c, ok := byKey[n]
		if !ok {
			return nil, fmt.Errorf("describe cluster %s: %w", n, ErrClusterNotFound)
		}
		clusters = append(clusters, c)
	}
	return clusters, nil
}

// ClustersTagged returns every ACTIVE cluster of the account and region that carries the tag
// key with value value ("" = any value). It reads every page of ListClusters.
func (c *Client) ClustersTagged(ctx context.Context, key, value string) ([]Cluster, error) {
	in := &ecs.ListClustersInput{MaxResults: aws.Int32(pageSize)}
	var arns []string
	for {
		out, err := c.api.ListClusters(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", classify(err))
		}
		arns = append(arns, out.ClusterArns...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	all, err := c.Clusters(ctx, arns)
	if err != nil {
		return nil, err
	}
	var tagged []Cluster
	for _, cl := range all {
		v, ok := cl.Tags[key]
		if ok && cl.Status == "ACTIVE" && (value == "" || v == value) {
			tagged = append(tagged, cl)
		}
	}
	return tagged, nil
}

func clusterFrom(cl types.Cluster) Cluster {
	out := Cluster{
		Name:                aws.ToString(cl.ClusterName),
		ARN:                 aws.ToString(cl.ClusterArn),
		Status:              aws.ToString(cl.Status),
		RegisteredInstances: int(cl.RegisteredContainerInstancesCount),
		RunningTasks:        int(cl.RunningTasksCount),
		PendingTasks:        int(cl.PendingTasksCount),
		ActiveServices:      int(cl.ActiveServicesCount),
		Tags:                map[string]string{},
	}
	for _, t := range cl.Tags {
		out.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}
