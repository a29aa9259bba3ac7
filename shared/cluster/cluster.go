// Package cluster is rollwave's adapter for Amazon ECS: it lists and describes container
// instances, tasks, services and clusters, drains and re-activates instances, and reads and
// writes the custom attributes that rollwave keeps on an instance.
//
// The adapter owns everything that is specific to the ECS API: paging (ListContainerInstances,
// ListTasks and ListServices are read to the end), batch limits (100 per describe, 10 per
// UpdateContainerInstancesState, 10 per DescribeServices, 10 per PutAttributes), error
// classification (errors.go) and the mapping of SDK structs to the plain types below. No SDK type
// appears in its exported API.
//
// Services do not depend on *Client directly: each declares the one to three methods it needs
// as its own interface, which both *Client and clustertest.Fake satisfy.
package cluster

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// ecsAPI lists the ECS operations the adapter calls, with the SDK's signatures, so that
// *ecs.Client satisfies it.
type ecsAPI interface {
	ListContainerInstances(ctx context.Context, params *ecs.ListContainerInstancesInput, optFns ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error)
	DescribeContainerInstances(ctx context.Context, params *ecs.DescribeContainerInstancesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
	UpdateContainerInstancesState(ctx context.Context, params *ecs.UpdateContainerInstancesStateInput, optFns ...func(*ecs.Options)) (*ecs.UpdateContainerInstancesStateOutput, error)
	PutAttributes(ctx context.Context, params *ecs.PutAttributesInput, optFns ...func(*ecs.Options)) (*ecs.PutAttributesOutput, error)
	DeleteAttributes(ctx context.Context, params *ecs.DeleteAttributesInput, optFns ...func(*ecs.Options)) (*ecs.DeleteAttributesOutput, error)
	ListTasks(ctx context.Context, params *ecs.ListTasksInput, optFns ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, params *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, params *ecs.StopTaskInput, optFns ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
	ListServices(ctx context.Context, params *ecs.ListServicesInput, optFns ...func(*ecs.Options)) (*ecs.ListServicesOutput, error)
	DescribeServices(ctx context.Context, params *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	ListClusters(ctx context.Context, params *ecs.ListClustersInput, optFns ...func(*ecs.Options)) (*ecs.ListClustersOutput, error)
	DescribeClusters(ctx context.Context, params *ecs.DescribeClustersInput, optFns ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error)
}

var _ ecsAPI = (*ecs.Client)(nil)

// Limits of the ECS API that the adapter batches and pages by.
const (
	pageSize          = 100 // ListContainerInstances, ListTasks, ListClusters maxResults
	describeBatch     = 100 // DescribeContainerInstances, DescribeTasks, DescribeClusters
	updateStateBatch  = 10  // UpdateContainerInstancesState
	putAttributeBatch = 10  // PutAttributes
	servicesBatch     = 10  // DescribeServices
)

// Container instance statuses (ECS's strings).
const (
	StatusActive   = "ACTIVE"
	StatusDraining = "DRAINING"
)

// Client is the ECS adapter. It is safe for concurrent use.
type Client struct {
	api ecsAPI
}

// New returns a Client that calls ECS through api, normally an *ecs.Client.
func New(api *ecs.Client) *Client { return &Client{api: api} }

// newClient is New for any implementation of ecsAPI (tests).
func newClient(api ecsAPI) *Client { return &Client{api: api} }

// Instance is an ECS container instance as rollwave sees it.
type Instance struct {
	ARN            string
	EC2InstanceID  string
	Cluster        string // the cluster as the caller named it (name or ARN)
	Status         string // ACTIVE, DRAINING, REGISTERING, DEREGISTERING, REGISTRATION_FAILED, INACTIVE
	AgentConnected bool
	RunningTasks   int
	PendingTasks   int
	// Attributes holds every attribute of the instance, those ECS and the agent set (ecs.*,
	// bottlerocket.variant, capabilities) and the custom ones rollwave sets. An attribute
	// without a value maps to "".
	Attributes       map[string]string
	RegisteredCPU    int
	RegisteredMemory int // MiB
	RemainingCPU     int
	RemainingMemory  int    // MiB
	AZ               string // from the ecs.availability-zone attribute
	RegisteredAt     time.Time
}

// Task is an ECS task placed on a container instance.
type Task struct {
	ARN           string
	InstanceARN   string
	Group         string // "service:<name>" or "family:<name>"
	StartedBy     string // "ecs-svc/<id>" for tasks a service started
	LastStatus    string
	DesiredStatus string
	CPU           int // CPU units, 0 when not set at task level
	Memory        int // MiB, 0 when not set at task level
	// StartedAt is when the task started running; zero while it has not.
	StartedAt time.Time
}

// Service is an ECS service's counts and deployment configuration.
type Service struct {
	Name              string
	ARN               string
	Status            string // ACTIVE, DRAINING, INACTIVE
	Desired           int
	Running           int
	Pending           int
	MinHealthyPercent int
	MaxPercent        int
	Deployments       int
	// Daemon is true for a DAEMON service (one task on every instance), whose desired count
	// follows the instances rather than a number someone chose.
	Daemon bool
	// Settled is true when the service has a single deployment and runs exactly its desired
	// count with nothing pending: no deployment or replacement is in progress.
	Settled bool
}

// Cluster is an ECS cluster's identity and counts.
type Cluster struct {
	Name                string
	ARN                 string
	Status              string // ACTIVE, PROVISIONING, DEPROVISIONING, FAILED, INACTIVE
	RegisteredInstances int
	RunningTasks        int
	PendingTasks        int
	ActiveServices      int
	Tags                map[string]string
}
