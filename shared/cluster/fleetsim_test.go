package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
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
