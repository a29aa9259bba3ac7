// Package clustertest provides Fake, a stateful in-memory stand-in for *cluster.Client, and
// RunContract, the behaviour that both the fake and the real adapter must show.
package clustertest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

const (
	region  = "us-east-1"
	account = "123456789012"
)

// ClusterARN returns the ARN the fake gives the cluster name.
func ClusterARN(name string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, account, name)
}

// Call is one recorded call of a Fake method.
type Call struct {
	Op      string   // the method name, for example "SetState"
	Cluster string   // the cluster argument, "" for methods without one
	Args    []string // the other arguments, rendered as strings
}

// Fake holds clusters, their container instances, tasks and services in memory and implements
// the method set of *cluster.Client with ECS's rules that rollwave depends on:
//   - an instance is set DRAINING only from ACTIVE or DRAINING, otherwise SetState reports a
//     per-instance failure, as does an unknown ARN ("MISSING");
//   - an instance carries at most 10 custom attributes (names not starting with "ecs." or
//     "com.amazonaws.ecs."); names and values follow ECS's character rules;
//   - an instance's running and pending task counts are those of its tasks;
//   - unknown clusters and instances give errors that Is cluster.ErrClusterNotFound and
//     cluster.ErrInstanceNotFound.
//
// It records every call and can be told to fail the next call of a method. The zero value is
// not usable: call NewFake. A Fake is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	clusters map[string]*fakeCluster
	order    []string
	calls    []Call
	failNext map[string][]error
	nextID   int
}

type fakeCluster struct {
	name      string
	tags      map[string]string
	instances []*cluster.Instance
	tasks     []cluster.Task
	services  []cluster.Service
}

// NewFake returns an empty Fake.
func NewFake() *Fake {
	return &Fake{clusters: map[string]*fakeCluster{}, failNext: map[string][]error{}}
}

// AddCluster creates the cluster name (no-op if it exists) with tags.
func (f *Fake) AddCluster(name string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addCluster(name, tags)
}

func (f *Fake) addCluster(name string, tags map[string]string) *fakeCluster {
	if c, ok := f.clusters[name]; ok {
		return c
	}
	c := &fakeCluster{name: name, tags: maps.Clone(tags)}
	if c.tags == nil {
		c.tags = map[string]string{}
	}
	f.clusters[name] = c
	f.order = append(f.order, name)
	return c
}

// AddInstance registers in in the cluster named clusterName (created if needed) and returns it
// as stored: an empty ARN, EC2InstanceID or Status is filled in (Status ACTIVE), Cluster is
// set to clusterName, and the task counts are derived from the tasks added later.
func (f *Fake) AddInstance(clusterName string, in cluster.Instance) cluster.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.addCluster(clusterName, nil)
	f.nextID++
	if in.ARN == "" {
		in.ARN = fmt.Sprintf("arn:aws:ecs:%s:%s:container-instance/%s/%032x", region, account, clusterName, f.nextID)
	}
	if in.EC2InstanceID == "" {
		in.EC2InstanceID = fmt.Sprintf("i-%017x", f.nextID)
	}
	if in.Status == "" {
		in.Status = cluster.StatusActive
	}
	if in.RegisteredAt.IsZero() {
		in.RegisteredAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	in.Cluster = clusterName
	in.Attributes = maps.Clone(in.Attributes)
	if in.Attributes == nil {
		in.Attributes = map[string]string{}
	}
	if in.AZ != "" {
		in.Attributes["ecs.availability-zone"] = in.AZ
	}
	in.AZ = in.Attributes["ecs.availability-zone"]
	stored := in
	c.instances = append(c.instances, &stored)
	return f.view(c, &stored)
}

// AddTask places t in the cluster named clusterName on the instance t.InstanceARN. An empty ARN
// is filled in, empty statuses default to RUNNING. It returns the task as stored.
func (f *Fake) AddTask(clusterName string, t cluster.Task) cluster.Task {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.addCluster(clusterName, nil)
	f.nextID++
	if t.ARN == "" {
		t.ARN = fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%032x", region, account, clusterName, f.nextID)
	}
	if t.LastStatus == "" {
		t.LastStatus = "RUNNING"
	}
	if t.DesiredStatus == "" {
		t.DesiredStatus = "RUNNING"
	}
	c.tasks = append(c.tasks, t)
	return t
}

// StopTasks removes every task from the instance instanceARN, as ECS does once a drain has
// finished, and returns how many it removed.
func (f *Fake) StopTasks(instanceARN string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.clusters {
		kept := c.tasks[:0]
		for _, t := range c.tasks {
			if t.InstanceARN == instanceARN {
				n++
				continue
			}
			kept = append(kept, t)
		}
		c.tasks = kept
	}
	return n
}

// AddService adds s to the cluster named clusterName. An empty ARN is filled in.
func (f *Fake) AddService(clusterName string, s cluster.Service) cluster.Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.addCluster(clusterName, nil)
	if s.ARN == "" {
		s.ARN = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", region, account, clusterName, s.Name)
	}
	if s.Status == "" {
		s.Status = "ACTIVE"
	}
	c.services = append(c.services, s)
	return s
}

// SetInstance replaces the stored fields of the instance with ARN in.ARN (for example to
// disconnect its agent or deregister it with Status INACTIVE). It reports whether it found it.
func (f *Fake) SetInstance(in cluster.Instance) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clusters {
		for _, p := range c.instances {
			if p.ARN == in.ARN {
				in.Cluster = c.name
				in.Attributes = maps.Clone(in.Attributes)
				if in.Attributes == nil {
					in.Attributes = map[string]string{}
				}
				*p = in
				return true
			}
		}
	}
	return false
}

// FailNext makes the next call of the method op (for example "SetState") return err before
// doing anything. Several calls queue up, one error per call.
func (f *Fake) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[op] = append(f.failNext[op], err)
}

// Calls returns the calls made so far, oldest first.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// begin records a call and returns the error queued for op, if any. f.mu must be held.
func (f *Fake) begin(op, clusterName string, args ...string) error {
	f.calls = append(f.calls, Call{Op: op, Cluster: clusterName, Args: args})
	if errs := f.failNext[op]; len(errs) > 0 {
		f.failNext[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *Fake) cluster(name string) (*fakeCluster, error) {
	if c, ok := f.clusters[name]; ok {
		return c, nil
	}
	for _, c := range f.clusters {
		if ClusterARN(c.name) == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("cluster %s: %w", name, cluster.ErrClusterNotFound)
}

// find returns the instance of c named by an ARN, the ARN's last element, or (unless
// INACTIVE) an EC2 instance ID.
func (c *fakeCluster) find(idOrARN string) *cluster.Instance {
	for _, in := range c.instances {
		if in.ARN == idOrARN || strings.HasSuffix(in.ARN, "/"+idOrARN) ||
			(in.EC2InstanceID == idOrARN && in.Status != "INACTIVE") {
			return in
		}
	}
	return nil
}

// view returns a copy of in with derived fields. f.mu must be held.
func (f *Fake) view(c *fakeCluster, in *cluster.Instance) cluster.Instance {
	out := *in
	out.Attributes = maps.Clone(in.Attributes)
	out.RunningTasks, out.PendingTasks = 0, 0
	for _, t := range c.tasks {
		if t.InstanceARN != in.ARN {
			continue
		}
		switch t.LastStatus {
		case "RUNNING":
			out.RunningTasks++
		case "PENDING", "PROVISIONING", "ACTIVATING":
			out.PendingTasks++
		}
	}
	return out
}

// ListInstances implements cluster.Client.ListInstances. The filter understands the subset of
// the cluster query language that rollwave uses: clauses joined by "and", each one of
// "attribute:<name> exists", "attribute:<name> !exists", "attribute:<name> == <value>",
// "attribute:<name> != <value>", "attribute:<name> in [<value>, ...]", "ec2InstanceId == <id>",
// "agentConnected == true|false"; and alternatives of those joined by "or".
func (f *Fake) ListInstances(ctx context.Context, clusterName, status, filter string) ([]cluster.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ListInstances", clusterName, status, filter); err != nil {
		return nil, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return nil, fmt.Errorf("list container instances of %s: %w", clusterName, err)
	}
	match, err := parseFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("list container instances of %s: %w", clusterName, err)
	}
	var out []cluster.Instance
	for _, p := range c.instances {
		if status == "" && p.Status == "INACTIVE" || status != "" && p.Status != status {
			continue
		}
		if v := f.view(c, p); match(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// parseFilter parses alternatives joined by "or", each of clauses joined by "and" (and binds
// tighter, as in the cluster query language; no parentheses).
func parseFilter(filter string) (func(cluster.Instance) bool, error) {
	var alts []func(cluster.Instance) bool
	for _, alt := range strings.Split(filter, " or ") {
		match, err := parseClauses(filter, alt)
		if err != nil {
			return nil, err
		}
		alts = append(alts, match)
	}
	return func(in cluster.Instance) bool {
		return slices.ContainsFunc(alts, func(match func(cluster.Instance) bool) bool { return match(in) })
	}, nil
}

// parseClauses parses alt, clauses of filter joined by "and".
func parseClauses(filter, alt string) (func(cluster.Instance) bool, error) {
	var preds []func(cluster.Instance) bool
	for _, clause := range strings.Split(alt, " and ") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		f := strings.Fields(clause)
		switch {
		case len(f) == 2 && strings.HasPrefix(f[0], "attribute:") && (f[1] == "exists" || f[1] == "!exists"):
			name, want := strings.TrimPrefix(f[0], "attribute:"), f[1] == "exists"
			preds = append(preds, func(in cluster.Instance) bool { _, ok := in.Attributes[name]; return ok == want })
		case len(f) == 3 && strings.HasPrefix(f[0], "attribute:") && (f[1] == "==" || f[1] == "!="):
			name, value, eq := strings.TrimPrefix(f[0], "attribute:"), f[2], f[1] == "=="
			preds = append(preds, func(in cluster.Instance) bool { v, ok := in.Attributes[name]; return (ok && v == value) == eq })
		case len(f) >= 3 && strings.HasPrefix(f[0], "attribute:") && f[1] == "in" &&
			strings.HasPrefix(f[2], "[") && strings.HasSuffix(f[len(f)-1], "]"):
			name, values := strings.TrimPrefix(f[0], "attribute:"), map[string]bool{}
			for _, v := range strings.Split(strings.Trim(strings.Join(f[2:], ""), "[]"), ",") {
				values[v] = true
			}
			preds = append(preds, func(in cluster.Instance) bool { v, ok := in.Attributes[name]; return ok && values[v] })
		case len(f) == 3 && f[0] == "ec2InstanceId" && f[1] == "==":
			id := f[2]
			preds = append(preds, func(in cluster.Instance) bool { return in.EC2InstanceID == id })
		case len(f) == 3 && f[0] == "agentConnected" && f[1] == "==" && (f[2] == "true" || f[2] == "false"):
			want := f[2] == "true"
			preds = append(preds, func(in cluster.Instance) bool { return in.AgentConnected == want })
		default:
			return nil, fmt.Errorf("filter %q: %w: the fake does not understand %q", filter, cluster.ErrInvalid, clause)
		}
	}
	return func(in cluster.Instance) bool {
		for _, p := range preds {
			if !p(in) {
				return false
			}
		}
		return true
	}, nil
}

// Census implements cluster.Client.Census.
func (f *Fake) Census(ctx context.Context, clusterName string) (cluster.Census, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Census", clusterName); err != nil {
		return cluster.Census{}, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return cluster.Census{}, fmt.Errorf("describe cluster %s: %w", clusterName, err)
	}
	match, err := parseFilter(update.OutOfServiceFilter())
	if err != nil {
		return cluster.Census{}, err
	}
	var out cluster.Census
	var all []cluster.Instance
	for _, p := range c.instances {
		if p.Status == "INACTIVE" {
			continue
		}
		v := f.view(c, p)
		all = append(all, v)
		out.Registered++
		if match(v) || p.Status != cluster.StatusActive {
			out.Instances = append(out.Instances, v)
		}
	}
	if len(all) <= 100 {
		out.All = all // one page: the client reads it whole
	}
	return out, nil
}

// CountInstances implements cluster.Client.CountInstances, with the filters ListInstances
// understands.
func (f *Fake) CountInstances(ctx context.Context, clusterName, filter string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CountInstances", clusterName, filter); err != nil {
		return 0, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return 0, fmt.Errorf("count container instances of %s: %w", clusterName, err)
	}
	match, err := parseFilter(filter)
	if err != nil {
		return 0, fmt.Errorf("count container instances of %s: %w", clusterName, err)
	}
	n := 0
	for _, p := range c.instances {
		if p.Status != "INACTIVE" && match(f.view(c, p)) {
			n++
		}
	}
	return n, nil
}

// Instance implements cluster.Client.Instance.
func (f *Fake) Instance(ctx context.Context, clusterName, idOrARN string) (cluster.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Instance", clusterName, idOrARN); err != nil {
		return cluster.Instance{}, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return cluster.Instance{}, fmt.Errorf("describe container instance %s in %s: %w", idOrARN, clusterName, err)
	}
	p := c.find(idOrARN)
	if p == nil {
		return cluster.Instance{}, fmt.Errorf("describe container instance %s in %s: %w", idOrARN, clusterName, cluster.ErrInstanceNotFound)
	}
	return f.view(c, p), nil
}

// SetState implements cluster.Client.SetState.
func (f *Fake) SetState(ctx context.Context, clusterName string, arns []string, status string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("SetState", clusterName, append([]string{status}, arns...)...); err != nil {
		return nil, err
	}
	if status != cluster.StatusActive && status != cluster.StatusDraining {
		return nil, fmt.Errorf("set state of container instances in %s to %q: %w", clusterName, status, cluster.ErrInvalid)
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return nil, fmt.Errorf("set state of container instances in %s to %s: %w", clusterName, status, err)
	}
	failures := map[string]string{}
	for _, arn := range arns {
		p := c.find(arn)
		switch {
		case p == nil:
			failures[arn] = "MISSING"
		case p.Status == "INACTIVE":
			failures[arn] = "INACTIVE"
		case status == cluster.StatusDraining && p.Status != cluster.StatusActive && p.Status != cluster.StatusDraining:
			failures[arn] = "container instance is " + p.Status + ", not ACTIVE"
		case status == cluster.StatusActive && p.Status != cluster.StatusActive && p.Status != cluster.StatusDraining:
			failures[arn] = "container instance is " + p.Status
		default:
			p.Status = status
		}
	}
	return failures, nil
}

var (
	attrName  = regexp.MustCompile(`^[A-Za-z0-9_\-./\\]{1,128}$`)
	attrValue = regexp.MustCompile(`^[A-Za-z0-9_\-.@/\\: ]{0,128}$`)
)

func isCustom(name string) bool {
	return !strings.HasPrefix(name, "ecs.") && !strings.HasPrefix(name, "com.amazonaws.ecs.")
}

// PutAttributes implements cluster.Client.PutAttributes, 10 names per step in name order as the
// adapter does, each step all or nothing.
func (f *Fake) PutAttributes(ctx context.Context, clusterName, arn string, attrs map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := slices.Sorted(maps.Keys(attrs))
	if err := f.begin("PutAttributes", clusterName, append([]string{arn}, names...)...); err != nil {
		return err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return fmt.Errorf("put attributes on %s: %w", arn, err)
	}
	p := c.find(arn)
	if p == nil {
		return fmt.Errorf("put attributes on %s: %w", arn, cluster.ErrInstanceNotFound)
	}
	for batch := range slices.Chunk(names, 10) {
		custom := 0
		for n := range p.Attributes {
			if isCustom(n) {
				custom++
			}
		}
		for _, n := range batch {
			v := attrs[n]
			if !attrName.MatchString(n) || !attrValue.MatchString(v) || strings.TrimSpace(v) != v {
				return fmt.Errorf("put attribute %s=%q on %s: %w", n, v, arn, cluster.ErrInvalid)
			}
			if _, ok := p.Attributes[n]; !ok && isCustom(n) {
				custom++
			}
		}
		if custom > 10 {
			return fmt.Errorf("put attributes %s on %s: %w", strings.Join(batch, ","), arn, cluster.ErrAttributeLimit)
		}
		for _, n := range batch {
			p.Attributes[n] = attrs[n]
		}
	}
	return nil
}

// DeleteAttributes implements cluster.Client.DeleteAttributes.
func (f *Fake) DeleteAttributes(ctx context.Context, clusterName, arn string, names ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteAttributes", clusterName, append([]string{arn}, names...)...); err != nil {
		return err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return fmt.Errorf("delete attributes from %s: %w", arn, err)
	}
	p := c.find(arn)
	if p == nil {
		return fmt.Errorf("delete attributes from %s: %w", arn, cluster.ErrInstanceNotFound)
	}
	for _, n := range names {
		delete(p.Attributes, n)
	}
	return nil
}

// Tasks implements cluster.Client.Tasks: the tasks on the instance whose desired status is
// RUNNING.
func (f *Fake) Tasks(ctx context.Context, clusterName, instanceARN string) ([]cluster.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Tasks", clusterName, instanceARN); err != nil {
		return nil, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return nil, fmt.Errorf("list tasks on %s: %w", instanceARN, err)
	}
	var out []cluster.Task
	for _, t := range c.tasks {
		if t.InstanceARN == instanceARN && t.DesiredStatus == "RUNNING" {
			out = append(out, t)
		}
	}
	return out, nil
}

// StopTask implements cluster.Client.StopTask: the task stops at once (its desired and last
// status become STOPPED, so Tasks no longer lists it). Stopping a stopped task is not an error.
func (f *Fake) StopTask(ctx context.Context, clusterName, taskARN, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StopTask", clusterName, taskARN, reason); err != nil {
		return err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return fmt.Errorf("stop task %s: %w", taskARN, err)
	}
	for i := range c.tasks {
		if c.tasks[i].ARN == taskARN {
			c.tasks[i].DesiredStatus, c.tasks[i].LastStatus = "STOPPED", "STOPPED"
			return nil
		}
	}
	return fmt.Errorf("stop task %s: %w", taskARN, cluster.ErrInvalid)
}

// Services implements cluster.Client.Services.
func (f *Fake) Services(ctx context.Context, clusterName string, names []string) ([]cluster.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Services", clusterName, names...); err != nil {
		return nil, err
	}
	c, err := f.cluster(clusterName)
	if err != nil {
		return nil, fmt.Errorf("describe services of %s: %w", clusterName, err)
	}
	var out []cluster.Service
	for _, s := range c.services {
		if len(names) == 0 || slices.Contains(names, s.Name) || slices.Contains(names, s.ARN) {
			out = append(out, s)
		}
	}
	return out, nil
}

// ClusterExists implements cluster.Client.ClusterExists.
func (f *Fake) ClusterExists(ctx context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ClusterExists", name); err != nil {
		return false, err
	}
	_, err := f.cluster(name)
	return err == nil, nil
}

// Clusters implements cluster.Client.Clusters.
func (f *Fake) Clusters(ctx context.Context, names []string) ([]cluster.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Clusters", "", names...); err != nil {
		return nil, err
	}
	out := make([]cluster.Cluster, 0, len(names))
	for _, n := range names {
		c, err := f.cluster(n)
		if err != nil {
			return nil, fmt.Errorf("describe cluster %s: %w", n, cluster.ErrClusterNotFound)
		}
		out = append(out, f.describe(c))
	}
	return out, nil
}

// ClustersTagged implements cluster.Client.ClustersTagged.
func (f *Fake) ClustersTagged(ctx context.Context, key, value string) ([]cluster.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ClustersTagged", "", key, value); err != nil {
		return nil, err
	}
	var out []cluster.Cluster
	for _, n := range f.order {
		c := f.clusters[n]
		if v, ok := c.tags[key]; ok && (value == "" || v == value) {
			out = append(out, f.describe(c))
		}
	}
	return out, nil
}

func (f *Fake) describe(c *fakeCluster) cluster.Cluster {
	out := cluster.Cluster{Name: c.name, ARN: ClusterARN(c.name), Status: "ACTIVE", Tags: maps.Clone(c.tags), ActiveServices: len(c.services)}
	for _, in := range c.instances {
		if in.Status != "INACTIVE" {
			out.RegisteredInstances++
		}
		v := f.view(c, in)
		out.RunningTasks += v.RunningTasks
		out.PendingTasks += v.PendingTasks
	}
	return out
}
