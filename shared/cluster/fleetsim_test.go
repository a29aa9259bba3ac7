package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

// The real adapter passes the same contract as the fake, against the fleet simulator's ECS API:
// the default scenario's cluster "prod" (Bottlerocket hosts, services and a standalone task).
// The simulator's scheduler moves tasks as subtests drain and re-activate hosts, so each subtest
// starts once every service is steady again: the suite compares reads taken one after the other.
func TestContractFleetsim(t *testing.T) {
	stack := harness.Start(t, harness.WithScenario("../../tools/fleetsim/scenarios/default.yaml"), harness.WithTimeScale(20))
	client := cluster.New(ecs.NewFromConfig(stack.AWSConfig(t.Context())))
	steady := func(t *testing.T) {
		t.Helper()
		harness.Eventually(t, time.Minute, func() (bool, string) {
			services, err := client.Services(t.Context(), "prod", nil)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range services {
				if !s.Settled || s.Pending > 0 || s.Running != s.Desired {
					return false, fmt.Sprintf("service %s: %+v", s.Name, s)
				}
			}
			return len(services) > 0, fmt.Sprintf("%d services", len(services))
		})
	}
	clustertest.RunContract(t, func(t *testing.T) clustertest.Env {
		steady(t)
		return clustertest.Env{Adapter: client, Cluster: "prod"}
	})
}

// A cluster of more than one page of instances is counted from filtered reads: the census finds
// the instances out of service, and only those, and the cluster's size, in a number of calls that
// does not grow with it.
func TestCensusOfALargeCluster(t *testing.T) {
	file := filepath.Join(t.TempDir(), "large.yaml")
	scenario := "repository:\n  aws-ecs-2: [\"1.19.5\", \"1.20.3\"]\nclusters:\n  - name: large\n    instances:\n      - {count: 250, version: 1.19.5}\n"
	if err := os.WriteFile(file, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := harness.Start(t, harness.WithScenario(file), harness.WithTimeScale(20))
	ctx := t.Context()
	client := cluster.New(ecs.NewFromConfig(stack.AWSConfig(ctx)))
	all, err := client.ListInstances(ctx, "large", "", "")
	if err != nil || len(all) != 250 {
		t.Fatalf("ListInstances = %d instances, %v; want 250", len(all), err)
	}
	drained, claimed := all[10], all[200]
	if _, err := client.SetState(ctx, "large", []string{drained.ARN}, cluster.StatusDraining); err != nil {
		t.Fatal(err)
	}
	if err := client.PutAttributes(ctx, "large", claimed.ARN, map[string]string{update.AttrStage: string(update.StageRebooting)}); err != nil {
		t.Fatal(err)
	}
	c, err := client.Census(ctx, "large")
	if err != nil {
		t.Fatalf("Census() error = %v", err)
	}
	var got []string
	for _, in := range c.Instances {
		got = append(got, in.ARN)
	}
	slices.Sort(got)
	want := []string{drained.ARN, claimed.ARN}
	slices.Sort(want)
	if c.Registered != 250 || c.All != nil || !slices.Equal(got, want) {
		t.Errorf("Census() = %d registered, All %d, instances %v; want 250, none (not read whole), %v", c.Registered, len(c.All), got, want)
	}
	if v := c.View(); update.CountOutOfService(v.Instances) != 2 || v.Total != 250 {
		t.Errorf("View() = %d of %d out of service, want 2 of 250", update.CountOutOfService(v.Instances), v.Total)
	}
}
