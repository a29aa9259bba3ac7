package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// budgetSpy records the outcomes that would count against the error budget.
type budgetSpy struct{ counted []update.Outcome }

func (b *budgetSpy) Record(_ context.Context, _ update.Job, o update.Outcome) error {
	if budget.Counts(o) {
		b.counted = append(b.counted, o)
	}
	return nil
}

// verifyJob is job-1 at step verify for the world's instance; accepted says whether its history
// shows the patcher's acceptance (a job that went through the pipeline) or none (written by hand).
func verifyJob(t *testing.T, w *world, accepted bool) []byte {
	t.Helper()
	j := update.Job{Schema: update.Schema, ID: jobID, Cluster: testCluster, Instance: w.me.EC2InstanceID,
		TargetVersion: newVersion, RequestedBy: "mallory", Reason: "forged",
		ContainerInstanceARN: w.me.ARN, EC2InstanceID: w.me.EC2InstanceID, FromVersion: oldVersion}
	if !accepted {
		j.Step = update.StepVerify
	} else {
		now := time.Now()
		for _, s := range []update.Step{update.StepStage, update.StepDrain, update.StepReboot, update.StepVerify} {
			if err := j.Advance(s, "patcher", update.AcceptedNote, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyJobsThatDoNotOwnTheInstanceChangeNothing: a verify job for an instance no job owns,
// or a stale copy, ends at once: no write, no SSM command, no event, nothing counted against the
// error budget; counted in JobsIgnored with its reason.
func TestVerifyJobsThatDoNotOwnTheInstanceChangeNothing(t *testing.T) {
	tests := []struct {
		rule     string
		job      string
		stage    update.Stage
		accepted bool
		reason   update.Code
	}{
		{rule: "forged: no job owns the instance", reason: update.CodeNotOwner},
		{rule: "a copy of a job that ended", accepted: true, reason: update.CodeStaleJob},
		{rule: "a copy of a job that ended failed", job: jobID, stage: update.StageFailed, accepted: true, reason: update.CodeStaleJob},
		{rule: "a copy of a job that is still draining", job: jobID, stage: update.StageDraining, accepted: true, reason: update.CodeStaleJob},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			w := newWorld(t, update.ParkFailed)
			me := w.me
			me.Status = cluster.StatusActive
			me.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2"}
			if tc.job != "" {
				me.Attributes[update.AttrJob], me.Attributes[update.AttrStage] = tc.job, string(tc.stage)
			}
			w.ecs.SetInstance(me)
			rec, spy := &metricstest.Recorder{}, &budgetSpy{}
			w.v.ender.Metrics, w.v.ender.Budget = rec, spy
			// Bounded: a verifier that took the job would wait for the host until this deadline.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if got := w.v.handle(ctx, queue.Message{ID: "m-1", Body: verifyJob(t, w, tc.accepted)}); got != queue.Done() {
				t.Fatalf("handle = %s, want done", got)
			}
			for _, c := range w.ecs.Calls() {
				if c.Op == "PutAttributes" || c.Op == "DeleteAttributes" || c.Op == "SetState" {
					t.Errorf("ECS %s: want no write", c.Op)
				}
			}
			if n := len(w.ssm.Commands()); n != 0 || len(w.events.all()) != 0 || len(spy.counted) != 0 {
				t.Errorf("SSM commands %d, events %v, counted against the budget %v; want none", n, w.events.all(), spy.counted)
			}
			dims := map[string]string{metrics.Cluster: testCluster, metrics.Step: string(update.StepVerify), metrics.Reason: string(tc.reason)}
			if got := rec.Sum(metrics.JobsIgnored, dims); got != 1 {
				t.Errorf("JobsIgnored%v = %v, want 1", dims, got)
			}
		})
	}
}

// TestVerifyJobForAClusterNotManaged: the verifier refuses a job of another cluster before any
// call about it.
func TestVerifyJobForAClusterNotManaged(t *testing.T) {
	w := newWorld(t, update.ParkFailed)
	j, err := update.Decode(verifyJob(t, w, true))
	if err != nil {
		t.Fatal(err)
	}
	j.Cluster = "other"
	body, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded: a verifier that took the job would wait for the host until this deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if got := w.v.handle(ctx, queue.Message{ID: "m-1", Body: body}); !strings.HasPrefix(got.String(), "poison: cluster-not-managed: ") {
		t.Errorf("handle = %s, want poison: cluster-not-managed: ...", got)
	}
	for _, c := range w.ecs.Calls() {
		if c.Cluster != "" {
			t.Errorf("ECS %s on cluster %s; want no call about the job", c.Op, c.Cluster)
		}
	}
}
