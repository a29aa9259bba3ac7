package sim

import (
	"strconv"
	"time"
)

// Epoch is a timestamp that marshals as epoch seconds, as the awsJson1_1 protocol wants. The
// events package rewrites these fields to ISO strings for EventBridge.
type Epoch time.Time

// MarshalJSON writes seconds since the epoch with millisecond precision.
func (e Epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

func epoch(t time.Time) *Epoch {
	if t.IsZero() {
		return nil
	}
	e := Epoch(t)
	return &e
}

// AttributeView is the ECS Attribute shape.
type AttributeView struct {
	Name       string  `json:"name"`
	Value      *string `json:"value,omitempty"`
	TargetType string  `json:"targetType,omitempty"`
	TargetID   string  `json:"targetId,omitempty"`
}

// ResourceView is the ECS Resource shape.
type ResourceView struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	IntegerValue   int      `json:"integerValue"`
	DoubleValue    float64  `json:"doubleValue"`
	LongValue      int64    `json:"longValue"`
	StringSetValue []string `json:"stringSetValue,omitempty"`
}

// VersionInfo is the ECS VersionInfo shape.
type VersionInfo struct {
	AgentVersion  string `json:"agentVersion"`
	AgentHash     string `json:"agentHash"`
	DockerVersion string `json:"dockerVersion"`
}

// TagView is the ECS Tag shape.
type TagView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ContainerInstanceView is the ECS ContainerInstance shape (also the detail of a "ECS Container
// Instance State Change" event).
type ContainerInstanceView struct {
	ContainerInstanceArn string          `json:"containerInstanceArn"`
	ClusterArn           string          `json:"clusterArn,omitempty"`
	Ec2InstanceID        string          `json:"ec2InstanceId"`
	Status               string          `json:"status"`
	StatusReason         string          `json:"statusReason,omitempty"`
	AgentConnected       bool            `json:"agentConnected"`
	AgentUpdateStatus    string          `json:"agentUpdateStatus,omitempty"`
	RunningTasksCount    int             `json:"runningTasksCount"`
	PendingTasksCount    int             `json:"pendingTasksCount"`
	Attributes           []AttributeView `json:"attributes"`
	RegisteredResources  []ResourceView  `json:"registeredResources"`
	RemainingResources   []ResourceView  `json:"remainingResources"`
	RegisteredAt         *Epoch          `json:"registeredAt,omitempty"`
	UpdatedAt            *Epoch          `json:"updatedAt,omitempty"`
	Version              int64           `json:"version"`
	VersionInfo          VersionInfo     `json:"versionInfo"`
	Attachments          []any           `json:"attachments"`
	Tags                 []TagView       `json:"tags,omitempty"`
	AccountType          string          `json:"accountType,omitempty"`
}

// agentVersion is the ECS agent version every simulated instance reports.
const agentVersion = "1.89.2"

func resources(cpu, mem int) []ResourceView {
	return []ResourceView{
		{Name: "CPU", Type: "INTEGER", IntegerValue: cpu},
		{Name: "MEMORY", Type: "INTEGER", IntegerValue: mem},
		{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
		{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{}},
	}
}

func (w *World) instanceView(in *Instance, forEvent bool) ContainerInstanceView {
	running, pending := in.counts()
	uc, um := in.used()
	v := ContainerInstanceView{
		ContainerInstanceArn: in.ARN,
		Ec2InstanceID:        in.EC2ID,
		Status:               in.Status,
		AgentConnected:       in.AgentConnected,
		RunningTasksCount:    running,
		PendingTasksCount:    pending,
		RegisteredResources:  resources(in.CPU, in.Memory),
		RemainingResources:   resources(in.CPU-uc, in.Memory-um),
		RegisteredAt:         epoch(in.RegisteredAt),
		Version:              in.version,
		VersionInfo:          VersionInfo{AgentVersion: agentVersion, AgentHash: "b7c3e4d2", DockerVersion: "DockerVersion: 25.0.8"},
		Attachments:          []any{},
	}
	for _, a := range in.attrs {
		av := AttributeView{Name: a.Name}
		if a.Value != "" {
			val := a.Value
			av.Value = &val
		}
		v.Attributes = append(v.Attributes, av)
	}
	if forEvent {
		v.ClusterArn = in.cluster.ARN
		v.UpdatedAt = epoch(in.UpdatedAt)
		v.AccountType = "ec2_instance"
	}
	return v
}

// ContainerView is the ECS Container shape (trimmed).
type ContainerView struct {
	ContainerArn string `json:"containerArn"`
	TaskArn      string `json:"taskArn"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	LastStatus   string `json:"lastStatus"`
	ExitCode     *int   `json:"exitCode,omitempty"`
	CPU          string `json:"cpu"`
	Memory       string `json:"memory"`
}

// TaskView is the ECS Task shape (also the detail of an "ECS Task State Change" event).
type TaskView struct {
	TaskArn              string          `json:"taskArn"`
	ClusterArn           string          `json:"clusterArn"`
	ContainerInstanceArn string          `json:"containerInstanceArn"`
	TaskDefinitionArn    string          `json:"taskDefinitionArn"`
	Group                string          `json:"group"`
	StartedBy            string          `json:"startedBy,omitempty"`
	LaunchType           string          `json:"launchType"`
	LastStatus           string          `json:"lastStatus"`
	DesiredStatus        string          `json:"desiredStatus"`
	CPU                  string          `json:"cpu"`
	Memory               string          `json:"memory"`
	Containers           []ContainerView `json:"containers"`
	CreatedAt            *Epoch          `json:"createdAt,omitempty"`
	PullStartedAt        *Epoch          `json:"pullStartedAt,omitempty"`
	PullStoppedAt        *Epoch          `json:"pullStoppedAt,omitempty"`
	StartedAt            *Epoch          `json:"startedAt,omitempty"`
	ConnectivityAt       *Epoch          `json:"connectivityAt,omitempty"`
	StoppingAt           *Epoch          `json:"stoppingAt,omitempty"`
	ExecutionStoppedAt   *Epoch          `json:"executionStoppedAt,omitempty"`
	StoppedAt            *Epoch          `json:"stoppedAt,omitempty"`
	UpdatedAt            *Epoch          `json:"updatedAt,omitempty"`
	StopCode             string          `json:"stopCode,omitempty"`
	StoppedReason        string          `json:"stoppedReason,omitempty"`
	AvailabilityZone     string          `json:"availabilityZone"`
	Version              int64           `json:"version"`
	Attachments          []any           `json:"attachments"`
}

func (w *World) taskView(t *Task) TaskView {
	cs := strconv.Itoa(t.CPU)
	ms := strconv.Itoa(t.Memory)
	cv := ContainerView{ContainerArn: t.ContainerARN, TaskArn: t.ARN, Name: t.Family, Image: "public.ecr.aws/docker/library/" + t.Family + ":latest", LastStatus: t.LastStatus, ExitCode: t.ExitCode, CPU: cs, Memory: ms}
	v := TaskView{
		TaskArn: t.ARN, ClusterArn: t.cluster.ARN, ContainerInstanceArn: t.inst.ARN,
		TaskDefinitionArn: t.TaskDefARN, Group: t.Group, StartedBy: t.StartedBy, LaunchType: "EC2",
		LastStatus: t.LastStatus, DesiredStatus: t.DesiredStatus, CPU: cs, Memory: ms,
		Containers: []ContainerView{cv}, CreatedAt: epoch(t.CreatedAt), StartedAt: epoch(t.StartedAt),
		PullStartedAt: epoch(t.CreatedAt), PullStoppedAt: epoch(t.StartedAt), ConnectivityAt: epoch(t.CreatedAt),
		StoppingAt: epoch(t.StoppingAt), ExecutionStoppedAt: epoch(t.StoppedAt), StoppedAt: epoch(t.StoppedAt),
		UpdatedAt: epoch(t.UpdatedAt), StopCode: t.StopCode, StoppedReason: t.StoppedReason,
		AvailabilityZone: t.inst.AZ, Version: t.version, Attachments: []any{},
	}
	return v
}

// DeploymentView is the ECS Deployment shape.
type DeploymentView struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	TaskDefinition string `json:"taskDefinition"`
	DesiredCount   int    `json:"desiredCount"`
	PendingCount   int    `json:"pendingCount"`
	RunningCount   int    `json:"runningCount"`
	FailedTasks    int    `json:"failedTasks"`
	CreatedAt      *Epoch `json:"createdAt,omitempty"`
	UpdatedAt      *Epoch `json:"updatedAt,omitempty"`
	LaunchType     string `json:"launchType"`
	RolloutState   string `json:"rolloutState"`
}

// ServiceEventView is the ECS ServiceEvent shape.
type ServiceEventView struct {
	ID        string `json:"id"`
	CreatedAt *Epoch `json:"createdAt"`
	Message   string `json:"message"`
}

// DeploymentConfigurationView is the ECS DeploymentConfiguration shape.
type DeploymentConfigurationView struct {
	MaximumPercent        int `json:"maximumPercent"`
	MinimumHealthyPercent int `json:"minimumHealthyPercent"`
}

// ServiceView is the ECS Service shape.
type ServiceView struct {
	ServiceArn              string                      `json:"serviceArn"`
	ServiceName             string                      `json:"serviceName"`
	ClusterArn              string                      `json:"clusterArn"`
	Status                  string                      `json:"status"`
	DesiredCount            int                         `json:"desiredCount"`
	RunningCount            int                         `json:"runningCount"`
	PendingCount            int                         `json:"pendingCount"`
	LaunchType              string                      `json:"launchType"`
	SchedulingStrategy      string                      `json:"schedulingStrategy"`
	TaskDefinition          string                      `json:"taskDefinition"`
	DeploymentConfiguration DeploymentConfigurationView `json:"deploymentConfiguration"`
	Deployments             []DeploymentView            `json:"deployments"`
	Events                  []ServiceEventView          `json:"events"`
	CreatedAt               *Epoch                      `json:"createdAt"`
}

func (w *World) serviceView(s *Service) ServiceView {
	running, pending := 0, 0
	for _, in := range s.cluster.instances {
		for _, t := range in.tasks {
			if t.svc != s {
				continue
			}
			switch t.LastStatus {
			case TaskRunning:
				running++
			case TaskPending:
				pending++
			}
		}
	}
	desired := s.Desired
	strategy := "REPLICA"
	if s.Daemon {
		desired = w.daemonDesired(s)
		strategy = "DAEMON"
	}
	rollout := "COMPLETED"
	if running != desired {
		rollout = "IN_PROGRESS"
	}
	v := ServiceView{
		ServiceArn: s.ARN, ServiceName: s.Name, ClusterArn: s.cluster.ARN, Status: "ACTIVE",
		DesiredCount: desired, RunningCount: running, PendingCount: pending, LaunchType: "EC2",
		SchedulingStrategy: strategy, TaskDefinition: s.TaskDefARN,
		DeploymentConfiguration: DeploymentConfigurationView{MaximumPercent: s.MaxPct, MinimumHealthyPercent: s.MinPct},
		Deployments: []DeploymentView{{
			ID: s.DeploymentID, Status: "PRIMARY", TaskDefinition: s.TaskDefARN, DesiredCount: desired,
			PendingCount: pending, RunningCount: running, CreatedAt: epoch(s.CreatedAt), UpdatedAt: epoch(w.clock.Now()),
			LaunchType: "EC2", RolloutState: rollout,
		}},
		Events:    []ServiceEventView{},
		CreatedAt: epoch(s.CreatedAt),
	}
	for _, e := range s.events {
		v.Events = append(v.Events, ServiceEventView{ID: e.ID, CreatedAt: epoch(e.CreatedAt), Message: e.Message})
	}
	return v
}

// GetVersion returns the resource version (for tests and event consumers).
func (v ContainerInstanceView) GetVersion() int64 { return v.Version }

// GetAgentConnected returns the agent connection.
func (v ContainerInstanceView) GetAgentConnected() bool { return v.AgentConnected }
