package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

// park leaves the instance as a failed job leaves it under the park policy: DRAINING, marked
// failed with a reason, or, with stage other than failed, as a job in flight holds it.
func park(t *testing.T, st *stack, ec2ID, job, stage, failure string) {
	t.Helper()
	ctx := t.Context()
	api := ecs.NewFromConfig(st.s.AWSConfig(ctx))
	in, err := cluster.New(api).Instance(ctx, "ops-a", ec2ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("ops-a"),
		ContainerInstances: []string{in.ARN}, Status: ecstypes.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{update.AttrJob: job, update.AttrStage: stage, update.AttrLease: "2025-06-02T10:00:00Z"}
	if failure != "" {
		attrs[update.AttrFailure] = failure
	}
	if err := cluster.New(api).PutAttributes(ctx, "ops-a", in.ARN, attrs); err != nil {
		t.Fatal(err)
	}
}

// TestInstancesRelease returns a parked instance to service with the binary, after jobs list
// showed it as needing attention, and refuses an instance a job still owns.
func TestInstancesRelease(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	p := withoutWorkers(t, st)
	const parked, owned = "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"
	park(t, st, parked, "01JPARKEDJOB00000000000000", "failed", "never-came-back")
	park(t, st, owned, "01JOWNEDJOB000000000000000", "draining", "")

	out, _, code := p.rollwave("jobs", "list", "-o", "json")
	if got := jq(t, out, `[.[] | select(.state=="failed") | [.instance, .reason]]`); code != 0 || got != `[["`+parked+`","never-came-back"]]` {
		t.Errorf("jobs list failed rows = %d %s, want %s needing attention for never-came-back", code, got, parked)
	}
	out, _, _ = p.rollwave("jobs", "list")
	if !strings.Contains(out, "needs attention: never-came-back") {
		t.Errorf("jobs list = %q, want the parked instance as needing attention", out)
	}

	_, errOut, code := p.rollwave("instances", "release", owned)
	if code != exitFailed || !strings.Contains(errOut, "job 01JOWNEDJOB000000000000000 owns "+owned) {
		t.Errorf("release of an owned instance = %d %q, want %d and the owner named", code, errOut, exitFailed)
	}
	if v, _ := fleetAttr(t, st, owned, update.AttrStage); v != "draining" {
		t.Errorf("after the refusal %s has stage %q, want its marks untouched", owned, v)
	}
	if _, _, code := p.rollwave("instances", "release", "i-0bbbbbbbbbbbbbbb9"); code != exitNotFound {
		t.Errorf("release of an unknown instance = %d, want %d", code, exitNotFound)
	}

	out, _, code = p.rollwave("instances", "release", parked, "-o", "json")
	if code != 0 {
		t.Fatalf("instances release %s: exit %d", parked, code)
	}
	if got := jq(t, out, `[.statusBefore, .status, .job, .failure, (.cleared | sort)]`); got != `["DRAINING","ACTIVE","01JPARKEDJOB00000000000000","never-came-back",["rollwave.failure","rollwave.job","rollwave.lease","rollwave.stage"]]` {
		t.Errorf("instances release -o json = %s", got)
	}
	out, _, _ = p.rollwave("status", "--cluster", "ops-a", "-o", "json", "--query", "clusters[0].instances[?ec2InstanceId=='"+parked+"'] | [0]")
	if got := jq(t, out, `[.status, .job, .stage, .failure]`); got != `["ACTIVE",null,null,null]` {
		t.Errorf("after release, status shows %s = %s, want ACTIVE without marks", parked, got)
	}
	out, _, code = p.rollwave("instances", "release", parked)
	if code != 0 || !strings.Contains(out, "nothing to release") {
		t.Errorf("a second release = %d %q, want 0 and nothing to release", code, out)
	}
}
