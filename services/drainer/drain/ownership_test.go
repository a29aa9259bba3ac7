package drain

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
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

// writes returns the ECS calls that change something and the SSM documents sent.
func (w *world) writes() []string {
	var out []string
	for _, c := range w.ecs.Calls() {
		switch c.Op {
		case "PutAttributes", "DeleteAttributes", "SetState", "StopTask":
			out = append(out, "ecs:"+c.Op)
		}
	}
	for _, d := range w.ssmDocs() {
		out = append(out, "ssm:"+d)
	}
	return out
}

// withoutHistory returns the job's body without its history: a job written by hand at step drain.
func withoutHistory(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "history")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDrainJobsThatDoNotOwnTheInstanceChangeNothing: a drain job for an instance that no job owns,
// or a stale copy of a job that ended or moved on, ends at once: no write, no event, nothing
// counted against the error budget, counted in JobsIgnored with its reason. Before, the first
// ended failed (drain-failed) and two of them halted a healthy cluster.
func TestDrainJobsThatDoNotOwnTheInstanceChangeNothing(t *testing.T) {
	tests := []struct {
		rule   string
		job    string // the instance's rollwave.job, "" for none
		stage  update.Stage
		forged bool // the job has no history: written by hand
		reason update.Code
	}{
		{rule: "forged: no job owns the instance", forged: true, reason: update.CodeNotOwner},
		{rule: "a copy of a job that ended: the instance unmarked since", reason: update.CodeStaleJob},
		{rule: "a copy of a job that ended failed", job: jobID, stage: update.StageFailed, reason: update.CodeStaleJob},
		{rule: "a copy of a job already rebooting", job: jobID, stage: update.StageRebooting, reason: update.CodeStaleJob},
		{rule: "a copy of a job still staging", job: jobID, stage: update.StageStaging, reason: update.CodeStaleJob},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, defaultPolicy())
				attrs := map[string]string{"bottlerocket.variant": "aws-ecs-2"}
				if tc.job != "" {
					attrs[update.AttrJob], attrs[update.AttrStage] = tc.job, string(tc.stage)
				}
				me := w.me
				me.Attributes = attrs
				w.ecs.SetInstance(me)
				rec, spy := &metricstest.Recorder{}, &budgetSpy{}
				w.d.ender.Metrics, w.d.ender.Budget = rec, spy
				body := w.job(t)
				if tc.forged {
					body = withoutHistory(t, body)
				}
				if got := w.handle(t, body); got.String() != "done" {
					t.Fatalf("handle = %s, want done", got)
				}
				if got := w.writes(); len(got) != 0 {
					t.Errorf("writes = %v, want none", got)
				}
				if ev := w.events.all(); len(ev) != 0 || len(spy.counted) != 0 || len(w.forwarded(t)) != 0 {
					t.Errorf("events %v, counted against the budget %v, forwarded %d; want none", ev, spy.counted, len(w.forwarded(t)))
				}
				dims := map[string]string{metrics.Cluster: testCluster, metrics.Step: string(update.StepDrain), metrics.Reason: string(tc.reason)}
				if got := rec.Sum(metrics.JobsIgnored, dims); got != 1 {
					t.Errorf("JobsIgnored%v = %v, want 1", dims, got)
				}
			})
		})
	}
}

// TestDrainJobForAClusterNotManaged: the drainer refuses a job of a cluster the deployment does
// not manage before it reads or writes anything of that cluster.
func TestDrainJobForAClusterNotManaged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		other := w.ecs.AddInstance("other", cluster.Instance{AgentConnected: true, Attributes: map[string]string{
			"bottlerocket.variant": "aws-ecs-2", update.AttrJob: jobID, update.AttrStage: string(update.StageStaged),
		}})
		var m map[string]any
		if err := json.Unmarshal(w.job(t), &m); err != nil {
			t.Fatal(err)
		}
		m["cluster"], m["containerInstanceArn"], m["instance"], m["ec2InstanceId"] = "other", other.ARN, other.EC2InstanceID, other.EC2InstanceID
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.handle(t, body); !strings.HasPrefix(got.String(), "poison: cluster-not-managed: ") {
			t.Errorf("handle = %s, want poison: cluster-not-managed: ...", got)
		}
		for _, c := range w.ecs.Calls() {
			if c.Cluster == "other" {
				t.Errorf("ECS %s on the cluster other; want no call", c.Op)
			}
		}
	})
}
