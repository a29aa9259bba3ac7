package clustertest_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
)

func TestFakeContract(t *testing.T) {
	clustertest.RunContract(t, func(t *testing.T) clustertest.Env {
		f := clustertest.NewFake()
		clustertest.NewWorld(f, "prod")
		return clustertest.Env{Adapter: f, Cluster: "prod"}
	})
}

func TestFakeFailNextFailsOneCall(t *testing.T) {
	f := clustertest.NewFake()
	clustertest.NewWorld(f, "prod")
	injected := errors.Join(cluster.ErrThrottled, cluster.ErrTransient)
	f.FailNext("ListInstances", injected)
	if _, err := f.ListInstances(t.Context(), "prod", "", ""); !errors.Is(err, cluster.ErrThrottled) {
		t.Errorf("first ListInstances() error = %v, want the injected error", err)
	}
	got, err := f.ListInstances(t.Context(), "prod", "", "")
	if err != nil || len(got) != 3 {
		t.Errorf("second ListInstances() = %d instances, %v; want 3, nil", len(got), err)
	}
	var ops []string
	for _, c := range f.Calls() {
		ops = append(ops, c.Op)
	}
	if diff := cmp.Diff([]string{"ListInstances", "ListInstances"}, ops); diff != "" {
		t.Errorf("Calls() ops (-want +got):\n%s", diff)
	}
}

func TestFakeDrainsOnlyFromActive(t *testing.T) {
	f := clustertest.NewFake()
	in := f.AddInstance("prod", cluster.Instance{Status: "REGISTERING"})
	gone := f.AddInstance("prod", cluster.Instance{Status: "INACTIVE"})
	failures, err := f.SetState(t.Context(), "prod", []string{in.ARN, gone.ARN}, cluster.StatusDraining)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{in.ARN: "container instance is REGISTERING, not ACTIVE", gone.ARN: "INACTIVE"}
	if diff := cmp.Diff(want, failures); diff != "" {
		t.Errorf("SetState(DRAINING) failures (-want +got):\n%s", diff)
	}
}

func TestFakeTaskCountsFollowTasks(t *testing.T) {
	f := clustertest.NewFake()
	in := f.AddInstance("prod", cluster.Instance{})
	f.AddTask("prod", cluster.Task{InstanceARN: in.ARN})
	f.AddTask("prod", cluster.Task{InstanceARN: in.ARN, LastStatus: "PENDING"})
	got, _ := f.Instance(t.Context(), "prod", in.EC2InstanceID)
	if got.RunningTasks != 1 || got.PendingTasks != 1 {
		t.Errorf("Instance() counts = %d running, %d pending; want 1, 1", got.RunningTasks, got.PendingTasks)
	}
	if n := f.StopTasks(in.ARN); n != 2 {
		t.Errorf("StopTasks() = %d, want 2", n)
	}
	got, _ = f.Instance(t.Context(), "prod", in.ARN)
	if got.RunningTasks != 0 || got.PendingTasks != 0 {
		t.Errorf("after StopTasks, Instance() counts = %d running, %d pending; want 0, 0", got.RunningTasks, got.PendingTasks)
	}
}

func TestFakeClustersTagged(t *testing.T) {
	f := clustertest.NewFake()
	f.AddCluster("a", map[string]string{"rollwave": "enabled"})
	f.AddCluster("b", nil)
	got, err := f.ClustersTagged(t.Context(), "rollwave", "enabled")
	if err != nil || len(got) != 1 || got[0].Name != "a" {
		t.Errorf("ClustersTagged(rollwave=enabled) = %+v, %v; want cluster a", got, err)
	}
}
