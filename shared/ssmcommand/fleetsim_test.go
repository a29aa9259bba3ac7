package ssmcommand_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/tools/harness"
)

// The real adapter passes the same contract as the fake, against the fleet simulator's SSM API,
// with rollwave's own update-check document on the default scenario's hosts.
func TestContractFleetsim(t *testing.T) {
	stack := harness.Start(t, harness.WithScenario("../../tools/fleetsim/scenarios/default.yaml"))
	ctx := t.Context()
	cfg := stack.AWSConfig(ctx)
	api := ssm.NewFromConfig(cfg)
	prefix := stack.Name("rw")
	if err := ssmdoc.Ensure(ctx, api, prefix); err != nil {
		t.Fatalf("register documents: %v", err)
	}
	hosts, err := cluster.New(ecs.NewFromConfig(cfg)).ListInstances(ctx, "prod", cluster.StatusActive, "")
	if err != nil || len(hosts) < 2 {
		t.Fatalf("ListInstances(prod) = %d hosts, %v; want at least 2", len(hosts), err)
	}
	ids := []string{hosts[0].EC2InstanceID, hosts[1].EC2InstanceID}
	client := ssmcommand.New(api)
	ssmcommandtest.RunContract(t, func(*testing.T) ssmcommandtest.Env {
		return ssmcommandtest.Env{
			Adapter: client, Instances: ids, Document: ssmdoc.Name(prefix, ssmdoc.Check),
			PollInterval: 50 * time.Millisecond,
		}
	})
}
