// Package scenario defines fleetsim's scenario file: the clusters, instances, services, tasks,
// update repository, timings and faults that a simulated world starts from. The format is YAML
// (JSON is accepted too, being YAML) and is documented in tools/fleetsim/README.md.
//
// It is the one model of a world's starting point: fleetsim loads it, and a tool that describes a
// real fleet as a world to simulate (rollwave plan) writes it, so the two cannot drift apart.
package scenario

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// Duration is a virtual duration written as a Go duration string ("90s").
type Duration = admin.Duration

// Scenario is one whole simulated world.
type Scenario struct {
	Account    string              `yaml:"account" json:"account"`
	Region     string              `yaml:"region" json:"region"`
	TimeScale  float64             `yaml:"timeScale" json:"timeScale"`
	Seed       int64               `yaml:"seed" json:"seed"`
	Timings    Timings             `yaml:"timings" json:"timings"`
	Repository map[string][]string `yaml:"repository" json:"repository"`
	// Releases are versions published with waves, or later than the load (Release.ReleasedAt);
	// they join the repository's.
	Releases []Release `yaml:"releases" json:"releases"`
	Clusters []Cluster `yaml:"clusters" json:"clusters"`
	Faults   Faults    `yaml:"faults" json:"faults"`
	// Parameters are the SSM parameters GetParameter answers, by name: the public ones AWS
	// publishes, such as /aws/service/bottlerocket/<variant>/<arch>/<version>/image_id, which an
	// emulator refuses to have put.
	Parameters map[string]string `yaml:"parameters" json:"parameters"`
}

// Timings are the virtual durations of simulated work. Zero values take the defaults of
// (*Scenario).Normalize.
type Timings struct {
	TaskStart      Duration `yaml:"taskStart" json:"taskStart"`
	TaskStop       Duration `yaml:"taskStop" json:"taskStop"`
	UpdateCheck    Duration `yaml:"updateCheck" json:"updateCheck"`
	Apply          Duration `yaml:"apply" json:"apply"`
	Activate       Duration `yaml:"activate" json:"activate"`
	Shutdown       Duration `yaml:"shutdown" json:"shutdown"`
	Reboot         Duration `yaml:"reboot" json:"reboot"`
	AgentReconnect Duration `yaml:"agentReconnect" json:"agentReconnect"`
	SSMDelivery    Duration `yaml:"ssmDelivery" json:"ssmDelivery"`
}

// Cluster is one ECS cluster and what runs in it.
type Cluster struct {
	Name           string            `yaml:"name" json:"name"`
	Tags           map[string]string `yaml:"tags" json:"tags"`
	Instances      []InstanceGroup   `yaml:"instances" json:"instances"`
	Services       []Service         `yaml:"services" json:"services"`
	DaemonServices []DaemonService   `yaml:"daemonServices" json:"daemonServices"`
	Tasks          []Task            `yaml:"tasks" json:"tasks"`
}

// InstanceGroup is Count identical container instances (Count 0 means 1). IDs, when given,
// name the EC2 instances of the group in order; the rest are generated.
type InstanceGroup struct {
	Count        int               `yaml:"count" json:"count"`
	IDs          []string          `yaml:"ids" json:"ids"`
	Version      string            `yaml:"version" json:"version"`
	Variant      string            `yaml:"variant" json:"variant"`
	Arch         string            `yaml:"arch" json:"arch"`
	InstanceType string            `yaml:"instanceType" json:"instanceType"`
	CPU          int               `yaml:"cpu" json:"cpu"`
	Memory       int               `yaml:"memory" json:"memory"`
	AZs          []string          `yaml:"azs" json:"azs"`
	Attributes   map[string]string `yaml:"attributes" json:"attributes"`
	VersionLock  string            `yaml:"versionLock" json:"versionLock"`
	// Seeds are settings.updates.seed (0..2047) of the group's instances in order, which place
	// each host in a release's waves; the instances beyond them get one from the scenario's seed.
	Seeds  []int      `yaml:"seeds" json:"seeds"`
	Faults HostFaults `yaml:"faults" json:"faults"`
	// AutoScalingGroup, when set, is the Auto Scaling group the group's instances belong to: EC2
	// DescribeInstances shows it as their tag aws:autoscaling:groupName.
	AutoScalingGroup string `yaml:"autoScalingGroup" json:"autoScalingGroup"`
}

// Service is a REPLICA service.
type Service struct {
	Name                  string   `yaml:"name" json:"name"`
	Desired               int      `yaml:"desired" json:"desired"`
	MinimumHealthyPercent *int     `yaml:"minimumHealthyPercent" json:"minimumHealthyPercent"`
	MaximumPercent        *int     `yaml:"maximumPercent" json:"maximumPercent"`
	CPU                   int      `yaml:"cpu" json:"cpu"`
	Memory                int      `yaml:"memory" json:"memory"`
	TaskStart             Duration `yaml:"taskStart" json:"taskStart"`
	TaskStop              Duration `yaml:"taskStop" json:"taskStop"`
}

// DaemonService runs one task on every ACTIVE, connected instance of its cluster.
type DaemonService struct {
	Name   string `yaml:"name" json:"name"`
	CPU    int    `yaml:"cpu" json:"cpu"`
	Memory int    `yaml:"memory" json:"memory"`
}

// Task is a standalone task (RunTask/StartTask): it keeps running on a DRAINING instance.
type Task struct {
	Family   string `yaml:"family" json:"family"`
	Instance string `yaml:"instance" json:"instance"` // EC2 instance ID or index ("0") in the cluster
	CPU      int    `yaml:"cpu" json:"cpu"`
	Memory   int    `yaml:"memory" json:"memory"`
	Duration string `yaml:"duration" json:"duration"` // Go duration, or "never" (the default)
	// DurationFrom is when Duration starts to run: "load" (the default: when the scenario is
	// loaded) or "draining" (when its instance is first set DRAINING), so that a task can end a
	// set time into a drain however long the drain took to begin in real time.
	DurationFrom string `yaml:"durationFrom" json:"durationFrom"`
	StartedBy    string `yaml:"startedBy" json:"startedBy"`
}

// When a standalone task's duration starts to run (Task.DurationFrom).
const (
	FromLoad     = "load"
	FromDraining = "draining"
)

// Faults, HostFaultRule, HostFaults and APIFault are shared with the admin API.
type (
	Faults        = admin.Faults
	HostFaultRule = admin.HostFaultRule
	HostFaults    = admin.HostFaults
	APIFault      = admin.APIFault
	Release       = admin.Release
	Wave          = admin.Wave
)

// MaxSeed bounds settings.updates.seed: seeds are 0..MaxSeed-1.
const MaxSeed = 2048

// Parse decodes a YAML or JSON scenario, fills defaults and validates it.
func Parse(b []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Normalize fills the defaults: account 123456789012, region us-east-1, time scale 1,
// task start 5s, task stop 10s, update check 2s, apply (prepare) 60s, activate 2s, shutdown 5s, reboot (boot) 45s, agent reconnect 15s,
// SSM delivery 1s; instances aws-ecs-2 x86_64 m5.large 2048 CPU 4096 MiB; services 100/200 %,
// 256 CPU 512 MiB.
func (s *Scenario) Normalize() {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	defD := func(v *Duration, d time.Duration) {
		if *v == 0 {
			*v = Duration(d)
		}
	}
	defI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Account, "123456789012")
	def(&s.Region, "us-east-1")
	if s.TimeScale == 0 {
		s.TimeScale = 1
	}
	defD(&s.Timings.TaskStart, 5*time.Second)
	defD(&s.Timings.TaskStop, 10*time.Second)
	defD(&s.Timings.UpdateCheck, 2*time.Second)
	defD(&s.Timings.Apply, 60*time.Second)
	defD(&s.Timings.Activate, 2*time.Second)
	defD(&s.Timings.Shutdown, 5*time.Second)
	defD(&s.Timings.Reboot, 45*time.Second)
	defD(&s.Timings.AgentReconnect, 15*time.Second)
	defD(&s.Timings.SSMDelivery, time.Second)
	for ri := range s.Releases {
		def(&s.Releases[ri].Variant, "aws-ecs-2")
	}
	for ci := range s.Clusters {
		c := &s.Clusters[ci]
		for gi := range c.Instances {
			g := &c.Instances[gi]
			if g.Count == 0 {
				g.Count = max(1, len(g.IDs), len(g.Seeds))
			}
			def(&g.Variant, "aws-ecs-2")
			def(&g.Arch, "x86_64")
			def(&g.InstanceType, "m5.large")
			defI(&g.CPU, 2048)
			defI(&g.Memory, 4096)
			if len(g.AZs) == 0 {
				g.AZs = []string{s.Region + "a", s.Region + "b", s.Region + "c"}
			}
			if g.Version == "" {
				if vs := s.Repository[g.Variant]; len(vs) > 0 {
					g.Version = vs[len(vs)-1]
				}
			}
		}
		for si := range c.Services {
			sv := &c.Services[si]
			if sv.MinimumHealthyPercent == nil {
				sv.MinimumHealthyPercent = ptr(100)
			}
			if sv.MaximumPercent == nil {
				sv.MaximumPercent = ptr(200)
			}
			defI(&sv.CPU, 256)
			defI(&sv.Memory, 512)
			defD(&sv.TaskStart, s.Timings.TaskStart.D())
			defD(&sv.TaskStop, s.Timings.TaskStop.D())
		}
		for di := range c.DaemonServices {
			defI(&c.DaemonServices[di].CPU, 64)
			defI(&c.DaemonServices[di].Memory, 64)
		}
		for ti := range c.Tasks {
			t := &c.Tasks[ti]
			defI(&t.CPU, 128)
			defI(&t.Memory, 128)
			def(&t.Duration, "never")
			def(&t.DurationFrom, FromLoad)
			def(&t.Family, "standalone")
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Validate reports every problem of the scenario at once.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.TimeScale <= 0 {
		bad("timeScale %g: must be positive", s.TimeScale)
	}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, c := range s.Clusters {
		if c.Name == "" {
			bad("cluster without a name")
		}
		if seen[c.Name] {
			bad("cluster %q: defined twice", c.Name)
		}
		seen[c.Name] = true
		n := 0
		for _, g := range c.Instances {
			if g.Version == "" {
				bad("cluster %q: instances without a version and no repository for variant %q", c.Name, g.Variant)
			}
			if len(g.IDs) > g.Count {
				bad("cluster %q: %d ids for %d instances", c.Name, len(g.IDs), g.Count)
			}
			if len(g.Seeds) > g.Count {
				bad("cluster %q: %d seeds for %d instances", c.Name, len(g.Seeds), g.Count)
			}
			for _, seed := range g.Seeds {
				if seed < 0 || seed >= MaxSeed {
					bad("cluster %q: seed %d out of 0..%d", c.Name, seed, MaxSeed-1)
				}
			}
			for _, id := range g.IDs {
				if ids[id] {
					bad("instance %q: defined twice", id)
				}
				ids[id] = true
			}
			n += g.Count
		}
		svc := map[string]bool{}
		for _, sv := range c.Services {
			if sv.Name == "" || svc[sv.Name] {
				bad("cluster %q: service name %q empty or repeated", c.Name, sv.Name)
			}
			svc[sv.Name] = true
			if sv.Desired < 0 {
				bad("service %q: negative desired count", sv.Name)
			}
			if *sv.MinimumHealthyPercent < 0 || *sv.MinimumHealthyPercent > 100 {
				bad("service %q: minimumHealthyPercent %d out of 0..100", sv.Name, *sv.MinimumHealthyPercent)
			}
			if *sv.MaximumPercent < 100 {
				bad("service %q: maximumPercent %d below 100", sv.Name, *sv.MaximumPercent)
			}
		}
		for _, d := range c.DaemonServices {
			if d.Name == "" || svc[d.Name] {
				bad("cluster %q: daemon service name %q empty or repeated", c.Name, d.Name)
			}
			svc[d.Name] = true
		}
		for _, t := range c.Tasks {
			if t.Instance == "" {
				bad("cluster %q: task %q without an instance", c.Name, t.Family)
			}
			if t.Duration != "never" {
				if _, err := time.ParseDuration(t.Duration); err != nil {
					bad("cluster %q: task %q: duration %q is neither a duration nor never", c.Name, t.Family, t.Duration)
				}
			}
			if t.DurationFrom != FromLoad && t.DurationFrom != FromDraining {
				bad("cluster %q: task %q: durationFrom %q is neither %s nor %s", c.Name, t.Family, t.DurationFrom, FromLoad, FromDraining)
			}
		}
		_ = n
	}
	for _, r := range s.Releases {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range s.Faults.API {
		if f.ThrottleRate < 0 || f.ThrottleRate > 1 || f.ErrorRate < 0 || f.ErrorRate > 1 {
			bad("api fault %q: rates must be within 0..1", f.Operation)
		}
	}
	return errors.Join(errs...)
}
