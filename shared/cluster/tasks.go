package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Tasks returns the tasks on the container instance instanceARN of cluster whose desired status
// is RUNNING (ECS's default for ListTasks: running and pending tasks that are meant to keep
// running). It reads every page of ListTasks, unlike the original updater, which read only the
// first 100, and describes the tasks in batches of 100.
//
// A task that ECS is stopping (desired STOPPED, last status still RUNNING) is not listed: to
// know whether a drain has finished, look at Instance.RunningTasks and PendingTasks instead.
func (c *Client) Tasks(ctx context.Context, cluster, instanceARN string) ([]Task, error) {
	in := &ecs.ListTasksInput{
		Cluster:           aws.String(cluster),
		ContainerInstance: aws.String(instanceARN),
		MaxResults:        aws.Int32(pageSize),
	}
	var arns []string
	for {
		out, err := c.api.ListTasks(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list tasks on %s: %w", instanceARN, classify(err))
		}
		arns = append(arns, out.TaskArns...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	var tasks []Task
	for batch := range slices.Chunk(arns, describeBatch) {
		out, err := c.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: batch})
		if err != nil {
			return nil, fmt.Errorf("describe tasks on %s: %w", instanceARN, classify(err))
		}
		for _, t := range out.Tasks {
			tasks = append(tasks, taskFrom(t))
		}
	}
	return tasks, nil
}

func taskFrom(t types.Task) Task {
	return Task{
		ARN:           aws.ToString(t.TaskArn),
		InstanceARN:   aws.ToString(t.ContainerInstanceArn),
		Group:         aws.ToString(t.Group),
		StartedBy:     aws.ToString(t.StartedBy),
		LastStatus:    aws.ToString(t.LastStatus),
		DesiredStatus: aws.ToString(t.DesiredStatus),
		CPU:           atoi(aws.ToString(t.Cpu)),
		Memory:        atoi(aws.ToString(t.Memory)),
	}
}

// atoi reads ECS's task-level cpu and memory strings; anything but an integer (unset, "1 vCPU")
// reads as 0.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
