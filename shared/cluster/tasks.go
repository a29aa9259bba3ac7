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
	return c.tasks(ctx, cluster, instanceARN, "on "+instanceARN)
}

// ClusterTasks returns every task of the cluster whose desired status is RUNNING, on any
// instance, as Tasks does for one instance: one paged listing and a describe per 100 tasks, so
// reading a whole fleet costs a call per hundred tasks, not two per instance.
func (c *Client) ClusterTasks(ctx context.Context, cluster string) ([]Task, error) {
	return c.tasks(ctx, cluster, "", "of "+cluster)
}

// tasks lists and describes the RUNNING-desired tasks of cluster, of one instance unless
// instanceARN is ""; where names them in errors.
func (c *Client) tasks(ctx context.Context, cluster, instanceARN, where string) ([]Task, error) {
	in := &ecs.ListTasksInput{
		Cluster:    aws.String(cluster),
		MaxResults: aws.Int32(pageSize),
	}
	if instanceARN != "" {
		in.ContainerInstance = aws.String(instanceARN)
	}
	var arns []string
	for {
		out, err := c.api.ListTasks(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list tasks %s: %w", where, classify(err))
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
			return nil, fmt.Errorf("describe tasks %s: %w", where, classify(err))
		}
		for _, t := range out.Tasks {
			tasks = append(tasks, taskFrom(t))
		}
	}
	return tasks, nil
}

// StopTask stops the task taskARN of cluster (ECS's StopTask: its containers get SIGTERM, then
// SIGKILL after their stop timeout), with reason recorded as the task's stopped reason. Stopping
// a task that is already stopping or stopped is not an error. Only the standalone-task policy
// "stop", opted into explicitly, calls it.
func (c *Client) StopTask(ctx context.Context, cluster, taskARN, reason string) error {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	_, err := c.api.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(taskARN), Reason: aws.String(reason)})
	if err != nil {
		return fmt.Errorf("stop task %s: %w", taskARN, classify(err))
	}
	return nil
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
		StartedAt:     aws.ToTime(t.StartedAt),
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
