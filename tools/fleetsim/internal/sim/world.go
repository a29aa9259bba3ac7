// Package sim is fleetsim's simulated world: ECS clusters of container instances backed by
// simulated Bottlerocket hosts, the ECS service scheduler, SSM Run Command, EC2 instance status,
// the events ECS would publish and the report that tests assert on.
//
// One mutex guards the whole world. Exported methods take it; lower-case methods expect it held.
// Timers run through the Clock, which takes the same lock, and every change ends with settle,
// which runs the scheduler and samples the report.
package sim

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/bottlerocket"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

// Container instance and task statuses.
const (
	StatusActive   = "ACTIVE"
	StatusDraining = "DRAINING"
	StatusInactive = "INACTIVE"

	TaskPending = "PENDING"
	TaskRunning = "RUNNING"
	TaskStopped = "STOPPED"
)

// Event is one ECS event for EventBridge; Detail is a snapshot taken when the change happened.
type Event struct {
	DetailType string
	Resources  []string
	Time       time.Time
	Detail     any
}

// Options configure a world.
type Options struct {
	Emit func(Event) // must not block; called under the world lock, in order
	// EmitTypes, when set, are the only detail types passed to Emit: the others are counted
	// as emitted, but their detail is never built.
	EmitTypes []string
	Log       zerolog.Logger
	// Clock is the base clock the world's virtual time runs on (NewClock); nil is clock.Real.
	Clock     clock.Clock
	TimeScale float64 // overrides the scenario's when > 0
	Account   string  // overrides the scenario's when set
	Region    string  // overrides the scenario's when set
	// Start is the virtual time at each load. Zero is the base clock's time at the load: to the
	// second on the real clock; exactly on another, so that at scale 1 the world's time is the
	// base clock's.
	Start time.Time
}

// World is the simulated fleet.
type World struct {
	mu   sync.Mutex
	opts Options

	sc      *scenario.Scenario
	clock   *Clock
	current atomic.Pointer[Clock] // clock, for Now without the world lock
	account string
	region  string
	rnd     *rand.Rand
	repo    *bottlerocket.Repo // the update repository every host reads
	seq     int

	clusters      []*Cluster
	clusterByName map[string]*Cluster
	instances     []*Instance
	instByARN     map[string]*Instance
	instByEC2     map[string]*Instance
	tasks         []*Task
	taskByARN     map[string]*Task
	services      []*Service

	hostRules []scenario.HostFaultRule
	apiFaults []scenario.APIFault

	docs     map[string]*Document
	params   map[string]string // the scenario's SSM parameters
	commands []*Command
	cmdByID  map[string]*Command
	// cmdsByInstance are the commands sent to each EC2 instance, oldest first.
	cmdsByInstance map[string][]*Command

	rec *recorder
	// changes counts the changes of instances, tasks and hosts: what the scheduler and the
	// report's samples look at. settledAt is its value when the world last settled: a callback
	// that changed none of them (a command's progress, an API call's latency) settles nothing.
	changes, settledAt int
}

// Cluster is one ECS cluster.
type Cluster struct {
	Name, ARN string
	Tags      map[string]string
	instances []*Instance
	services  []*Service
}

// Attribute is an ECS attribute of a container instance; Custom ones came from PutAttributes
// and count against the limit of 10.
type Attribute struct {
	Name, Value string
	Custom      bool
}

// Instance is a container instance and the Bottlerocket host behind it.
type Instance struct {
	ARN, EC2ID     string
	cluster        *Cluster
	Status         string
	AgentConnected bool
	attrs          []Attribute
	CPU, Memory    int
	AZ, Type       string
	Variant, Arch  string
	// ASG is the Auto Scaling group of the instance (its tag aws:autoscaling:groupName), "" for none.
	ASG            string
	RegisteredAt   time.Time
	UpdatedAt      time.Time
	version        int64
	host           *bottlerocket.Host
	faults         scenario.HostFaults
	ssmOnline      bool
	reboots        int
	initialVersion string
	versionLock    string
	// seed is the scenario's settings.updates.seed for the host, nil for a random one.
	seed    *uint32
	bootGen int
	tasks   []*Task // tasks not yet STOPPED
	// described is the JSON of the instance's view as DescribeContainerInstances answers it
	// (without tags), made on the first call after a change and dropped by the next change
	// (instanceChanged, its attributes): a rollout describes every instance of a cluster many
	// times between two of its changes.
	described []byte
	// onDraining runs once, when the instance is first set DRAINING (scenario tasks whose
	// duration runs from the drain).
	onDraining []func()
}

// Task is an ECS task.
type Task struct {
	ARN, ContainerARN string
	cluster           *Cluster
	inst              *Instance
	svc               *Service
	Family, Group     string
	StartedBy         string
	TaskDefARN        string
	LastStatus        string
	DesiredStatus     string
	CPU, Memory       int
	CreatedAt         time.Time
	StartedAt         time.Time
	StoppingAt        time.Time
	StoppedAt         time.Time
	UpdatedAt         time.Time
	StopCode          string
	StoppedReason     string
	ExitCode          *int
	version           int64
	stopTimer         func() bool
}

// Service is an ECS service (REPLICA or DAEMON).
type Service struct {
	Name, ARN, ID  string
	cluster        *Cluster
	Desired        int
	MinPct, MaxPct int
	CPU, Memory    int
	TaskStart      time.Duration
	TaskStop       time.Duration
	Daemon         bool
	Family         string
	TaskDefARN     string
	CreatedAt      time.Time
	DeploymentID   string
	events         []ServiceEvent // newest first
	stalled        bool
}

// ServiceEvent is one entry of a service's event log.
type ServiceEvent struct {
	ID        string
	CreatedAt time.Time
	Message   string
}

// New returns an empty world; Load fills it.
func New(opts Options) *World {
	w := &World{opts: opts}
	sc := &scenario.Scenario{}
	sc.Normalize()
	w.load(sc)
	return w
}

// Load replaces the whole world with the scenario's, and resets the report; it keeps the SSM
// documents created with CreateDocument, which belong to the account rather than the fleet.
func (w *World) Load(sc *scenario.Scenario) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.load(sc)
}

func (w *World) load(sc *scenario.Scenario) {
	if w.clock != nil {
		w.clock.Stop()
	}
	scale := sc.TimeScale
	if w.opts.TimeScale > 0 {
		scale = w.opts.TimeScale
	}
	base := clock.OrReal(w.opts.Clock)
	start := w.opts.Start
	if start.IsZero() {
		start = base.Now().UTC()
		if base == clock.Real {
			start = start.Truncate(time.Second)
		}
	}
	w.sc = sc
	w.seq = 0
	w.clusters, w.instances, w.tasks, w.services, w.commands = nil, nil, nil, nil, nil
	w.clock = NewClock(base, start, scale, &w.mu, w.settle)
	w.current.Store(w.clock)
	w.account, w.region = sc.Account, sc.Region
	if w.opts.Account != "" {
		w.account = w.opts.Account
	}
	if w.opts.Region != "" {
		w.region = w.opts.Region
	}
	w.rnd = rand.New(rand.NewSource(sc.Seed))
	w.clusterByName = map[string]*Cluster{}
	w.instByARN = map[string]*Instance{}
	w.instByEC2 = map[string]*Instance{}
	w.taskByARN = map[string]*Task{}
	// The SSM documents created through the API are the account's, not the fleet's: a new
	// scenario keeps them, so that the documents the bootstrap created still run after a reload.
	created := w.docs
	w.docs = map[string]*Document{}
	w.cmdByID = map[string]*Command{}
	w.cmdsByInstance = map[string][]*Command{}
	w.hostRules = append([]scenario.HostFaultRule(nil), sc.Faults.Hosts...)
	w.apiFaults = append([]scenario.APIFault(nil), sc.Faults.API...)
	w.rec = newRecorder()
	w.settledAt = -1
	w.addBuiltinDocuments()
	for name, d := range created {
		if w.docs[name] == nil {
			w.docs[name] = d
		}
	}
	now := w.clock.Now()

	for _, sc := range sc.Clusters {
		c := &Cluster{Name: sc.Name, ARN: w.arn("cluster/" + sc.Name), Tags: sc.Tags}
		w.clusters = append(w.clusters, c)
		w.clusterByName[c.Name] = c
		for _, g := range sc.Instances {
			for i := 0; i < g.Count; i++ {
				w.seq++
				id := fmt.Sprintf("i-%017x", 0x0f00000000000000+w.seq)
				if i < len(g.IDs) {
					id = g.IDs[i]
				}
				in := &Instance{
					ARN:            w.arn("container-instance/" + c.Name + "/" + w.hexID()),
					EC2ID:          id,
					cluster:        c,
					Status:         StatusActive,
					AgentConnected: true,
					CPU:            g.CPU,
					Memory:         g.Memory,
					AZ:             g.AZs[len(c.instances)%len(g.AZs)],
					Type:           g.InstanceType,
					Variant:        g.Variant,
					Arch:           g.Arch,
					ASG:            g.AutoScalingGroup,
					RegisteredAt:   now,
					UpdatedAt:      now,
					version:        1,
					faults:         g.Faults,
					initialVersion: g.Version,
					versionLock:    g.VersionLock,
				}
				if i < len(g.Seeds) {
					seed := uint32(g.Seeds[i])
					in.seed = &seed
				}
				in.attrs = agentAttributes(in, w.region)
				names := make([]string, 0, len(g.Attributes))
				for k := range g.Attributes {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					in.attrs = append(in.attrs, Attribute{Name: k, Value: g.Attributes[k], Custom: true})
				}
				c.instances = append(c.instances, in)
				w.instances = append(w.instances, in)
				w.instByARN[in.ARN] = in
				w.instByEC2[in.EC2ID] = in
			}
		}
	}
	w.repo = newRepo(sc, w.clock)
	w.params = sc.Parameters
	for _, in := range w.instances {
		f := in.faults
		for _, r := range w.hostRules {
			if ruleSelects(r, in) {
				f = f.Merge(r.Faults)
			}
		}
		in.faults = f
		in.ssmOnline = !f.SSMAgentOffline
		seed := uint32(w.rnd.Int63()) // drawn for every host, so that fixed seeds change no other
		if in.seed != nil {
			seed = *in.seed
		}
		in.host = bottlerocket.NewHost(bottlerocket.HostConfig{
			ID: in.EC2ID, Arch: in.Arch, Variant: in.Variant, Version: in.initialVersion,
			Repo: w.repo, Timings: hostTimings(sc.Timings), Faults: hostFaults(f),
			Seed: seed, VersionLock: in.versionLock,
		}, w.clock, hooks{w})
	}
	for ci, scl := range sc.Clusters {
		c := w.clusters[ci]
		for _, s := range scl.Services {
			w.addService(c, s.Name, false, s.Desired, *s.MinimumHealthyPercent, *s.MaximumPercent,
				s.CPU, s.Memory, s.TaskStart.D(), s.TaskStop.D(), now)
		}
		for _, d := range scl.DaemonServices {
			w.addService(c, d.Name, true, 0, 0, 100, d.CPU, d.Memory,
				sc.Timings.TaskStart.D(), sc.Timings.TaskStop.D(), now)
		}
		// The world starts in steady state: initial service tasks are RUNNING at once.
		for _, s := range c.services {
			w.placeService(s, true)
		}
		for _, t := range scl.Tasks {
			in := w.resolveInstance(c, t.Instance)
			if in == nil {
				w.opts.Log.Warn().Str("cluster", c.Name).Str("instance", t.Instance).Msg("standalone task on an unknown instance skipped")
				continue
			}
			startedBy := t.StartedBy
			task := w.newTask(c, in, nil, t.Family, "family:"+t.Family, startedBy, t.CPU, t.Memory)
			w.setRunning(task)
			if t.Duration != "never" {
				d, _ := time.ParseDuration(t.Duration)
				end := func() {
					w.clock.AfterFunc(d, func() {
						if task.DesiredStatus == TaskRunning {
							w.stopTask(task, "EssentialContainerExited", "Essential container in task exited", 0)
						}
					})
				}
				if t.DurationFrom == scenario.FromDraining {
					in.onDraining = append(in.onDraining, end)
				} else {
					end()
				}
			}
		}
	}
	w.settle()
}

func (w *World) resolveInstance(c *Cluster, ref string) *Instance {
	if in := w.instByEC2[ref]; in != nil && in.cluster == c {
		return in
	}
	if i, err := strconv.Atoi(ref); err == nil && i >= 0 && i < len(c.instances) {
		return c.instances[i]
	}
	return nil
}

func ruleSelects(r scenario.HostFaultRule, in *Instance) bool {
	if r.Cluster != "" && r.Cluster != in.cluster.Name {
		return false
	}
	return r.Instance == "" || r.Instance == "*" || r.Instance == in.EC2ID || r.Instance == in.ARN
}

func agentAttributes(in *Instance, region string) []Attribute {
	arch := "x86_64"
	if in.Arch == "aarch64" || in.Arch == "arm64" {
		arch = "arm64"
	}
	return []Attribute{
		{Name: "bottlerocket.variant", Value: in.Variant},
		{Name: "ecs.availability-zone", Value: in.AZ},
		{Name: "ecs.instance-type", Value: in.Type},
		{Name: "ecs.os-type", Value: "linux"},
		{Name: "ecs.os-family", Value: "LINUX"},
		{Name: "ecs.cpu-architecture", Value: arch},
		{Name: "ecs.ami-id", Value: "ami-0b0770c9f0000000a"},
		{Name: "ecs.capability.secrets.asm.environment-variables"},
		{Name: "ecs.capability.task-eni"},
		{Name: "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
		{Name: "com.amazonaws.ecs.capability.logging-driver.awslogs"},
	}
}

func (w *World) addService(c *Cluster, name string, daemon bool, desired, minPct, maxPct, cpu, mem int, start, stop time.Duration, now time.Time) {
	s := &Service{
		Name: name, ARN: w.arn("service/" + c.Name + "/" + name), ID: w.hexID()[:16],
		cluster: c, Desired: desired, MinPct: minPct, MaxPct: maxPct, CPU: cpu, Memory: mem,
		TaskStart: start, TaskStop: stop, Daemon: daemon, Family: name,
		TaskDefARN: w.arn("task-definition/" + name + ":1"), CreatedAt: now,
		DeploymentID: "ecs-svc/" + w.digits(19),
	}
	c.services = append(c.services, s)
	w.services = append(w.services, s)
	w.serviceEvent(s, fmt.Sprintf("(service %s) has started.", name))
}

func (w *World) arn(resource string) string {
	return "arn:aws:ecs:" + w.region + ":" + w.account + ":" + resource
}

func (w *World) hexID() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 32)
	for i := range b {
		b[i] = hex[w.rnd.Intn(16)]
	}
	return string(b)
}

func (w *World) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + w.rnd.Intn(10))
	}
	return string(b)
}

func (w *World) uuid() string {
	h := w.hexID()
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Clock returns the world's current clock (it changes when a scenario is loaded).
func (w *World) Clock() *Clock {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clock
}

// Now is the virtual time of the loaded world; it takes no lock (an event publisher measuring
// its lag calls it often).
func (w *World) Now() time.Time { return w.current.Load().Now() }

// Region and Account of the loaded world.
func (w *World) Region() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.region
}

// Account is the AWS account ID of the world.
func (w *World) Account() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.account
}

// settle runs the scheduler until nothing changes and samples the report.
func (w *World) settle() {
	if w.changes == w.settledAt {
		return // nothing the scheduler or the report looks at changed since the last time
	}
	settled := false
	for i := 0; i < 10 && !settled; i++ {
		settled = !w.schedule()
	}
	w.rec.sample(w)
	if settled {
		w.settledAt = w.changes // else the next callback schedules again, as before
	}
}

func (w *World) hostDown(in *Instance) {
	w.changes++
	in.bootGen++
	in.reboots++
	now := w.clock.Now()
	for _, t := range append([]*Task(nil), in.tasks...) {
		w.finishStop(t, "TaskFailedToStart", "Host EC2 (instance "+in.EC2ID+") rebooted", now)
	}
	if in.AgentConnected {
		in.AgentConnected = false
		w.instanceChanged(in)
	}
	w.ssmHostDown(in)
}

func (w *World) hostUp(in *Instance) {
	w.changes++
	gen := in.bootGen
	w.ssmHostUp(in)
	if in.faults.AgentNeverReconnects {
		return
	}
	w.clock.AfterFunc(w.sc.Timings.AgentReconnect.D(), func() {
		if in.bootGen != gen || in.AgentConnected || !w.hostUpNow(in) {
			return
		}
		in.AgentConnected = true
		w.instanceChanged(in)
	})
}

func (w *World) hostUpNow(in *Instance) bool { return in.host.Up() }

// instanceChanged bumps the instance's version and emits its state-change event.
func (w *World) instanceChanged(in *Instance) {
	w.changes++
	in.described = nil
	in.version++
	in.UpdatedAt = w.clock.Now()
	w.rec.emitted++
	if w.emits(detailInstance) {
		v := w.instanceView(in, true)
		w.opts.Emit(Event{DetailType: detailInstance, Resources: []string{in.ARN}, Time: in.UpdatedAt, Detail: v})
	}
}

func (w *World) taskChanged(t *Task) {
	w.changes++
	t.version++
	t.UpdatedAt = w.clock.Now()
	w.rec.emitted++
	if w.emits(detailTask) {
		v := w.taskView(t)
		w.opts.Emit(Event{DetailType: detailTask, Resources: []string{t.ARN}, Time: t.UpdatedAt, Detail: v})
	}
}

// The detail types of the world's events.
const (
	detailInstance = "ECS Container Instance State Change"
	detailTask     = "ECS Task State Change"
)

// emits reports whether events of detailType go to Options.Emit.
func (w *World) emits(detailType string) bool {
	return w.opts.Emit != nil && (w.opts.EmitTypes == nil || slices.Contains(w.opts.EmitTypes, detailType))
}

func (w *World) serviceEvent(s *Service, msg string) {
	e := ServiceEvent{ID: w.uuid(), CreatedAt: w.clock.Now(), Message: msg}
	s.events = append([]ServiceEvent{e}, s.events...)
	if len(s.events) > 100 {
		s.events = s.events[:100]
	}
}

func (in *Instance) used() (cpu, mem int) {
	for _, t := range in.tasks {
		cpu += t.CPU
		mem += t.Memory
	}
	return cpu, mem
}

func (in *Instance) counts() (running, pending int) {
	for _, t := range in.tasks {
		switch t.LastStatus {
		case TaskRunning:
			running++
		case TaskPending:
			pending++
		}
	}
	return running, pending
}

func (in *Instance) customCount() int {
	n := 0
	for _, a := range in.attrs {
		if a.Custom {
			n++
		}
	}
	return n
}

// Close stops the world's clock; nothing simulated happens afterwards.
func (w *World) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock.Stop()
}
