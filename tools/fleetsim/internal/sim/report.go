package sim

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// recorder keeps the time series of the report; sample appends a point only when a value
// changed.
type recorder struct {
	services map[*Service]*admin.ServiceReport
	clusters map[*Cluster]*admin.ClusterReport
	inst     map[*Instance]*timeline
	attrs    map[*Instance][]admin.AttributeChange
	calls    map[string]int
	byCaller map[string]map[string]int
	faulted  map[string]int
	emitted  int
}

func newRecorder() *recorder {
	return &recorder{services: map[*Service]*admin.ServiceReport{}, clusters: map[*Cluster]*admin.ClusterReport{},
		inst: map[*Instance]*timeline{}, attrs: map[*Instance][]admin.AttributeChange{}, calls: map[string]int{}, byCaller: map[string]map[string]int{}, faulted: map[string]int{}}
}

// healthy counts the service's tasks that are RUNNING and not being stopped, and its PENDING ones.
func healthy(s *Service) (running, pending int) {
	for _, in := range s.cluster.instances {
		for _, t := range in.tasks {
			if t.svc != s || t.DesiredStatus != TaskRunning {
				continue
			}
			if t.LastStatus == TaskRunning {
				running++
			} else {
				pending++
			}
		}
	}
	return running, pending
}

func outOfService(c *Cluster) int {
	n := 0
	for _, in := range c.instances {
		if in.Status != StatusActive || !in.AgentConnected {
			n++
		}
	}
	return n
}

func (r *recorder) sample(w *World) {
	now := w.clock.Now()
	for _, s := range w.services {
		running, pending := healthy(s)
		sr := r.services[s]
		if sr == nil {
			desired := s.Desired
			if s.Daemon {
				desired = w.daemonDesired(s)
			}
			sr = &admin.ServiceReport{Cluster: s.cluster.Name, Service: s.Name, Daemon: s.Daemon, Desired: desired,
				MinimumHealthyPercent: s.MinPct, MaximumPercent: s.MaxPct, Floor: (desired*s.MinPct + 99) / 100,
				MinRunning: running, MaxRunning: running}
			r.services[s] = sr
		}
		sr.Running = running
		if n := len(sr.Samples); n > 0 && sr.Samples[n-1].Running == running && sr.Samples[n-1].Pending == pending {
			continue
		}
		sr.Samples = append(sr.Samples, admin.ServiceSample{T: now, Running: running, Pending: pending})
		sr.MinRunning = min(sr.MinRunning, running)
		sr.MaxRunning = max(sr.MaxRunning, running)
		if !s.Daemon && running < sr.Floor {
			sr.BelowFloor = true
		}
	}
	for _, c := range w.clusters {
		n := outOfService(c)
		cr := r.clusters[c]
		if cr == nil {
			cr = &admin.ClusterReport{Cluster: c.Name, Instances: len(c.instances)}
			r.clusters[c] = cr
		}
		cr.OutOfService = n
		if k := len(cr.Samples); k > 0 && cr.Samples[k-1].OutOfService == n {
			continue
		}
		cr.Samples = append(cr.Samples, admin.ClusterSample{T: now, OutOfService: n})
		cr.MaxOutOfService = max(cr.MaxOutOfService, n)
	}
	for _, in := range w.instances {
		tl := r.inst[in]
		if tl == nil {
			tl = &timeline{}
			r.inst[in] = tl
		}
		tl.observe(in, w.hostUpNow(in), now)
	}
}

// attributeChanged records that the custom attribute name of in was set to value, or deleted.
func (r *recorder) attributeChanged(in *Instance, now time.Time, name, value string, deleted bool) {
	r.attrs[in] = append(r.attrs[in], admin.AttributeChange{T: now, Name: name, Value: value, Deleted: deleted})
}

// CountCall records one API call of op ("ecs:ListTasks") by caller (an access key ID, or "").
func (w *World) CountCall(op, caller string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rec.calls[op]++
	if caller == "" {
		caller = "anonymous"
	}
	m := w.rec.byCaller[caller]
	if m == nil {
		m = map[string]int{}
		w.rec.byCaller[caller] = m
	}
	m[op]++
}

// EventCounters are maintained by the event publisher.
type EventCounters struct {
	Published, Failed, Pending atomic.Int64
	maxLag                     atomic.Int64 // nanoseconds of virtual time
}

// ObserveLag records that an event went out d (virtual time) after it happened.
func (c *EventCounters) ObserveLag(d time.Duration) {
	for {
		old := c.maxLag.Load()
		if int64(d) <= old || c.maxLag.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// MaxLag is the longest an event waited to be published, in virtual time.
func (c *EventCounters) MaxLag() time.Duration { return time.Duration(c.maxLag.Load()) }

// Report builds the report.
func (w *World) Report(ev *EventCounters) admin.Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	rep := admin.Report{Now: w.clock.Now(), LeftDraining: []string{}, APICalls: map[string]int{}, APICallsByCaller: map[string]map[string]int{}}
	for _, s := range w.services {
		if sr := w.rec.services[s]; sr != nil {
			c := *sr
			c.Samples = append([]admin.ServiceSample(nil), sr.Samples...)
			rep.Services = append(rep.Services, c)
		}
	}
	for _, c := range w.clusters {
		if cr := w.rec.clusters[c]; cr != nil {
			x := *cr
			x.Samples = append([]admin.ClusterSample(nil), cr.Samples...)
			rep.Clusters = append(rep.Clusters, x)
		}
	}
	for _, in := range w.instances {
		running, _ := in.counts()
		ir := admin.InstanceReport{Cluster: in.cluster.Name, ContainerInstanceArn: in.ARN,
			EC2InstanceID: in.EC2ID, Status: in.Status, AgentConnected: in.AgentConnected, InitialVersion: in.initialVersion,
			Version: w.hostVersion(in), Reboots: in.reboots, RunningTasks: running, Timeline: []admin.InstanceEvent{}}
		if tl := w.rec.inst[in]; tl != nil {
			tl.fill(&ir, rep.Now)
		}
		ir.Attributes = map[string]string{}
		for _, a := range in.attrs {
			if a.Custom {
				ir.Attributes[a.Name] = a.Value
			}
		}
		ir.AttributeChanges = append([]admin.AttributeChange{}, w.rec.attrs[in]...)
		rep.Instances = append(rep.Instances, ir)
		if in.Status == StatusDraining {
			rep.LeftDraining = append(rep.LeftDraining, in.EC2ID)
		}
	}
	for k, v := range w.rec.calls {
		rep.APICalls[k] = v
	}
	rep.APIFaults = map[string]int{}
	for k, v := range w.rec.faulted {
		rep.APIFaults[k] = v
	}
	for k, m := range w.rec.byCaller {
		c := map[string]int{}
		for op, n := range m {
			c[op] = n
		}
		rep.APICallsByCaller[k] = c
	}
	rep.Events.Emitted = w.rec.emitted
	if ev != nil {
		rep.Events.Published = int(ev.Published.Load())
		rep.Events.Failed = int(ev.Failed.Load())
		rep.Events.Pending = int(ev.Pending.Load())
		rep.Events.MaxLagSeconds = ev.MaxLag().Seconds()
	}
	return rep
}

func (w *World) hostVersion(in *Instance) string {
	return in.host.Version()
}

// State dumps the world.
func (w *World) State() admin.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := admin.State{Now: w.clock.Now(), TimeScale: w.clock.Scale(), Account: w.account, Region: w.region,
		Faults: admin.Faults{Hosts: append([]admin.HostFaultRule(nil), w.hostRules...), API: append([]admin.APIFault(nil), w.apiFaults...)}}
	for _, c := range w.clusters {
		cs := admin.ClusterState{Name: c.Name, ARN: c.ARN, Tags: c.Tags, Instances: []admin.InstanceState{}, Services: []admin.ServiceState{}}
		for _, in := range c.instances {
			is := admin.InstanceState{ContainerInstanceArn: in.ARN, EC2InstanceID: in.EC2ID, Status: in.Status,
				AgentConnected: in.AgentConnected, HostUp: w.hostUpNow(in), SSMOnline: w.ssmReachable(in),
				Version: w.hostVersion(in), VersionLock: in.host.VersionLock(), Seed: in.host.Seed(), Reboots: in.reboots, Faults: in.faults, Attributes: map[string]string{}, Tasks: []admin.TaskState{}}
			for _, a := range in.attrs {
				is.Attributes[a.Name] = a.Value
			}
			for _, t := range in.tasks {
				is.Tasks = append(is.Tasks, admin.TaskState{ARN: t.ARN, Group: t.Group, StartedBy: t.StartedBy, LastStatus: t.LastStatus, DesiredStatus: t.DesiredStatus})
			}
			cs.Instances = append(cs.Instances, is)
		}
		for _, s := range c.services {
			v := w.serviceView(s)
			cs.Services = append(cs.Services, admin.ServiceState{Name: s.Name, Daemon: s.Daemon, Desired: v.DesiredCount, Running: v.RunningCount, Pending: v.PendingCount, Stalled: s.stalled})
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// InjectFaults adds host and API fault rules at runtime; host faults merge into the selected
// hosts' faults.
func (w *World) InjectFaults(f admin.Faults) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hostRules = append(w.hostRules, f.Hosts...)
	w.apiFaults = append(w.apiFaults, f.API...)
	for _, r := range f.Hosts {
		for _, in := range w.instances {
			if ruleSelects(r, in) {
				w.setHostFaults(in, in.faults.Merge(r.Faults))
			}
		}
	}
	w.settle()
}

// ClearFaults removes every host and API fault, including the scenario's.
func (w *World) ClearFaults() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hostRules, w.apiFaults = nil, nil
	for _, in := range w.instances {
		w.setHostFaults(in, admin.HostFaults{})
	}
	w.settle()
}

func (w *World) setHostFaults(in *Instance, f admin.HostFaults) {
	w.changes++ // the faults may hold tasks or the agent: let the world settle again
	wasOffline := !w.ssmReachable(in)
	in.faults = f
	in.ssmOnline = !f.SSMAgentOffline
	in.host.SetFaults(hostFaults(f))
	if wasOffline && w.ssmReachable(in) {
		w.ssmHostUp(in)
	}
	// An agent held offline by a fault reconnects once the fault is cleared and the host is up.
	if !f.AgentNeverReconnects && !in.AgentConnected && w.hostUpNow(in) {
		gen := in.bootGen
		w.clock.AfterFunc(w.sc.Timings.AgentReconnect.D(), func() {
			if in.bootGen == gen && !in.AgentConnected && w.hostUpNow(in) && !in.faults.AgentNeverReconnects {
				in.AgentConnected = true
				w.instanceChanged(in)
			}
		})
	}
}

// APIFaultFor decides the fault for one call of op: throttle, fail with a 5xx, and latency.
func (w *World) APIFaultFor(op string) (throttle, fail bool, latency admin.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.apiFaults {
		if !f.Matches(op) {
			continue
		}
		latency += f.Latency
		if f.ThrottleRate > 0 && w.rnd.Float64() < f.ThrottleRate {
			throttle = true
		}
		if f.ErrorRate > 0 && w.rnd.Float64() < f.ErrorRate {
			fail = true
		}
	}
	if throttle || fail {
		w.rec.faulted[op]++
	}
	return throttle, fail, latency
}

// InstanceStatus is one EC2 instance's status for DescribeInstanceStatus.
type InstanceStatus struct {
	InstanceID, AZ string
	// Status is "ok" while the host is up, "initializing" while it reboots.
	Status string
}

// DescribeInstanceStatus returns the status of the given EC2 instances (all when ids is
// empty); unknown IDs are returned in missing.
func (w *World) DescribeInstanceStatus(ids []string) (out []InstanceStatus, missing []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	found, missing := w.hostsByEC2Locked(ids)
	for _, in := range found {
		st := "ok"
		if !w.hostUpNow(in) {
			st = "initializing"
		}
		out = append(out, InstanceStatus{InstanceID: in.EC2ID, AZ: in.AZ, Status: st})
	}
	return out, missing
}

// hostsByEC2Locked returns the hosts of the EC2 instance IDs ids, in their order (every host
// when ids is empty), and the IDs it does not know. w.mu is held.
func (w *World) hostsByEC2Locked(ids []string) (found []*Instance, missing []string) {
	if len(ids) == 0 {
		return slices.Clone(w.instances), nil
	}
	for _, id := range ids {
		if in := w.instByEC2[id]; in != nil {
			found = append(found, in)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// HasInstance reports whether the EC2 instance exists (used by tests).
func (w *World) HasInstance(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.instByEC2[strings.TrimSpace(id)] != nil
}

// EC2Instance is what EC2 DescribeInstances tells of a host.
type EC2Instance struct {
	InstanceID, AZ, Type, Arch string
	// Tags are the instance's EC2 tags: aws:autoscaling:groupName for an instance of an Auto
	// Scaling group.
	Tags map[string]string
}

// DescribeInstances returns the EC2 view of the hosts ids (every host when ids is empty), and the
// IDs it does not know.
func (w *World) DescribeInstances(ids []string) (out []EC2Instance, missing []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	found, missing := w.hostsByEC2Locked(ids)
	for _, in := range found {
		arch := "x86_64"
		if in.Arch == "aarch64" || in.Arch == "arm64" {
			arch = "arm64"
		}
		e := EC2Instance{InstanceID: in.EC2ID, AZ: in.AZ, Type: in.Type, Arch: arch, Tags: map[string]string{}}
		if in.ASG != "" {
			e.Tags["aws:autoscaling:groupName"] = in.ASG
		}
		out = append(out, e)
	}
	return out, missing
}

// Parameter returns the value of the scenario's SSM parameter name.
func (w *World) Parameter(name string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.params[name]
	return v, ok
}
