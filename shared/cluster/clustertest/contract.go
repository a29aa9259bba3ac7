package clustertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

// Adapter is the method set of *cluster.Client, declared by the contract suite, which needs all
// of it. Services should not use it: each declares the few methods it calls.
type Adapter interface {
	ListInstances(ctx context.Context, clusterName, status, filter string) ([]cluster.Instance, error)
	CountInstances(ctx context.Context, clusterName, filter string) (int, error)
	Census(ctx context.Context, clusterName string) (cluster.Census, error)
	Instance(ctx context.Context, clusterName, idOrARN string) (cluster.Instance, error)
	SetState(ctx context.Context, clusterName string, arns []string, status string) (map[string]string, error)
	PutAttributes(ctx context.Context, clusterName, arn string, attrs map[string]string) error
	DeleteAttributes(ctx context.Context, clusterName, arn string, names ...string) error
	Tasks(ctx context.Context, clusterName, instanceARN string) ([]cluster.Task, error)
	Services(ctx context.Context, clusterName string, names []string) ([]cluster.Service, error)
	ClusterExists(ctx context.Context, name string) (bool, error)
	Clusters(ctx context.Context, names []string) ([]cluster.Cluster, error)
	ClustersTagged(ctx context.Context, key, value string) ([]cluster.Cluster, error)
}

var (
	_ Adapter = (*Fake)(nil)
	_ Adapter = (*cluster.Client)(nil)
)

// Env is one world for the contract suite.
type Env struct {
	Adapter Adapter
	// Cluster names a cluster with at least two ACTIVE container instances that carry the
	// attribute bottlerocket.variant, at least one of them running tasks of a service, and
	// fewer than 8 custom attributes on each. The suite changes instances and restores them.
	Cluster string
}

// NewWorld fills f with a world that satisfies Env's requirements for clusterName: three
// Bottlerocket instances, one service "web" with tasks on two of them, one standalone task.
func NewWorld(f *Fake, clusterName string) {
	f.AddCluster(clusterName, map[string]string{"rollwave": "enabled"})
	f.AddService(clusterName, cluster.Service{Name: "web", Desired: 2, Running: 2, MinHealthyPercent: 50, MaxPercent: 200, Deployments: 1, Settled: true})
	var arns []string
	for i := range 3 {
		in := f.AddInstance(clusterName, cluster.Instance{
			AgentConnected: true,
			Attributes:     map[string]string{"bottlerocket.variant": "aws-ecs-2", "ecs.os-type": "linux"},
			AZ:             fmt.Sprintf("us-east-1%c", 'a'+i),
			RegisteredCPU:  2048, RegisteredMemory: 3904, RemainingCPU: 2048, RemainingMemory: 3904,
		})
		arns = append(arns, in.ARN)
	}
	for _, arn := range arns[:2] {
		f.AddTask(clusterName, cluster.Task{InstanceARN: arn, Group: "service:web", StartedBy: "ecs-svc/1234567890", CPU: 256, Memory: 512})
	}
	f.AddTask(clusterName, cluster.Task{InstanceARN: arns[2], Group: "family:batch", StartedBy: "cron"})
}

// RunContract runs the behaviour that every implementation of Adapter must show against the
// worlds newEnv returns (one per subtest; an implementation may hand out the same world, since
// every subtest restores what it changes).
func RunContract(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := t.Context()
	bottlerockets := func(t *testing.T, e Env) []cluster.Instance {
		t.Helper()
		got, err := e.Adapter.ListInstances(ctx, e.Cluster, cluster.StatusActive, "attribute:bottlerocket.variant exists")
		if err != nil {
			t.Fatalf("ListInstances(%s, ACTIVE, bottlerocket) error = %v", e.Cluster, err)
		}
		if len(got) < 2 {
			t.Fatalf("ListInstances(%s, ACTIVE, bottlerocket) returned %d instances, the contract needs at least 2", e.Cluster, len(got))
		}
		return got
	}

	t.Run("ListInstances filters by status and attribute", func(t *testing.T) {
		e := newEnv(t)
		for _, in := range bottlerockets(t, e) {
			if in.Status != cluster.StatusActive {
				t.Errorf("instance %s has status %s, want ACTIVE", in.ARN, in.Status)
			}
			if _, ok := in.Attributes["bottlerocket.variant"]; !ok {
				t.Errorf("instance %s lacks bottlerocket.variant: %v", in.ARN, in.Attributes)
			}
			if in.ARN == "" || !strings.HasPrefix(in.EC2InstanceID, "i-") {
				t.Errorf("instance has ARN %q and EC2 instance ID %q", in.ARN, in.EC2InstanceID)
			}
		}
		none, err := e.Adapter.ListInstances(ctx, e.Cluster, "", "attribute:rollwave.contract-absent exists")
		if err != nil || len(none) != 0 {
			t.Errorf("ListInstances(absent attribute) = %d instances, %v; want none", len(none), err)
		}
	})

	t.Run("Instance finds by EC2 instance ID and by ARN", func(t *testing.T) {
		e := newEnv(t)
		want := bottlerockets(t, e)[0]
		for _, key := range []string{want.ARN, want.EC2InstanceID} {
			got, err := e.Adapter.Instance(ctx, e.Cluster, key)
			if err != nil {
				t.Fatalf("Instance(%s) error = %v", key, err)
			}
			if got.ARN != want.ARN || got.EC2InstanceID != want.EC2InstanceID || got.Status != want.Status {
				t.Errorf("Instance(%s) = %s/%s/%s, want %s/%s/%s", key, got.ARN, got.EC2InstanceID, got.Status, want.ARN, want.EC2InstanceID, want.Status)
			}
			if diff := cmp.Diff(want.Attributes, got.Attributes); diff != "" {
				t.Errorf("Instance(%s).Attributes differ from ListInstances (-list +instance):\n%s", key, diff)
			}
		}
	})

	t.Run("Instance reports an unknown instance as ErrInstanceNotFound", func(t *testing.T) {
		e := newEnv(t)
		known := bottlerockets(t, e)[0].ARN
		unknownARN := known[:strings.LastIndex(known, "/")+1] + "0123456789abcdef0123456789abcdef"
		for _, key := range []string{"i-0000000000000dead", unknownARN} {
			if _, err := e.Adapter.Instance(ctx, e.Cluster, key); !errors.Is(err, cluster.ErrInstanceNotFound) {
				t.Errorf("Instance(%s) error = %v, want ErrInstanceNotFound", key, err)
			}
		}
	})

	t.Run("an unknown cluster is ErrClusterNotFound", func(t *testing.T) {
		e := newEnv(t)
		const missing = "rollwave-contract-no-such-cluster"
		if _, err := e.Adapter.ListInstances(ctx, missing, "", ""); !errors.Is(err, cluster.ErrClusterNotFound) {
			t.Errorf("ListInstances(%s) error = %v, want ErrClusterNotFound", missing, err)
		}
		if ok, err := e.Adapter.ClusterExists(ctx, missing); ok || err != nil {
			t.Errorf("ClusterExists(%s) = %v, %v; want false, nil", missing, ok, err)
		}
		if ok, err := e.Adapter.ClusterExists(ctx, e.Cluster); !ok || err != nil {
			t.Errorf("ClusterExists(%s) = %v, %v; want true, nil", e.Cluster, ok, err)
		}
		cs, err := e.Adapter.Clusters(ctx, []string{e.Cluster})
		if err != nil || len(cs) != 1 || cs[0].Name != e.Cluster || cs[0].Status != "ACTIVE" {
			t.Errorf("Clusters(%s) = %+v, %v; want the ACTIVE cluster", e.Cluster, cs, err)
		}
		if _, err := e.Adapter.Clusters(ctx, []string{e.Cluster, missing}); !errors.Is(err, cluster.ErrClusterNotFound) {
			t.Errorf("Clusters(%s, %s) error = %v, want ErrClusterNotFound", e.Cluster, missing, err)
		}
	})

	t.Run("SetState drains an ACTIVE instance and re-activates it", func(t *testing.T) {
		e := newEnv(t)
		in := bottlerockets(t, e)[0]
		t.Cleanup(func() {
			_, _ = e.Adapter.SetState(context.WithoutCancel(ctx), e.Cluster, []string{in.ARN}, cluster.StatusActive)
		})
		failures, err := e.Adapter.SetState(ctx, e.Cluster, []string{in.ARN}, cluster.StatusDraining)
		if err != nil || len(failures) != 0 {
			t.Fatalf("SetState(DRAINING) = %v, %v; want no failures", failures, err)
		}
		if got, err := e.Adapter.Instance(ctx, e.Cluster, in.ARN); err != nil || got.Status != cluster.StatusDraining {
			t.Errorf("after SetState(DRAINING), Instance() status = %q, %v; want DRAINING", got.Status, err)
		}
		draining, err := e.Adapter.ListInstances(ctx, e.Cluster, cluster.StatusDraining, "")
		if err != nil || !slices.ContainsFunc(draining, func(d cluster.Instance) bool { return d.ARN == in.ARN }) {
			t.Errorf("ListInstances(DRAINING) = %d instances, %v; want it to contain %s", len(draining), err, in.ARN)
		}
		failures, err = e.Adapter.SetState(ctx, e.Cluster, []string{in.ARN}, cluster.StatusActive)
		if err != nil || len(failures) != 0 {
			t.Fatalf("SetState(ACTIVE) = %v, %v; want no failures", failures, err)
		}
		if got, err := e.Adapter.Instance(ctx, e.Cluster, in.ARN); err != nil || got.Status != cluster.StatusActive {
			t.Errorf("after SetState(ACTIVE), Instance() status = %q, %v; want ACTIVE", got.Status, err)
		}
	})

	t.Run("Census counts the cluster and finds every instance out of service", func(t *testing.T) {
		e := newEnv(t)
		ins := bottlerockets(t, e)
		drained, claimed := ins[0], ins[1]
		t.Cleanup(func() {
			ctx := context.WithoutCancel(ctx)
			_, _ = e.Adapter.SetState(ctx, e.Cluster, []string{drained.ARN}, cluster.StatusActive)
			_ = e.Adapter.DeleteAttributes(ctx, e.Cluster, claimed.ARN, update.AttrStage)
		})
		if _, err := e.Adapter.SetState(ctx, e.Cluster, []string{drained.ARN}, cluster.StatusDraining); err != nil {
			t.Fatal(err)
		}
		if err := e.Adapter.PutAttributes(ctx, e.Cluster, claimed.ARN, map[string]string{update.AttrStage: string(update.StageAdmitting)}); err != nil {
			t.Fatal(err)
		}
		all, err := e.Adapter.ListInstances(ctx, e.Cluster, "", "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.Adapter.Census(ctx, e.Cluster)
		if err != nil {
			t.Fatalf("Census() error = %v", err)
		}
		if c.Registered != len(all) {
			t.Errorf("Census().Registered = %d, want the %d instances of the cluster", c.Registered, len(all))
		}
		var want, got []string
		for _, in := range all {
			if in.View().OutOfService() {
				want = append(want, in.ARN)
			}
		}
		for _, in := range c.Instances {
			got = append(got, in.ARN)
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" || !slices.Contains(got, drained.ARN) || !slices.Contains(got, claimed.ARN) {
			t.Errorf("Census().Instances: want every instance out of service, %s (DRAINING) and %s (claimed) among them (-want +got):\n%s", drained.ARN, claimed.ARN, diff)
		}
		if c.All != nil {
			var every, read []string
			for _, in := range all {
				every = append(every, in.ARN)
			}
			for _, in := range c.All {
				read = append(read, in.ARN)
			}
			slices.Sort(every)
			slices.Sort(read)
			if diff := cmp.Diff(every, read); diff != "" {
				t.Errorf("Census().All of a cluster read whole: want every instance (-want +got):\n%s", diff)
			}
		}
		if _, err := e.Adapter.Census(ctx, "rollwave-contract-no-such-cluster"); !errors.Is(err, cluster.ErrClusterNotFound) {
			t.Errorf("Census(unknown cluster) error = %v, want ErrClusterNotFound", err)
		}
	})

	t.Run("SetState reports unknown instances per instance and refuses other statuses", func(t *testing.T) {
		e := newEnv(t)
		known := bottlerockets(t, e)[0].ARN
		unknownARN := known[:strings.LastIndex(known, "/")+1] + "0123456789abcdef0123456789abcdef"
		failures, err := e.Adapter.SetState(ctx, e.Cluster, []string{known, unknownARN}, cluster.StatusActive)
		if err != nil {
			t.Fatalf("SetState(ACTIVE) error = %v", err)
		}
		if _, ok := failures[unknownARN]; !ok || len(failures) != 1 {
			t.Errorf("SetState(ACTIVE, known and unknown) failures = %v, want exactly %s", failures, unknownARN)
		}
		if _, err := e.Adapter.SetState(ctx, e.Cluster, []string{known}, "STOPPED"); !errors.Is(err, cluster.ErrInvalid) {
			t.Errorf("SetState(STOPPED) error = %v, want ErrInvalid", err)
		}
	})

	t.Run("attributes are written, found by filter, overwritten and deleted", func(t *testing.T) {
		e := newEnv(t)
		in := bottlerockets(t, e)[0]
		names := []string{"rollwave.contract-job", "rollwave.contract-stage"}
		t.Cleanup(func() { _ = e.Adapter.DeleteAttributes(context.WithoutCancel(ctx), e.Cluster, in.ARN, names...) })
		if err := e.Adapter.PutAttributes(ctx, e.Cluster, in.ARN, map[string]string{names[0]: "01JOB", names[1]: "staging"}); err != nil {
			t.Fatalf("PutAttributes() error = %v", err)
		}
		if err := e.Adapter.PutAttributes(ctx, e.Cluster, in.ARN, map[string]string{names[1]: "staged"}); err != nil {
			t.Fatalf("PutAttributes(overwrite) error = %v", err)
		}
		got, err := e.Adapter.Instance(ctx, e.Cluster, in.ARN)
		if err != nil {
			t.Fatalf("Instance() error = %v", err)
		}
		if got.Attributes[names[0]] != "01JOB" || got.Attributes[names[1]] != "staged" {
			t.Errorf("Instance().Attributes = %v, want %s=01JOB and %s=staged", got.Attributes, names[0], names[1])
		}
		marked, err := e.Adapter.ListInstances(ctx, e.Cluster, "", "attribute:"+names[0]+" exists")
		if err != nil || len(marked) != 1 || marked[0].ARN != in.ARN {
			t.Errorf("ListInstances(%s exists) = %d instances, %v; want only %s", names[0], len(marked), err, in.ARN)
		}
		for _, tc := range []struct {
			filter string
			want   int
		}{
			{"attribute:" + names[1] + " in [staging, staged]", 1},
			{"attribute:" + names[1] + " in [staging,admitting]", 0},
			{"attribute:" + names[1] + " == staged", 1},
		} {
			if n, err := e.Adapter.CountInstances(ctx, e.Cluster, tc.filter); err != nil || n != tc.want {
				t.Errorf("CountInstances(%s) = %d, %v; want %d", tc.filter, n, err, tc.want)
			}
		}
		unmarked, err := e.Adapter.ListInstances(ctx, e.Cluster, "", "attribute:"+names[0]+" !exists")
		if err != nil || slices.ContainsFunc(unmarked, func(u cluster.Instance) bool { return u.ARN == in.ARN }) {
			t.Errorf("ListInstances(%s !exists) = %d instances, %v; want them without %s", names[0], len(unmarked), err, in.ARN)
		}
		if err := e.Adapter.DeleteAttributes(ctx, e.Cluster, in.ARN, names...); err != nil {
			t.Fatalf("DeleteAttributes() error = %v", err)
		}
		if got, err := e.Adapter.Instance(ctx, e.Cluster, in.ARN); err != nil || hasAny(got.Attributes, names) {
			t.Errorf("after DeleteAttributes, Instance().Attributes = %v, %v; want none of %v", got.Attributes, err, names)
		}
		if err := e.Adapter.DeleteAttributes(ctx, e.Cluster, in.ARN, names...); err != nil {
			t.Errorf("DeleteAttributes(absent) error = %v, want nil", err)
		}
	})

	t.Run("more than 10 custom attributes is ErrAttributeLimit", func(t *testing.T) {
		e := newEnv(t)
		in := bottlerockets(t, e)[0]
		attrs := map[string]string{}
		var names []string
		for i := range 11 {
			n := fmt.Sprintf("rollwave.contract-%02d", i)
			attrs[n], names = "x", append(names, n)
		}
		t.Cleanup(func() { _ = e.Adapter.DeleteAttributes(context.WithoutCancel(ctx), e.Cluster, in.ARN, names...) })
		if err := e.Adapter.PutAttributes(ctx, e.Cluster, in.ARN, attrs); !errors.Is(err, cluster.ErrAttributeLimit) {
			t.Errorf("PutAttributes(11 custom attributes) error = %v, want ErrAttributeLimit", err)
		}
	})

	t.Run("Tasks and Services agree with the instance counts", func(t *testing.T) {
		e := newEnv(t)
		groups := map[string]int{}
		for _, in := range bottlerockets(t, e) {
			tasks, err := e.Adapter.Tasks(ctx, e.Cluster, in.ARN)
			if err != nil {
				t.Fatalf("Tasks(%s) error = %v", in.ARN, err)
			}
			if len(tasks) != in.RunningTasks+in.PendingTasks {
				t.Errorf("Tasks(%s) returned %d tasks, instance counts %d running + %d pending", in.ARN, len(tasks), in.RunningTasks, in.PendingTasks)
			}
			for _, task := range tasks {
				if task.InstanceARN != in.ARN || task.DesiredStatus != "RUNNING" || task.ARN == "" {
					t.Errorf("Tasks(%s) returned %+v", in.ARN, task)
				}
				if name, ok := strings.CutPrefix(task.Group, "service:"); ok {
					groups[name]++
					if !strings.HasPrefix(task.StartedBy, "ecs-svc/") {
						t.Errorf("service task %s startedBy %q, want ecs-svc/…", task.ARN, task.StartedBy)
					}
				}
			}
		}
		if len(groups) == 0 {
			t.Fatalf("no service task on any Bottlerocket instance of %s, the contract needs one", e.Cluster)
		}
		all, err := e.Adapter.Services(ctx, e.Cluster, nil)
		if err != nil {
			t.Fatalf("Services(all) error = %v", err)
		}
		for name, n := range groups {
			got, err := e.Adapter.Services(ctx, e.Cluster, []string{name, "rollwave-contract-no-such-service"})
			if err != nil || len(got) != 1 || got[0].Name != name {
				t.Errorf("Services(%s, unknown) = %+v, %v; want only %s", name, got, err, name)
				continue
			}
			if got[0].Running < n || got[0].MinHealthyPercent < 0 || got[0].MaxPercent < 100 {
				t.Errorf("Services(%s) = %+v, want at least %d running and sane percentages", name, got[0], n)
			}
			if !slices.ContainsFunc(all, func(s cluster.Service) bool { return s.Name == name }) {
				t.Errorf("Services(all) lacks %s", name)
			}
		}
	})
}

func hasAny(m map[string]string, names []string) bool {
	for _, n := range names {
		if _, ok := m[n]; ok {
			return true
		}
	}
	return false
}
