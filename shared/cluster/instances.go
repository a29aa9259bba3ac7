package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ListInstances returns every container instance of cluster whose status is status ("" = every
// status except INACTIVE, as ECS does) and that matches filter, an expression of the cluster
// query language ("" = no filter), for example "attribute:bottlerocket.variant exists".
// It reads every page of ListContainerInstances and describes the instances in batches of 100;
// an instance deregistered between the two calls is left out.
func (c *Client) ListInstances(ctx context.Context, cluster, status, filter string) ([]Instance, error) {
	arns, err := c.listInstanceARNs(ctx, cluster, status, filter)
	if err != nil {
		return nil, fmt.Errorf("list container instances of %s: %w", cluster, err)
	}
	instances, _, err := c.describeInstances(ctx, cluster, arns)
	if err != nil {
		return nil, fmt.Errorf("describe container instances of %s: %w", cluster, err)
	}
	return instances, nil
}

// Instance returns one container instance of cluster, named by its EC2 instance ID ("i-…",
// "mi-…") or by its container instance ARN (or the ARN's last element, the container
// instance ID). It returns an error that Is ErrInstanceNotFound when no such instance is
// registered (INACTIVE instances are not found by EC2 instance ID).
func (c *Client) Instance(ctx context.Context, cluster, idOrARN string) (Instance, error) {
	arn := idOrARN
	if isEC2InstanceID(idOrARN) {
		arns, err := c.listInstanceARNs(ctx, cluster, "", "ec2InstanceId == "+idOrARN)
		if err != nil {
			return Instance{}, fmt.Errorf("find container instance %s in %s: %w", idOrARN, cluster, err)
		}
		if len(arns) == 0 {
			return Instance{}, fmt.Errorf("find container instance %s in %s: %w", idOrARN, cluster, ErrInstanceNotFound)
		}
		arn = arns[0]
	}
	instances, missing, err := c.describeInstances(ctx, cluster, []string{arn})
	if err != nil {
		return Instance{}, fmt.Errorf("describe container instance %s in %s: %w", idOrARN, cluster, err)
	}
	if len(instances) == 0 {
		return Instance{}, fmt.Errorf("describe container instance %s in %s: %w (%s)", idOrARN, cluster, ErrInstanceNotFound, strings.Join(missing, ", "))
	}
	return instances[0], nil
}

func isEC2InstanceID(s string) bool {
	return strings.HasPrefix(s, "i-") || strings.HasPrefix(s, "mi-")
}

func (c *Client) listInstanceARNs(ctx context.Context, cluster, status, filter string) ([]string, error) {
	in := &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(pageSize)}
	if status != "" {
		in.Status = types.ContainerInstanceStatus(status)
	}
	if filter != "" {
		in.Filter = aws.String(filter)
	}
	var arns []string
	for {
		out, err := c.api.ListContainerInstances(ctx, in)
		if err != nil {
			return nil, classify(err)
		}
		arns = append(arns, out.ContainerInstanceArns...)
		if aws.ToString(out.NextToken) == "" {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
}

// describeInstances describes arns in batches and returns the instances found, in the order
// ECS returned them, and the failure reasons of those not found ("<arn>: MISSING").
func (c *Client) describeInstances(ctx context.Context, cluster string, arns []string) ([]Instance, []string, error) {
	var (
		instances []Instance
		missing   []string
	)
	for batch := range slices.Chunk(arns, describeBatch) {
		out, err := c.api.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
			Cluster:            aws.String(cluster),
			ContainerInstances: batch,
		})
		if err != nil {
			return nil, nil, classify(err)
		}
		for _, ci := range out.ContainerInstances {
			instances = append(instances, instanceFrom(cluster, ci))
		}
		for _, f := range out.Failures {
			missing = append(missing, aws.ToString(f.Arn)+": "+aws.ToString(f.Reason))
		}
	}
	return instances, missing, nil
}

func instanceFrom(cluster string, ci types.ContainerInstance) Instance {
	in := Instance{
		ARN:            aws.ToString(ci.ContainerInstanceArn),
		EC2InstanceID:  aws.ToString(ci.Ec2InstanceId),
		Cluster:        cluster,
		Status:         aws.ToString(ci.Status),
		AgentConnected: ci.AgentConnected,
		RunningTasks:   int(ci.RunningTasksCount),
		PendingTasks:   int(ci.PendingTasksCount),
		Attributes:     make(map[string]string, len(ci.Attributes)),
		RegisteredAt:   aws.ToTime(ci.RegisteredAt),
	}
	for _, a := range ci.Attributes {
		in.Attributes[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	in.AZ = in.Attributes["ecs.availability-zone"]
	in.RegisteredCPU, in.RegisteredMemory = cpuAndMemory(ci.RegisteredResources)
	in.RemainingCPU, in.RemainingMemory = cpuAndMemory(ci.RemainingResources)
	return in
}

func cpuAndMemory(rs []types.Resource) (cpu, memory int) {
	for _, r := range rs {
		switch aws.ToString(r.Name) {
		case "CPU":
			cpu = int(r.IntegerValue)
		case "MEMORY":
			memory = int(r.IntegerValue)
		}
	}
	return cpu, memory
}

// SetState sets the status of the container instances arns of cluster to status, ACTIVE or
// DRAINING, in batches of 10 (ECS's limit). ECS refuses some instances individually; those are
// returned in failures, keyed by ARN, with ECS's reason (for example "INACTIVE" for an instance
// that was deregistered, or a reason saying that it is not ACTIVE when asked to drain). An
// error means that a whole call failed; failures then holds what earlier batches reported.
func (c *Client) SetState(ctx context.Context, cluster string, arns []string, status string) (failures map[string]string, err error) {
	if status != StatusActive && status != StatusDraining {
		return nil, fmt.Errorf("set state of container instances in %s to %q: %w: status must be ACTIVE or DRAINING", cluster, status, ErrInvalid)
	}
	failures = map[string]string{}
	for batch := range slices.Chunk(arns, updateStateBatch) {
		out, err := c.api.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
			Cluster:            aws.String(cluster),
			ContainerInstances: batch,
			Status:             types.ContainerInstanceStatus(status),
		})
		if err != nil {
			return failures, fmt.Errorf("set state of container instances in %s to %s: %w", cluster, status, classify(err))
		}
		for _, f := range out.Failures {
			reason := aws.ToString(f.Reason)
			if d := aws.ToString(f.Detail); d != "" {
				reason += ": " + d
			}
			failures[aws.ToString(f.Arn)] = reason
		}
	}
	return failures, nil
}

// PutAttributes sets custom attributes (name → value, "" for an attribute without a value) on
// the container instance arn of cluster, at most 10 per call in name order. ECS allows at most
// 10 custom attributes per instance: going beyond returns an error that Is ErrAttributeLimit,
// possibly after earlier batches were written. Overwriting an attribute that exists does not
// count against the limit.
func (c *Client) PutAttributes(ctx context.Context, cluster, arn string, attrs map[string]string) error {
	names := slices.Sorted(maps.Keys(attrs))
	for batch := range slices.Chunk(names, putAttributeBatch) {
		in := &ecs.PutAttributesInput{Cluster: aws.String(cluster)}
		for _, n := range batch {
			a := types.Attribute{Name: aws.String(n), TargetId: aws.String(arn), TargetType: types.TargetTypeContainerInstance}
			if v := attrs[n]; v != "" {
				a.Value = aws.String(v)
			}
			in.Attributes = append(in.Attributes, a)
		}
		if _, err := c.api.PutAttributes(ctx, in); err != nil {
			return fmt.Errorf("put attributes %s on %s: %w", strings.Join(batch, ","), arn, classify(err))
		}
	}
	return nil
}

// DeleteAttributes removes the named custom attributes from the container instance arn of
// cluster. Deleting an attribute that the instance does not have is not an error.
func (c *Client) DeleteAttributes(ctx context.Context, cluster, arn string, names ...string) error {
	for batch := range slices.Chunk(names, putAttributeBatch) {
		in := &ecs.DeleteAttributesInput{Cluster: aws.String(cluster)}
		for _, n := range batch {
			in.Attributes = append(in.Attributes, types.Attribute{Name: aws.String(n), TargetId: aws.String(arn), TargetType: types.TargetTypeContainerInstance})
		}
		if _, err := c.api.DeleteAttributes(ctx, in); err != nil {
			return fmt.Errorf("delete attributes %s from %s: %w", strings.Join(batch, ","), arn, classify(err))
		}
	}
	return nil
}
