package patch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// budgetSpy records what the error budget was told and whether it would count.
type budgetSpy struct{ counted []update.Outcome }

func (b *budgetSpy) Record(_ context.Context, _ update.Job, o update.Outcome) error {
	if budget.Counts(o) {
		b.counted = append(b.counted, o)
	}
	return nil
}

// writes returns the ECS calls that change something and the SSM commands sent.
func (w *world) writes() []string {
	var out []string
	for _, c := range w.ecs.Calls() {
		switch c.Op {
		case "PutAttributes", "DeleteAttributes", "SetState", "StopTask":
			out = append(out, "ecs:"+c.Op)
		}
	}
	for _, c := range w.ssm.Commands() {
		out = append(out, "ssm:"+c.Document)
	}
	return out
}

// TestJobsThatDoNotOwnTheInstanceChangeNothing: a job message that does not own its instance
// (update.Owner) ends at once: no ECS or SSM write, no Instance Update Failed, nothing counted
// against the error budget, and it is counted in JobsIgnored with its reason.
func TestJobsThatDoNotOwnTheInstanceChangeNothing(t *testing.T) {
	accepted := func(j update.Job) update.Job {
		j.History = append([]update.Entry{{Step: update.StepStage, At: time.Unix(0, 0).UTC(), By: "patcher", Note: "accepted; rollwave.job set"}}, j.History...)
		return j
	}
	forged := func(w *world) update.Job { return rebootJob(w) }
	tests := []struct {
		rule   string
		attrs  map[string]string
		job    func(w *world) update.Job
		reason update.Code
	}{
		{"a forged reboot job for an instance no job owns: not-owner", nil, forged, update.CodeNotOwner},
		{"a reboot copy of a job that ended (instance unmarked since): stale-job", nil,
			func(w *world) update.Job { return accepted(rebootJob(w)) }, update.CodeStaleJob},
		{"a reboot copy of a job that ended failed: stale-job", map[string]string{update.AttrJob: "j-1", update.AttrStage: "failed"},
			func(w *world) update.Job { return accepted(rebootJob(w)) }, update.CodeStaleJob},
		{"a reboot job for an instance its job has only staged: stale-job", map[string]string{update.AttrJob: "j-1", update.AttrStage: "staged"},
			func(w *world) update.Job { return accepted(rebootJob(w)) }, update.CodeStaleJob},
		{"a staging copy waiting for its apply, delivered again after the job ended (instance unmarked since): stale-job", nil,
			func(w *world) update.Job {
				j := accepted(handJob())
				j.Applying = &update.Applying{Command: "c-1", Since: time.Unix(0, 0).UTC()}
				return j
			}, update.CodeStaleJob},
		{"a new job's message delivered again after the job updated the instance: stale-job", map[string]string{update.AttrUpdatedBy: "j-1"},
			func(w *world) update.Job {
				j := handJob()
				j.ID = "j-1"
				return j
			}, update.CodeStaleJob},
		{"a stage copy of a job that ended failed: stale-job", map[string]string{update.AttrJob: "j-1", update.AttrStage: "failed"},
			func(w *world) update.Job {
				j := handJob()
				j.ID = "j-1"
				return accepted(j)
			}, update.CodeStaleJob},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"}, tc.attrs)
			rec, spy := &metricstest.Recorder{}, &budgetSpy{}
			w.p.ender.Metrics, w.p.ender.Budget = rec, spy
			before := w.attrs(t)
			if out := w.handle(t, tc.job(w)); out != queue.Done() {
				t.Fatalf("handle() = %v, want done", out)
			}
			if got := w.writes(); len(got) != 0 {
				t.Errorf("writes = %v, want none", got)
			}
			if len(w.rec.events) != 0 || len(w.rec.jobs) != 0 || len(spy.counted) != 0 {
				t.Errorf("events %v, forwarded %d, counted against the budget %v; want none", w.rec.events, len(w.rec.jobs), spy.counted)
			}
			if diff := cmp.Diff(before, w.attrs(t)); diff != "" {
				t.Errorf("attributes changed (-before +after):\n%s", diff)
			}
			step := tc.job(w).Step
			if step == "" {
				step = update.StepStage
			}
			if got := rec.Sum(metrics.JobsIgnored, map[string]string{metrics.Cluster: "prod", metrics.Reason: string(tc.reason),
				metrics.Step: string(step)}); got != 1 {
				t.Errorf("JobsIgnored with reason %s = %v, want 1", tc.reason, got)
			}
		})
	}
}

// TestJobForAnUnknownInstanceIsSkipped: a typo in a hand-written job's instance ends it skipped,
// instance-gone, changing nothing and never spending the error budget.
func TestJobForAnUnknownInstanceIsSkipped(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
	spy := &budgetSpy{}
	w.p.ender.Budget = spy
	j := handJob()
	j.Instance = "i-0123456789abcdef9"
	if out := w.handle(t, j); out != queue.Done() {
		t.Fatalf("handle() = %v, want done", out)
	}
	if want := []string{notify.InstanceUpdateSkipped + ": instance-gone"}; !cmp.Equal(want, w.rec.events) || len(spy.counted) != 0 || len(w.writes()) != 0 {
		t.Errorf("events %v, budget counted %v, writes %v; want %v, nothing counted, no write", w.rec.events, spy.counted, w.writes(), want)
	}
}

// TestJobForAClusterNotManagedGoesToTheDeadLetterQueue: the trust boundary refuses a job whose
// cluster is not one of the deployment's before any ECS call, by name or by ARN.
func TestJobForAClusterNotManagedGoesToTheDeadLetterQueue(t *testing.T) {
	for _, name := range []string{"other", "arn:aws:ecs:us-east-1:123456789012:cluster/other", "arn:aws:ecs:eu-west-1:999999999999:cluster/prod"} {
		w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
		w.ecs.AddCluster("other", nil)
		j := handJob()
		j.Cluster = name
		out := w.handle(t, j)
		if !strings.HasPrefix(out.String(), "poison: cluster-not-managed: ") {
			t.Errorf("handle(job for %s) = %v, want poison: cluster-not-managed: ...", name, out)
		}
		for _, c := range w.ecs.Calls() {
			if c.Cluster != "" {
				t.Errorf("handle(job for %s) called ECS %s on cluster %s; want no call about the job", name, c.Op, c.Cluster)
			}
		}
		if len(w.rec.events) != 0 || len(w.ssm.Commands()) != 0 {
			t.Errorf("handle(job for %s): events %v, SSM commands %d; want none", name, w.rec.events, len(w.ssm.Commands()))
		}
	}
	// The same cluster named by its ARN is managed.
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
	j := handJob()
	j.Cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
	if out := w.handle(t, j); out != queue.Done() || len(w.rec.jobs) != 1 {
		t.Errorf("handle(job naming prod by ARN) = %v, forwarded %d; want done, staged and forwarded", out, len(w.rec.jobs))
	}
}
