package ecsevent

import (
	"errors"
	"time"
)

// Attribute is an ECS attribute of a container instance; Value is nil for a capability without
// a value.
type Attribute struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// VersionInfo is the agent and Docker version of a container instance.
type VersionInfo struct {
	AgentHash     string `json:"agentHash"`
	AgentVersion  string `json:"agentVersion"`
	DockerVersion string `json:"dockerVersion"`
}

// ContainerInstanceStateChange is the detail of "ECS Container Instance State Change": the
// container instance as DescribeContainerInstances would show it, with the fields rollwave uses.
type ContainerInstanceStateChange struct {
	ClusterARN           string       `json:"clusterArn"`
	ContainerInstanceARN string       `json:"containerInstanceArn"`
	EC2InstanceID        string       `json:"ec2InstanceId"`
	Status               string       `json:"status"` // REGISTERING, ACTIVE, DRAINING, DEREGISTERING, INACTIVE, ...
	StatusReason         string       `json:"statusReason,omitempty"`
	AgentConnected       bool         `json:"agentConnected"`
	RunningTasksCount    int          `json:"runningTasksCount"`
	PendingTasksCount    int          `json:"pendingTasksCount"`
	Attributes           []Attribute  `json:"attributes"`
	VersionInfo          *VersionInfo `json:"versionInfo,omitempty"`
	Version              int64        `json:"version"`
	UpdatedAt            time.Time    `json:"updatedAt"`
}

func (c *ContainerInstanceStateChange) validate() error {
	if c.ContainerInstanceARN == "" {
		return errors.New("containerInstanceArn is missing")
	}
	return nil
}

// ResourceARN is the container instance ARN.
func (c *ContainerInstanceStateChange) ResourceARN() string { return c.ContainerInstanceARN }

// ResourceVersion is detail.version.
func (c *ContainerInstanceStateChange) ResourceVersion() int64 { return c.Version }

// Attribute returns the value of the named attribute (for example "rollwave.stage") and whether
// the instance has it.
func (c *ContainerInstanceStateChange) Attribute(name string) (string, bool) {
	for _, a := range c.Attributes {
		if a.Name == name {
			if a.Value == nil {
				return "", true
			}
			return *a.Value, true
		}
	}
	return "", false
}

// Drained reports whether the instance is DRAINING with no task running or pending: the drain
// is complete as far as this event shows.
func (c *ContainerInstanceStateChange) Drained() bool {
	return c.Status == "DRAINING" && c.RunningTasksCount == 0 && c.PendingTasksCount == 0
}

// Container is one container of a task.
type Container struct {
	ContainerARN string `json:"containerArn"`
	Name         string `json:"name"`
	LastStatus   string `json:"lastStatus"`
	ExitCode     *int   `json:"exitCode,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// TaskStateChange is the detail of "ECS Task State Change": the task as DescribeTasks would show
// it, without health (which the event does not carry).
type TaskStateChange struct {
	TaskARN              string      `json:"taskArn"`
	ClusterARN           string      `json:"clusterArn"`
	ContainerInstanceARN string      `json:"containerInstanceArn,omitempty"` // empty on Fargate
	TaskDefinitionARN    string      `json:"taskDefinitionArn"`
	Group                string      `json:"group"`     // service:<name> or family:<name>
	StartedBy            string      `json:"startedBy"` // ecs-svc/<id> for a service's task
	LaunchType           string      `json:"launchType"`
	LastStatus           string      `json:"lastStatus"`
	DesiredStatus        string      `json:"desiredStatus"`
	StoppedReason        string      `json:"stoppedReason,omitempty"`
	StopCode             string      `json:"stopCode,omitempty"`
	Containers           []Container `json:"containers"`
	AvailabilityZone     string      `json:"availabilityZone,omitempty"`
	CreatedAt            *time.Time  `json:"createdAt,omitempty"`
	StartedAt            *time.Time  `json:"startedAt,omitempty"`
	StoppedAt            *time.Time  `json:"stoppedAt,omitempty"`
	UpdatedAt            *time.Time  `json:"updatedAt,omitempty"`
	Version              int64       `json:"version"`
}

func (t *TaskStateChange) validate() error {
	if t.TaskARN == "" {
		return errors.New("taskArn is missing")
	}
	return nil
}

// ResourceARN is the task ARN.
func (t *TaskStateChange) ResourceARN() string { return t.TaskARN }

// ResourceVersion is detail.version.
func (t *TaskStateChange) ResourceVersion() int64 { return t.Version }

// JobEnded is the detail of rollwave's "Instance Update Succeeded", "Failed" and "Skipped" events
// (notify.JobDetail, docs/events.md), with the fields a waiter uses: which cluster's job ended,
// at which step, and whether it was a dry run. The worker that ends a job publishes it after it
// removed (or rewrote) the instance's marks, so by then the instance counts against its cluster's
// limit only if the job left it out of service.
type JobEnded struct {
	JobID                string `json:"jobId"`
	Cluster              string `json:"cluster"` // name or ARN, as the job names it
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	Outcome              string `json:"outcome,omitempty"`
	Reason               string `json:"reason,omitempty"`
	Step                 string `json:"step,omitempty"` // stage, drain, reboot or verify
	DryRun               bool   `json:"dryRun,omitempty"`
}

func (j *JobEnded) validate() error {
	var missing []error
	if j.JobID == "" {
		missing = append(missing, errors.New("jobId is missing"))
	}
	if j.Cluster == "" {
		missing = append(missing, errors.New("cluster is missing"))
	}
	return errors.Join(missing...)
}
