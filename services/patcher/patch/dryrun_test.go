package patch

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// mutations lists the calls that would change the instance: ECS writes and every SSM command
// but the read-only update check.
func (w *world) mutations() []string {
	var out []string
	for _, c := range w.ecs.Calls() {
		switch c.Op {
		case "PutAttributes", "DeleteAttributes", "SetState":
			out = append(out, "ecs "+c.Op)
		}
	}
	for _, c := range w.ssm.Commands() {
		if c.Document != "rollwave-update-check" {
			out = append(out, "ssm "+c.Document)
		}
	}
	return out
}

func TestDryRunStageDecidesAndChangesNothing(t *testing.T) {
	service := cluster.Task{StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"}
	for _, tc := range []struct {
		name   string
		host   *bottlerocketHost
		tasks  []cluster.Task
		forced bool
		note   string // in the forwarded job's note, or in the ended job's message
		ended  bool
	}{
		{name: "update available", host: &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, tasks: []cluster.Task{service},
			note: "would mark " + instanceID + " and stage 1.20.3 over 1.19.5 (update state Available)"},
		{name: "forced by ROLLWAVE_DRY_RUN", forced: true, host: &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"},
			note: "would mark"},
		{name: "no update", host: &bottlerocketHost{state: "Idle", active: "1.20.3"}, ended: true,
			note: "dry run, nothing changed: patcher: would skip (no-update): runs 1.20.3 and Bottlerocket offers no update"},
		{name: "standalone task", host: &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"},
			tasks: []cluster.Task{{StartedBy: "alice", Group: "family:batch", LastStatus: "RUNNING", DesiredStatus: "RUNNING"}}, ended: true,
			note: "would end skipped (standalone-task)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.host, nil, tc.tasks...)
			rec := &metricstest.Recorder{}
			w.p.metrics, w.p.ender.Metrics = rec, rec
			job := handJob()
			job.DryRun = !tc.forced
			w.p.dryRun = tc.forced
			if out := w.handle(t, job); out != queue.Done() {
				t.Fatalf("handle() = %+v, want Done", out)
			}
			if m := w.mutations(); len(m) > 0 {
				t.Errorf("a dry run changed the instance: %v", m)
			}
			if a := w.attrs(t); a[update.AttrJob] != "" || a[update.AttrStage] != "" {
				t.Errorf("attributes = %v, want no marks", a)
			}
			if len(w.rec.events) == 0 || w.rec.events[0] != notify.InstanceUpdateStarted+": " {
				t.Errorf("events = %v, want Instance Update Started first", w.rec.events)
			}
			if tc.ended {
				if len(w.rec.jobs) != 0 || len(w.rec.events) != 2 || w.rec.events[1] != notify.InstanceUpdateSkipped+": dry-run" {
					t.Errorf("forwarded %d jobs, events %v; want none and the dry run ended skipped/dry-run", len(w.rec.jobs), w.rec.events)
				}
				if got := rec.Sum(metrics.JobsSkipped, map[string]string{metrics.Reason: "dry-run", metrics.Step: "stage"}); got != 1 {
					t.Errorf("JobsSkipped{Reason=dry-run} = %v, want 1", got)
				}
				return
			}
			if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "drainer" || !w.rec.jobs[0].job.DryRun {
				t.Fatalf("forwarded = %+v, want one dry-run job to the drainer", w.rec.jobs)
			}
			h := w.rec.jobs[0].job.History
			if note := h[len(h)-1].Note; !strings.HasPrefix(note, jobs.DryRunNote) || !strings.Contains(note, tc.note) {
				t.Errorf("history note = %q, want %q%s...", note, jobs.DryRunNote, tc.note)
			}
			if got := rec.Sum(metrics.JobsStarted, map[string]string{metrics.Cluster: "prod"}); got != 1 {
				t.Errorf("JobsStarted{Cluster=prod} = %v, want 1", got)
			}
		})
	}
}

func TestDryRunRebootSendsNothing(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Ready", active: "1.19.5", new: "1.20.3"}, nil)
	job := handJob()
	job.ID, job.DryRun, job.Step = "j-dry", true, update.StepReboot
	if out := w.handle(t, job); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	if m := w.mutations(); len(m) > 0 {
		t.Errorf("a dry run changed the instance: %v", m)
	}
	if len(w.rec.jobs) != 1 || w.rec.jobs[0].url != "verifier" || w.rec.jobs[0].job.Step != update.StepVerify {
		t.Fatalf("forwarded = %+v, want the job to the verifier at step verify", w.rec.jobs)
	}
	h := w.rec.jobs[0].job.History
	if note := h[len(h)-1].Note; !strings.Contains(note, `would send the reboot (rollwave-reboot, comment "rollwave job j-dry")`) {
		t.Errorf("history note = %q, want it to say which reboot it would send", note)
	}
}

func TestAcceptedJobIsAnnouncedOnce(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
	rec := &metricstest.Recorder{}
	w.p.metrics, w.p.ender.Metrics = rec, rec
	w.handle(t, handJob())
	w.handle(t, handJob()) // redelivered: already staged, forwarded again
	// Each delivery forwards the job, and each forward tells the step done: a redelivery may
	// repeat the progress, never the start.
	want := []string{notify.InstanceUpdateStarted + ": ", notify.InstanceUpdateProgressed + ": staged", notify.InstanceUpdateProgressed + ": staged"}
	if diff := cmp.Diff(want, w.rec.events); diff != "" {
		t.Errorf("events (-want +got): one Instance Update Started:\n%s", diff)
	}
	if got := rec.Sum(metrics.JobsStarted, nil); got != 1 {
		t.Errorf("JobsStarted = %v, want 1", got)
	}
	if got := rec.Named(metrics.StepDuration, map[string]string{metrics.Step: "stage"}); len(got) != 1 {
		t.Errorf("StepDuration{Step=stage} = %+v, want one (the redelivered hand-written job has no history to time)", got)
	}
}

// TestAJobWhoseMarkFailedCountsAsStartedOnce: the mark is refused (a throttle beyond the SDK's
// retries), so the message is received again. The start is announced again, since it comes
// before the mark, but the job counts once in JobsStarted: the count waits for the mark.
func TestAJobWhoseMarkFailedCountsAsStartedOnce(t *testing.T) {
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
	rec := &metricstest.Recorder{}
	w.p.metrics, w.p.ender.Metrics = rec, rec
	w.ecs.FailNext("PutAttributes", errors.New("ThrottlingException: Rate exceeded"))
	if out := w.handle(t, handJob()); out == queue.Done() {
		t.Fatalf("handle() with the mark refused = %s, want a retry", out)
	}
	if got := rec.Sum(metrics.JobsStarted, nil); got != 0 {
		t.Errorf("JobsStarted after the refused mark = %v, want 0", got)
	}
	if out := w.handle(t, handJob()); out != queue.Done() {
		t.Fatalf("handle() again = %s, want Done", out)
	}
	if got := rec.Sum(metrics.JobsStarted, nil); got != 1 {
		t.Errorf("JobsStarted = %v, want 1", got)
	}
	if a := w.attrs(t); a[update.AttrJob] != "msg-1" || a[update.AttrStage] != "staged" {
		t.Errorf("attributes = %v, want the instance marked and staged", a)
	}
}
