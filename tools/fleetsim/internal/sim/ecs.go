package sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// APIError is an AWS error: Code becomes the error type on the wire (__type for JSON
// protocols, Code for the EC2 query protocol).
type APIError struct {
	Code    string
	Message string
	Status  int // HTTP status; 400 when zero
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(code, format string, a ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, a...)}
}

func invalidParam(format string, a ...any) *APIError {
	return apiErr("InvalidParameterException", format, a...)
}

// FailureView is the ECS Failure shape.
type FailureView struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ClusterView is the ECS Cluster shape.
type ClusterView struct {
	ClusterArn                        string    `json:"clusterArn"`
	ClusterName                       string    `json:"clusterName"`
	Status                            string    `json:"status"`
	RegisteredContainerInstancesCount int       `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int       `json:"runningTasksCount"`
	PendingTasksCount                 int       `json:"pendingTasksCount"`
	ActiveServicesCount               int       `json:"activeServicesCount"`
	Tags                              []TagView `json:"tags,omitempty"`
}

func (w *World) cluster(ref string) (*Cluster, error) {
	if ref == "" {
		ref = "default"
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		i := strings.LastIndex(ref, "cluster/")
		if i < 0 {
			return nil, invalidParam("Invalid cluster ARN: %s", ref)
		}
		name = ref[i+len("cluster/"):]
	}
	c := w.clusterByName[name]
	if c == nil {
		return nil, apiErr("ClusterNotFoundException", "Cluster not found.")
	}
	return c, nil
}

func (w *World) instanceIn(c *Cluster, ref string) *Instance {
	if in := w.instByARN[ref]; in != nil && in.cluster == c {
		return in
	}
	for _, in := range c.instances {
		if strings.HasSuffix(in.ARN, "/"+ref) {
			return in
		}
	}
	return nil
}

func sortedTags(m map[string]string) []TagView {
	var out []TagView
	for _, k := range sortedKeys(m) {
		out = append(out, TagView{Key: k, Value: m[k]})
	}
	return out
}

// ListClusters returns every cluster ARN.
func (w *World) ListClusters() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.clusters {
		out = append(out, c.ARN)
	}
	return out
}

// DescribeClusters describes the named clusters; unknown ones are failures with reason MISSING.
func (w *World) DescribeClusters(refs []string, tags bool) ([]ClusterView, []FailureView) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	var out []ClusterView
	var fails []FailureView
	for _, ref := range refs {
		c, err := w.cluster(ref)
		if err != nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = w.arn("cluster/" + ref)
			}
			fails = append(fails, FailureView{Arn: arn, Reason: "MISSING"})
			continue
		}
		v := ClusterView{ClusterArn: c.ARN, ClusterName: c.Name, Status: "ACTIVE", RegisteredContainerInstancesCount: len(c.instances), ActiveServicesCount: len(c.services)}
		for _, in := range c.instances {
			r, p := in.counts()
			v.RunningTasksCount += r
			v.PendingTasksCount += p
		}
		if tags {
			v.Tags = sortedTags(c.Tags)
		}
		out = append(out, v)
	}
	return out, fails
}

// InstanceSubject is a container instance as the cluster query language sees it.
type InstanceSubject struct {
	in *Instance
	w  *World
}

// Attribute returns the attribute's value; ok is false when the instance lacks it.
func (s InstanceSubject) Attribute(name string) (string, bool) {
	for _, a := range s.in.attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// EC2InstanceID is the instance's EC2 ID.
func (s InstanceSubject) EC2InstanceID() string { return s.in.EC2ID }

// RunningTasksCount counts RUNNING tasks.
func (s InstanceSubject) RunningTasksCount() int { r, _ := s.in.counts(); return r }

// AgentConnected reports the agent connection.
func (s InstanceSubject) AgentConnected() bool { return s.in.AgentConnected }

// AgentVersion is the ECS agent version.
func (s InstanceSubject) AgentVersion() string { return agentVersion }

// RegisteredAt is when the instance registered.
func (s InstanceSubject) RegisteredAt() time.Time { return s.in.RegisteredAt }

// TaskGroups lists the groups of the instance's tasks.
func (s InstanceSubject) TaskGroups() []string {
	var out []string
	for _, t := range s.in.tasks {
		out = append(out, t.Group)
	}
	return out
}

var instanceStatuses = map[string]bool{"ACTIVE": true, "DRAINING": true, "REGISTERING": true, "DEREGISTERING": true, "REGISTRATION_FAILED": true}

// ListContainerInstances lists the ARNs of the cluster's instances with the status (any when
// empty) that match (all when nil).
func (w *World) ListContainerInstances(cluster, status string, match func(InstanceSubject) bool) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if status != "" && !instanceStatuses[status] {
		return nil, invalidParam("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [ACTIVE, DRAINING, REGISTRATION_FAILED, REGISTERING, DEREGISTERING]", status)
	}
	out := []string{}
	for _, in := range c.instances {
		if status != "" && in.Status != status {
			continue
		}
		if match != nil && !match(InstanceSubject{in: in, w: w}) {
			continue
		}
		out = append(out, in.ARN)
	}
	return out, nil
}

// DescribeContainerInstances describes up to 100 instances of the cluster.
func (w *World) DescribeContainerInstances(cluster string, refs []string, tags bool) ([]ContainerInstanceView, []FailureView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []ContainerInstanceView{}
	fails, err := w.describeEach(cluster, refs, func(in *Instance) error {
		v := w.instanceView(in, false)
		if tags {
			v.Tags = []TagView{}
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, fails, nil
}

// DescribeContainerInstancesJSON is DescribeContainerInstances without tags, each instance's
// view as JSON, kept from one call to the next until the instance changes.
func (w *World) DescribeContainerInstancesJSON(cluster string, refs []string) ([]json.RawMessage, []FailureView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []json.RawMessage{}
	fails, err := w.describeEach(cluster, refs, func(in *Instance) error {
		if in.described == nil {
			b, err := json.Marshal(w.instanceView(in, false))
			if err != nil {
				return err
			}
			in.described = b
		}
		out = append(out, in.described)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, fails, nil
}

// describeEach calls each for the instances of cluster that refs name, in order, and returns a
// failure for each ref that names none; w.mu is held.
func (w *World) describeEach(cluster string, refs []string, each func(*Instance) error) ([]FailureView, error) {
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, invalidParam("Container instances cannot be empty.")
	}
	if len(refs) > 100 {
		return nil, invalidParam("instanceIds can have at most 100 items.")
	}
	fails := []FailureView{}
	for _, ref := range refs {
		in := w.instanceIn(c, ref)
		if in == nil {
			fails = append(fails, FailureView{Arn: ref, Reason: "MISSING"})
			continue
		}
		if err := each(in); err != nil {
			return nil, err
		}
	}
	return fails, nil
}

// UpdateContainerInstancesState sets up to 10 instances ACTIVE or DRAINING. DRAINING is only
// reachable from ACTIVE; anything else is a per-instance failure.
func (w *World) UpdateContainerInstancesState(cluster string, refs []string, status string) ([]ContainerInstanceView, []FailureView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, nil, err
	}
	if len(refs) == 0 {
		return nil, nil, invalidParam("Container instances cannot be empty.")
	}
	if len(refs) > 10 {
		return nil, nil, invalidParam("containerInstances can have at most 10 items.")
	}
	if status != StatusActive && status != StatusDraining {
		return nil, nil, invalidParam("Container instance status should be one of [ACTIVE, DRAINING]")
	}
	out := []ContainerInstanceView{}
	fails := []FailureView{}
	for _, ref := range refs {
		in := w.instanceIn(c, ref)
		switch {
		case in == nil:
			fails = append(fails, FailureView{Arn: ref, Reason: "MISSING"})
			continue
		case in.Status == StatusInactive:
			fails = append(fails, FailureView{Arn: in.ARN, Reason: "INACTIVE"})
			continue
		case status == StatusDraining && in.Status != StatusActive:
			fails = append(fails, FailureView{Arn: in.ARN, Reason: "INVALID_STATE", Detail: "Container instance status " + in.Status + " cannot transition to DRAINING; only ACTIVE instances can be drained"})
			continue
		}
		if in.Status != status {
			in.Status = status
			w.instanceChanged(in)
			if status == StatusDraining {
				for _, f := range in.onDraining {
					f()
				}
				in.onDraining = nil
			}
		}
		out = append(out, w.instanceView(in, false))
	}
	w.settle()
	return out, fails, nil
}

// AttributeInput is one attribute of PutAttributes/DeleteAttributes.
type AttributeInput struct {
	Name       string  `json:"name"`
	Value      *string `json:"value"`
	TargetType string  `json:"targetType"`
	TargetID   string  `json:"targetId"`
}

var (
	attrNameRe  = regexp.MustCompile(`^[a-zA-Z0-9_./\\-]{1,128}$`)
	attrValueRe = regexp.MustCompile(`^[a-zA-Z0-9_.@/\\: -]{1,128}$`)
)

func (w *World) attrTarget(c *Cluster, a AttributeInput) (*Instance, error) {
	if a.TargetType != "" && a.TargetType != "container-instance" {
		return nil, invalidParam("Invalid target type %s", a.TargetType)
	}
	if a.TargetID == "" {
		return nil, invalidParam("A target ID is required for attribute %s", a.Name)
	}
	in := w.instanceIn(c, a.TargetID)
	if in == nil {
		return nil, apiErr("TargetNotFoundException", "Could not find %s.", a.TargetID)
	}
	return in, nil
}

// PutAttributes creates or updates up to 10 custom attributes; an instance may hold at most 10
// custom attributes. The call is all or nothing.
func (w *World) PutAttributes(cluster string, attrs []AttributeInput) ([]AttributeView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if len(attrs) == 0 || len(attrs) > 10 {
		return nil, invalidParam("attributes must have between 1 and 10 items.")
	}
	targets := make([]*Instance, len(attrs))
	added := map[*Instance]map[string]bool{}
	for i, a := range attrs {
		if !attrNameRe.MatchString(a.Name) {
			return nil, invalidParam("Attribute name %q is invalid: 1-128 letters, numbers, hyphens, underscores, slashes or periods.", a.Name)
		}
		if a.Value != nil {
			v := *a.Value
			if !attrValueRe.MatchString(v) || strings.TrimSpace(v) != v {
				return nil, invalidParam("Attribute value %q is invalid: 1-128 letters, numbers, hyphens, underscores, periods, at signs, slashes, colons or spaces, not starting or ending with a space.", v)
			}
		}
		in, err := w.attrTarget(c, a)
		if err != nil {
			return nil, err
		}
		targets[i] = in
		if _, ok := (InstanceSubject{in: in}).Attribute(a.Name); !ok {
			if added[in] == nil {
				added[in] = map[string]bool{}
			}
			added[in][a.Name] = true
		}
	}
	for in, names := range added {
		if in.customCount()+len(names) > 10 {
			return nil, apiErr("AttributeLimitExceededException", "You have exceeded the maximum number of attributes (10) on container instance %s.", in.ARN)
		}
	}
	out := []AttributeView{}
	for i, a := range attrs {
		in := targets[i]
		val := ""
		if a.Value != nil {
			val = *a.Value
		}
		found, changed := false, true
		for j := range in.attrs {
			if in.attrs[j].Name == a.Name {
				changed = in.attrs[j].Value != val
				in.attrs[j].Value = val
				found = true
			}
		}
		if !found {
			in.attrs = append(in.attrs, Attribute{Name: a.Name, Value: val, Custom: true})
		}
		if changed {
			w.rec.attributeChanged(in, w.clock.Now(), a.Name, val, false)
		}
		in.described = nil
		out = append(out, AttributeView{Name: a.Name, Value: a.Value, TargetType: "container-instance", TargetID: in.ARN})
	}
	return out, nil
}

// DeleteAttributes deletes custom attributes by name (a value, when given, must match).
func (w *World) DeleteAttributes(cluster string, attrs []AttributeInput) ([]AttributeView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if len(attrs) == 0 || len(attrs) > 10 {
		return nil, invalidParam("attributes must have between 1 and 10 items.")
	}
	out := []AttributeView{}
	for _, a := range attrs {
		in, err := w.attrTarget(c, a)
		if err != nil {
			return nil, err
		}
		in.described = nil
		kept := in.attrs[:0]
		for _, x := range in.attrs {
			if x.Name == a.Name && (a.Value == nil || *a.Value == x.Value) {
				if x.Custom {
					w.rec.attributeChanged(in, w.clock.Now(), x.Name, "", true)
				}
				continue
			}
			kept = append(kept, x)
		}
		in.attrs = kept
		out = append(out, AttributeView{Name: a.Name, Value: a.Value, TargetType: "container-instance", TargetID: in.ARN})
	}
	return out, nil
}

// ListAttributes lists the attributes of the cluster's container instances, optionally only
// those named name (with value value).
func (w *World) ListAttributes(cluster, targetType, name string, value *string) ([]AttributeView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if targetType != "container-instance" {
		return nil, invalidParam("targetType must be container-instance")
	}
	if value != nil && name == "" {
		return nil, invalidParam("attributeValue can only be specified with attributeName")
	}
	out := []AttributeView{}
	for _, in := range c.instances {
		for _, a := range in.attrs {
			if name != "" && a.Name != name {
				continue
			}
			if value != nil && a.Value != *value {
				continue
			}
			av := AttributeView{Name: a.Name, TargetType: "container-instance", TargetID: in.ARN}
			if a.Value != "" {
				v := a.Value
				av.Value = &v
			}
			out = append(out, av)
		}
	}
	return out, nil
}

// TaskFilter selects tasks for ListTasks.
type TaskFilter struct {
	ContainerInstance, Family, ServiceName, StartedBy, DesiredStatus string
}

// ListTasks lists the ARNs of the cluster's tasks that pass the filter (desiredStatus RUNNING
// by default).
func (w *World) ListTasks(cluster string, f TaskFilter) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	if f.DesiredStatus == "" {
		f.DesiredStatus = TaskRunning
	}
	if f.DesiredStatus != TaskRunning && f.DesiredStatus != TaskPending && f.DesiredStatus != TaskStopped {
		return nil, invalidParam("1 validation error detected: Value '%s' at 'desiredStatus' failed to satisfy constraint: Member must satisfy enum value set: [STOPPED, PENDING, RUNNING]", f.DesiredStatus)
	}
	if f.Family != "" && f.ServiceName != "" {
		return nil, invalidParam("Cannot specify both family and serviceName.")
	}
	var in *Instance
	if f.ContainerInstance != "" {
		if in = w.instanceIn(c, f.ContainerInstance); in == nil {
			return nil, invalidParam("Invalid id: %s", f.ContainerInstance)
		}
	}
	var svc *Service
	if f.ServiceName != "" {
		for _, s := range c.services {
			if s.Name == f.ServiceName || s.ARN == f.ServiceName {
				svc = s
			}
		}
		if svc == nil {
			return nil, apiErr("ServiceNotFoundException", "Service not found.")
		}
	}
	out := []string{}
	for _, t := range w.tasks {
		if t.cluster != c || (in != nil && t.inst != in) || (svc != nil && t.svc != svc) {
			continue
		}
		if f.Family != "" && t.Family != f.Family {
			continue
		}
		if f.StartedBy != "" && t.StartedBy != f.StartedBy {
			continue
		}
		switch f.DesiredStatus {
		case TaskPending:
			if t.LastStatus != TaskPending || t.DesiredStatus != TaskRunning {
				continue
			}
		default:
			if t.DesiredStatus != f.DesiredStatus {
				continue
			}
		}
		out = append(out, t.ARN)
	}
	return out, nil
}

// DescribeTasks describes up to 100 tasks of the cluster.
func (w *World) DescribeTasks(cluster string, refs []string) ([]TaskView, []FailureView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, nil, err
	}
	if len(refs) == 0 {
		return nil, nil, invalidParam("Tasks cannot be empty.")
	}
	if len(refs) > 100 {
		return nil, nil, invalidParam("tasks can have at most 100 items.")
	}
	out := []TaskView{}
	fails := []FailureView{}
	for _, ref := range refs {
		t := w.taskByARN[ref]
		if t == nil {
			for _, x := range w.tasks {
				if x.cluster == c && strings.HasSuffix(x.ARN, "/"+ref) {
					t = x
				}
			}
		}
		if t == nil || t.cluster != c {
			fails = append(fails, FailureView{Arn: ref, Reason: "MISSING"})
			continue
		}
		out = append(out, w.taskView(t))
	}
	return out, fails, nil
}

// ListServices lists the cluster's service ARNs.
func (w *World) ListServices(cluster string) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, s := range c.services {
		out = append(out, s.ARN)
	}
	return out, nil
}

// DescribeServices describes up to 10 services of the cluster.
func (w *World) DescribeServices(cluster string, refs []string) ([]ServiceView, []FailureView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return nil, nil, err
	}
	if len(refs) == 0 || len(refs) > 10 {
		return nil, nil, invalidParam("services must have between 1 and 10 items.")
	}
	out := []ServiceView{}
	fails := []FailureView{}
	for _, ref := range refs {
		var svc *Service
		for _, s := range c.services {
			if s.Name == ref || s.ARN == ref {
				svc = s
			}
		}
		if svc == nil {
			fails = append(fails, FailureView{Arn: ref, Reason: "MISSING"})
			continue
		}
		out = append(out, w.serviceView(svc))
	}
	return out, fails, nil
}

// ListTagsForResource returns a cluster's tags (other resources have none).
func (w *World) ListTagsForResource(arn string) ([]TagView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.clusters {
		if c.ARN == arn {
			return append([]TagView{}, sortedTags(c.Tags)...), nil
		}
	}
	if w.instByARN[arn] != nil || w.taskByARN[arn] != nil {
		return []TagView{}, nil
	}
	for _, s := range w.services {
		if s.ARN == arn {
			return []TagView{}, nil
		}
	}
	if strings.Contains(arn, ":cluster/") {
		return nil, apiErr("ClusterNotFoundException", "Cluster not found.")
	}
	return nil, invalidParam("The specified resource is not found: %s", arn)
}

// StopTask stops a task of the cluster as ECS's StopTask does: its desired status becomes
// STOPPED (stop code UserInitiated, with reason) and it stops after the task stop time; a task
// already stopped is returned as it is.
func (w *World) StopTask(cluster, ref, reason string) (TaskView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.cluster(cluster)
	if err != nil {
		return TaskView{}, err
	}
	t := w.taskByARN[ref]
	if t == nil {
		for _, x := range w.tasks {
			if x.cluster == c && strings.HasSuffix(x.ARN, "/"+ref) {
				t = x
			}
		}
	}
	if t == nil || t.cluster != c {
		return TaskView{}, invalidParam("The referenced task was not found.")
	}
	if reason == "" {
		reason = "Task stopped by user"
	}
	w.stopTask(t, "UserInitiated", reason, w.sc.Timings.TaskStop.D())
	w.settle()
	return w.taskView(t), nil
}
