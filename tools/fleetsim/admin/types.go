// Package admin is the client of fleetsim's admin HTTP API (under /fleetsim/) and the JSON types
// it exchanges: the report that tests assert on, the state dump and runtime faults.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a Go duration string ("90s"). Simulated durations are
// virtual: the simulator's time scale turns them into wall time.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func parseDuration(s string) (Duration, error) {
	if v, err := time.ParseDuration(s); err == nil {
		return Duration(v), nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err == nil {
		return Duration(time.Duration(secs * float64(time.Second))), nil
	}
	return 0, fmt.Errorf("parse duration %q: want a Go duration such as 90s", s)
}

// UnmarshalYAML accepts a Go duration string or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("decode duration: %w", err)
	}
	v, err := parseDuration(s)
	*d = v
	return err
}

// MarshalYAML writes a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := parseDuration(strings.Trim(string(b), `"`))
	*d = v
	return err
}

// Faults are host and API faults, as in a scenario's faults section and POST /fleetsim/faults.
type Faults struct {
	Hosts []HostFaultRule `yaml:"hosts" json:"hosts,omitempty"`
	API   []APIFault      `yaml:"api" json:"api,omitempty"`
}

// Release is a version published to the simulated update repository, as in a scenario's
// releases section and POST /fleetsim/releases. Hosts see it by Bottlerocket's waves: from
// StartAfter past the release, hosts whose settings.updates.seed (0..2047) falls below
// FleetPercentage percent of 2048 may be offered it, spread evenly until the next wave starts;
// without waves every host sees it at once.
type Release struct {
	// Variant defaults to aws-ecs-2; Arch "" offers the release on every arch.
	Variant string `yaml:"variant" json:"variant,omitempty"`
	Arch    string `yaml:"arch" json:"arch,omitempty"`
	Version string `yaml:"version" json:"version"`
	// MaxVersion lets a host running a version above it move to this release (updog's
	// max_version).
	MaxVersion string `yaml:"maxVersion" json:"maxVersion,omitempty"`
	// ReleasedAt is the virtual time after the scenario's load (after the request, for POST
	// /fleetsim/releases) at which the release is published; the waves count from then. Before
	// it the repository does not list the release at all.
	ReleasedAt Duration `yaml:"releasedAt" json:"releasedAt,omitempty"`
	Waves      []Wave   `yaml:"waves" json:"waves,omitempty"`
}

// Wave is one step of a release's rollout (Bottlerocket's waves.toml).
type Wave struct {
	StartAfter      Duration `yaml:"startAfter" json:"startAfter"`
	FleetPercentage int      `yaml:"fleetPercentage" json:"fleetPercentage"`
}

// Validate reports every problem of the release at once.
func (r Release) Validate() error {
	var errs []error
	if r.Version == "" {
		errs = append(errs, errors.New("release without a version"))
	}
	if r.ReleasedAt < 0 {
		errs = append(errs, fmt.Errorf("release %s: releasedAt %s is negative", r.Version, r.ReleasedAt.D()))
	}
	for i, w := range r.Waves {
		if w.FleetPercentage < 1 || w.FleetPercentage > 100 {
			errs = append(errs, fmt.Errorf("release %s: wave %d: fleetPercentage %d out of 1..100", r.Version, i, w.FleetPercentage))
		}
		if w.StartAfter < 0 {
			errs = append(errs, fmt.Errorf("release %s: wave %d: startAfter %s is negative", r.Version, i, w.StartAfter.D()))
		}
		if i > 0 && (w.FleetPercentage <= r.Waves[i-1].FleetPercentage || w.StartAfter < r.Waves[i-1].StartAfter) {
			errs = append(errs, fmt.Errorf("release %s: wave %d: waves must grow in fleetPercentage and not start before the previous one", r.Version, i))
		}
	}
	return errors.Join(errs...)
}

// HostFaultRule applies Faults to the hosts it selects: Instance is an EC2 instance ID, a
// container instance ARN or "*" (the default); Cluster limits it to one cluster.
type HostFaultRule struct {
	Instance string     `yaml:"instance" json:"instance,omitempty"`
	Cluster  string     `yaml:"cluster" json:"cluster,omitempty"`
	Faults   HostFaults `yaml:"faults" json:"faults"`
}

// HostFaults are what can go wrong on one host.
type HostFaults struct {
	UpdateCheckFails      bool `yaml:"updateCheckFails" json:"updateCheckFails,omitempty"`
	ApplyFails            bool `yaml:"applyFails" json:"applyFails,omitempty"`
	ApplyHangs            bool `yaml:"applyHangs" json:"applyHangs,omitempty"`
	RebootNeverReturns    bool `yaml:"rebootNeverReturns" json:"rebootNeverReturns,omitempty"`
	NewVersionFailsToBoot bool `yaml:"newVersionFailsToBoot" json:"newVersionFailsToBoot,omitempty"`
	AgentNeverReconnects  bool `yaml:"agentNeverReconnects" json:"agentNeverReconnects,omitempty"`
	SSMAgentOffline       bool `yaml:"ssmAgentOffline" json:"ssmAgentOffline,omitempty"`
	// TasksNeverStartOnVersion: while the host runs this Bottlerocket version, the service
	// tasks (replica and daemon) placed on it stay PENDING; they start once it runs another
	// version (a rollback reboots the host, which stops them, and later ones start) or the fault
	// is cleared. Standalone tasks are not affected.
	TasksNeverStartOnVersion string `yaml:"tasksNeverStartOnVersion" json:"tasksNeverStartOnVersion,omitempty"`
}

// Merge returns the union of f and o; o's TasksNeverStartOnVersion wins when set.
func (f HostFaults) Merge(o HostFaults) HostFaults {
	version := f.TasksNeverStartOnVersion
	if o.TasksNeverStartOnVersion != "" {
		version = o.TasksNeverStartOnVersion
	}
	return HostFaults{
		UpdateCheckFails:      f.UpdateCheckFails || o.UpdateCheckFails,
		ApplyFails:            f.ApplyFails || o.ApplyFails,
		ApplyHangs:            f.ApplyHangs || o.ApplyHangs,
		RebootNeverReturns:    f.RebootNeverReturns || o.RebootNeverReturns,
		NewVersionFailsToBoot: f.NewVersionFailsToBoot || o.NewVersionFailsToBoot,
		AgentNeverReconnects:  f.AgentNeverReconnects || o.AgentNeverReconnects,
		SSMAgentOffline:       f.SSMAgentOffline || o.SSMAgentOffline,

		TasksNeverStartOnVersion: version,
	}
}

// APIFault makes calls to Operation ("ecs:ListTasks", "ssm:*", or "*" for all) fail with a
// throttling error with probability ThrottleRate, with a 5xx with probability ErrorRate, and
// answer Latency (virtual) later.
type APIFault struct {
	Operation    string   `yaml:"operation" json:"operation"`
	ThrottleRate float64  `yaml:"throttleRate" json:"throttleRate,omitempty"`
	ErrorRate    float64  `yaml:"errorRate" json:"errorRate,omitempty"`
	Latency      Duration `yaml:"latency" json:"latency,omitempty"`
}

// Matches reports whether the fault applies to op ("ecs:ListTasks").
func (f APIFault) Matches(op string) bool {
	switch {
	case f.Operation == "" || f.Operation == "*":
		return true
	case strings.HasSuffix(f.Operation, ":*"):
		return strings.HasPrefix(op, strings.TrimSuffix(f.Operation, "*"))
	default:
		return strings.EqualFold(f.Operation, op)
	}
}

// Report is GET /fleetsim/report: what happened since the scenario was loaded. Times are
// virtual.
type Report struct {
	Now       time.Time        `json:"now"`
	Services  []ServiceReport  `json:"services"`
	Clusters  []ClusterReport  `json:"clusters"`
	Instances []InstanceReport `json:"instances"`
	// LeftDraining lists the EC2 instance IDs that are DRAINING now.
	LeftDraining []string `json:"leftDraining"`
	// APICalls counts every API call (faulted ones too) per "service:Operation".
	APICalls map[string]int `json:"apiCalls"`
	// APIFaults counts the calls answered with an injected throttling or server error, per
	// "service:Operation" (they are counted in APICalls too).
	APIFaults map[string]int `json:"apiFaults"`
	// APICallsByCaller splits APICalls by the access key ID that signed the call.
	APICallsByCaller map[string]map[string]int `json:"apiCallsByCaller"`
	Events           EventStats                `json:"events"`
}

// ServiceReport is one service's healthy task count over time. Running counts tasks that are
// RUNNING and not being stopped; Floor is ceil(desired × minimumHealthyPercent / 100).
type ServiceReport struct {
	Cluster               string          `json:"cluster"`
	Service               string          `json:"service"`
	Daemon                bool            `json:"daemon"`
	Desired               int             `json:"desired"`
	MinimumHealthyPercent int             `json:"minimumHealthyPercent"`
	MaximumPercent        int             `json:"maximumPercent"`
	Floor                 int             `json:"floor"`
	Running               int             `json:"running"`
	MinRunning            int             `json:"minRunning"`
	MaxRunning            int             `json:"maxRunning"`
	BelowFloor            bool            `json:"belowFloor"`
	Samples               []ServiceSample `json:"samples"`
}

// ServiceSample is the service's counts from T on.
type ServiceSample struct {
	T       time.Time `json:"t"`
	Running int       `json:"running"`
	Pending int       `json:"pending"`
}

// ClusterReport is the number of instances out of service (status not ACTIVE or agent
// disconnected) over time.
type ClusterReport struct {
	Cluster         string          `json:"cluster"`
	Instances       int             `json:"instances"`
	OutOfService    int             `json:"outOfService"`
	MaxOutOfService int             `json:"maxOutOfService"`
	Samples         []ClusterSample `json:"samples"`
}

// ClusterSample is the cluster's out-of-service count from T on.
type ClusterSample struct {
	T            time.Time `json:"t"`
	OutOfService int       `json:"outOfService"`
}

// InstanceReport is one instance's final state and what happened to it: its timeline and the
// time it spent out of service, split into the drain, the reboot and what lies beyond both.
//
// The durations sum over every drain and reboot since the scenario was loaded; an interval still
// open (an instance DRAINING now, a host still down) counts up to Report.Now. OutOfService is the
// time the status was not ACTIVE or the agent was disconnected; Drain the time from DRAINING to
// drained (or to ACTIVE again, or to the host going down, whichever came first); Reboot the time
// from host down to the agent reconnected. Drain and Reboot lie within OutOfService and never
// overlap, so Beyond = OutOfService − Drain − Reboot is the time out of service that neither the
// drain nor the reboot accounts for: what whoever drives the update spends between the steps.
type InstanceReport struct {
	Cluster              string          `json:"cluster"`
	ContainerInstanceArn string          `json:"containerInstanceArn"`
	EC2InstanceID        string          `json:"ec2InstanceId"`
	Status               string          `json:"status"`
	AgentConnected       bool            `json:"agentConnected"`
	InitialVersion       string          `json:"initialVersion"`
	Version              string          `json:"version"`
	Reboots              int             `json:"reboots"`
	RunningTasks         int             `json:"runningTasks"`
	Timeline             []InstanceEvent `json:"timeline"`
	OutOfService         Duration        `json:"outOfService"`
	Drain                Duration        `json:"drain"`
	Reboot               Duration        `json:"reboot"`
	Beyond               Duration        `json:"beyond"`
	// Attributes are the instance's custom attributes now (set by PutAttributes or the scenario),
	// by name.
	Attributes map[string]string `json:"attributes"`
	// AttributeChanges lists, in order, every change that PutAttributes and DeleteAttributes made
	// to the custom attributes since the scenario was loaded.
	AttributeChanges []AttributeChange `json:"attributeChanges"`
}

// AttributeChange is one custom attribute set to Value, or deleted, at virtual time T.
type AttributeChange struct {
	T       time.Time `json:"t"`
	Name    string    `json:"name"`
	Value   string    `json:"value,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
}

// InstanceEvent is one change of an instance that matters to the time it is out of service, at
// virtual time T. Events of the same instant are listed in the order of the Event constants.
type InstanceEvent struct {
	T     time.Time `json:"t"`
	Event string    `json:"event"`
}

// The events of an instance's timeline.
const (
	// EventDraining: the status became DRAINING.
	EventDraining = "draining"
	// EventDrained: DRAINING, the instance runs no task any more (every task STOPPED), as a
	// drainer that waits for runningTasksCount + pendingTasksCount = 0 sees it. Once per DRAINING.
	EventDrained = "drained"
	// EventHostDown: the host shut down (a reboot started).
	EventHostDown = "hostDown"
	// EventAgentDisconnected: the ECS agent disconnected (with the host, or by itself).
	EventAgentDisconnected = "agentDisconnected"
	// EventHostUp: the host booted.
	EventHostUp = "hostUp"
	// EventAgentConnected: the ECS agent reconnected.
	EventAgentConnected = "agentConnected"
	// EventActive: the status became ACTIVE again.
	EventActive = "active"
)

// EventStats counts ECS events: emitted by the world, published to EventBridge, and dropped
// after failing to publish.
type EventStats struct {
	Emitted   int `json:"emitted"`
	Published int `json:"published"`
	Failed    int `json:"failed"`
	// Pending events are queued and not yet published (or dropped).
	Pending int `json:"pending"`
	// MaxLagSeconds is the longest any published event waited between happening and being
	// published, in virtual seconds: how far behind the publisher fell.
	MaxLagSeconds float64 `json:"maxLagSeconds"`
}

// State is GET /fleetsim/state: the world now.
type State struct {
	Now       time.Time      `json:"now"`
	TimeScale float64        `json:"timeScale"`
	Account   string         `json:"account"`
	Region    string         `json:"region"`
	Clusters  []ClusterState `json:"clusters"`
	Faults    Faults         `json:"faults"`
}

// ClusterState is one cluster now.
type ClusterState struct {
	Name      string            `json:"name"`
	ARN       string            `json:"arn"`
	Tags      map[string]string `json:"tags,omitempty"`
	Instances []InstanceState   `json:"instances"`
	Services  []ServiceState    `json:"services"`
}

// InstanceState is one container instance and its host now. VersionLock is the host's
// settings.updates.version-lock: "latest" unless something pinned it.
type InstanceState struct {
	ContainerInstanceArn string `json:"containerInstanceArn"`
	EC2InstanceID        string `json:"ec2InstanceId"`
	Status               string `json:"status"`
	AgentConnected       bool   `json:"agentConnected"`
	HostUp               bool   `json:"hostUp"`
	SSMOnline            bool   `json:"ssmOnline"`
	Version              string `json:"version"`
	VersionLock          string `json:"versionLock"`
	// Seed is settings.updates.seed: the host's place in a release's waves (0..2047).
	Seed       uint32            `json:"seed"`
	Reboots    int               `json:"reboots"`
	Faults     HostFaults        `json:"faults"`
	Attributes map[string]string `json:"attributes"`
	Tasks      []TaskState       `json:"tasks"`
}

// TaskState is one task that has not stopped.
type TaskState struct {
	ARN           string `json:"arn"`
	Group         string `json:"group"`
	StartedBy     string `json:"startedBy,omitempty"`
	LastStatus    string `json:"lastStatus"`
	DesiredStatus string `json:"desiredStatus"`
}

// ServiceState is one service now.
type ServiceState struct {
	Name    string `json:"name"`
	Daemon  bool   `json:"daemon"`
	Desired int    `json:"desired"`
	Running int    `json:"running"`
	Pending int    `json:"pending"`
	Stalled bool   `json:"stalled"`
}
