package ssmcommand_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

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

// A command over more than 50 instances is sent as several commands: on the fleet simulator
// too, Run learns which have ended from ListCommands and walks the invocations of each once it
// has ended, instead of once per command and look.
func TestRunOverSeveralCommandsFleetsim(t *testing.T) {
	scenario := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(scenario, []byte("repository:\n  aws-ecs-2: [\"1.20.3\", \"1.19.5\"]\nclusters:\n  - name: prod\n    instances:\n      - {count: 120, version: 1.19.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := harness.Start(t, harness.WithScenario(scenario))
	ctx := t.Context()
	cfg := stack.AWSConfig(ctx)
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			calls[awsmiddleware.GetOperationName(ctx)]++
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	}
	api := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.APIOptions = append(o.APIOptions, count) })
	prefix := stack.Name("rw")
	if err := ssmdoc.Ensure(ctx, api, prefix); err != nil {
		t.Fatalf("register documents: %v", err)
	}
	hosts, err := cluster.New(ecs.NewFromConfig(cfg)).ListInstances(ctx, "prod", cluster.StatusActive, "")
	if err != nil || len(hosts) != 120 {
		t.Fatalf("ListInstances(prod) = %d hosts, %v; want 120", len(hosts), err)
	}
	var ids []string
	for _, h := range hosts {
		ids = append(ids, h.EC2InstanceID)
	}
	mu.Lock()
	clear(calls)
	mu.Unlock()
	got, err := ssmcommand.New(api).Run(ctx, ssmdoc.Name(prefix, ssmdoc.Check), ids, ssmcommand.Options{PollInterval: 50 * time.Millisecond, Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if r := got[id]; !r.OK() {
			t.Fatalf("Run()[%s] = %+v, want Success", id, r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["SendCommand"] != 3 || calls["ListCommands"] == 0 || calls["ListCommandInvocations"] > 2*3 {
		t.Errorf("calls = %v, want 3 SendCommand, ListCommands, and about one ListCommandInvocations walk per command (at most 6)", calls)
	}
}
