package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/update"
)

type noMarks struct{}

func (noMarks) PutAttributes(context.Context, string, string, map[string]string) error { return nil }
func (noMarks) DeleteAttributes(context.Context, string, string, ...string) error      { return nil }

// events records the events published; with err set, it refuses them.
type events struct {
	types   []string
	details []any
	err     error
}

func (e *events) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	if e.err != nil {
		return e.err
	}
	e.types = append(e.types, detailType)
	e.details = append(e.details, detail)
	return nil
}

func TestEndRecordsTheResultCounterAndTheLastStepsDuration(t *testing.T) {
	t0 := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		outcome   update.Outcome
		metric    string
		eventType string
	}{
		{update.Updated("1.19.5", "1.20.3"), metrics.JobsSucceeded, "Instance Update Succeeded"},
		{update.Failed(update.CodeDrainTimeout, "3 tasks left"), metrics.JobsFailed, "Instance Update Failed"},
		{update.Skipped(update.CodeDryRun, "would drain"), metrics.JobsSkipped, "Instance Update Skipped"},
		{update.Duplicate("j-other"), metrics.JobsSkipped, "Instance Update Skipped"},
	} {
		t.Run(string(tc.outcome.Code), func(t *testing.T) {
			rec := &metricstest.Recorder{}
			ev := &events{}
			e := &jobs.Ender{Marks: noMarks{}, Events: ev, Metrics: rec, By: "drainer", Now: func() time.Time { return t0.Add(90 * time.Second) }}
			job := update.Job{ID: "j-1", Cluster: "prod", Instance: "i-1"}
			if err := job.Advance(update.StepDrain, "patcher", "", t0); err != nil {
				t.Fatal(err)
			}
			if err := e.End(t.Context(), &job, tc.outcome, jobs.LeaveMarks); err != nil {
				t.Fatalf("End() = %v", err)
			}
			dims := map[string]string{metrics.Cluster: "prod", metrics.Step: "drain", metrics.Reason: string(tc.outcome.Code)}
			if got := rec.Sum(tc.metric, dims); got != 1 {
				t.Errorf("%s%v = %v, want 1", tc.metric, dims, got)
			}
			if got := len(rec.Named(tc.metric, nil)); got != 2 {
				t.Errorf("%s data = %d, want 2 (by cluster, step and reason; and without dimensions)", tc.metric, got)
			}
			steps := rec.Named(metrics.StepDuration, map[string]string{metrics.Cluster: "prod", metrics.Step: "drain"})
			if len(steps) != 1 || steps[0].Value != 90 {
				t.Errorf("StepDuration = %+v, want one of 90 s", steps)
			}
			if diff := cmp.Diff([]string{tc.eventType}, ev.types); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

type budgetHook struct {
	recorded []update.Outcome
	err      error
}

func (b *budgetHook) Record(_ context.Context, _ update.Job, o update.Outcome) error {
	b.recorded = append(b.recorded, o)
	return b.err
}

func TestEndTellsTheBudgetOfEveryEnding(t *testing.T) {
	hook := &budgetHook{}
	e := &jobs.Ender{Marks: noMarks{}, Events: &events{}, Budget: hook, By: "verifier", Now: time.Now}
	failed := update.Failed(update.CodeBootFailedRolledBack, "booted 1.19.5")
	for _, o := range []update.Outcome{failed, update.Updated("1.19.5", "1.20.3")} {
		job := update.Job{ID: "j-1", Cluster: "prod", Instance: "i-1"}
		if err := e.End(t.Context(), &job, o, jobs.LeaveMarks); err != nil {
			t.Fatalf("End(%s) = %v", o, err)
		}
	}
	if diff := cmp.Diff([]update.Outcome{failed, update.Updated("1.19.5", "1.20.3")}, hook.recorded); diff != "" {
		t.Errorf("outcomes the budget was told of (-want +got):\n%s", diff)
	}
	hook.err = context.DeadlineExceeded
	job := update.Job{ID: "j-2", Cluster: "prod", Instance: "i-2"}
	if err := e.End(t.Context(), &job, failed, jobs.LeaveMarks); err == nil {
		t.Error("End() with a failing budget = nil, want the error (the message is retried)")
	}
	// Without a budget, End counts nothing and does not fail.
	e.Budget = nil
	if err := e.End(t.Context(), &job, failed, jobs.LeaveMarks); err != nil {
		t.Errorf("End() without a budget = %v", err)
	}
}

type recordedMarks struct{ calls int }

func (m *recordedMarks) PutAttributes(context.Context, string, string, map[string]string) error {
	m.calls++
	return nil
}

func (m *recordedMarks) DeleteAttributes(context.Context, string, string, ...string) error {
	m.calls++
	return nil
}

// TestEndOfAJobThatDoesNotOwnItsInstance: not-owner and stale-job change no attribute (whatever
// marking the caller asked for), publish nothing, never reach the error budget, and are counted
// in JobsIgnored.
func TestEndOfAJobThatDoesNotOwnItsInstance(t *testing.T) {
	for _, o := range []update.Outcome{
		update.Skipped(update.CodeNotOwner, "no job owns it"),
		update.Skipped(update.CodeStaleJob, "ended before"),
	} {
		for _, m := range []jobs.Marking{jobs.Unmark, jobs.MarkFailed, jobs.LeaveMarks} {
			marks, ev, hook, rec := &recordedMarks{}, &events{}, &budgetHook{}, &metricstest.Recorder{}
			e := &jobs.Ender{Marks: marks, Events: ev, Metrics: rec, Budget: hook, By: "drainer", Now: time.Now}
			job := update.Job{ID: "forged", Cluster: "prod", Instance: "i-1", Step: update.StepDrain, ContainerInstanceARN: "arn:ci"}
			if err := e.End(t.Context(), &job, o, m); err != nil {
				t.Fatalf("End(%s, %d) = %v", o.Code, m, err)
			}
			if marks.calls != 0 || len(ev.types) != 0 || len(hook.recorded) != 0 || job.Outcome != nil {
				t.Errorf("End(%s, marking %d): %d attribute calls, events %v, budget told of %v, outcome %v; want none of them",
					o.Code, m, marks.calls, ev.types, hook.recorded, job.Outcome)
			}
			dims := map[string]string{metrics.Cluster: "prod", metrics.Step: "drain", metrics.Reason: string(o.Code)}
			if got := rec.Sum(metrics.JobsIgnored, dims); got != 1 {
				t.Errorf("End(%s): JobsIgnored%v = %v, want 1", o.Code, dims, got)
			}
			if got := rec.Sum(metrics.JobsSkipped, nil) + rec.Sum(metrics.JobsFailed, nil); got != 0 {
				t.Errorf("End(%s): JobsSkipped + JobsFailed = %v, want 0: the message ended no job", o.Code, got)
			}
		}
	}
}

// TestEndChangesTheMarksLast: the job owns its instance until its event is out and the error
// budget knows, so that a retry after a failure of either ends the job again; unmarked first, the
// retry found no mark of the job and ended as a stale copy, its event never published.
func TestEndChangesTheMarksLast(t *testing.T) {
	failed := update.Failed(update.CodeStagingFailed, "apply failed")
	for _, tc := range []struct {
		name    string
		publish error
		budget  error
	}{
		{"the event fails", errors.New("throttled"), nil},
		{"the budget fails", nil, errors.New("throttled")},
	} {
		for _, m := range []jobs.Marking{jobs.Unmark, jobs.MarkFailed} {
			t.Run(fmt.Sprintf("%s, marking %d", tc.name, m), func(t *testing.T) {
				marks, ev, hook := &recordedMarks{}, &events{err: tc.publish}, &budgetHook{err: tc.budget}
				e := &jobs.Ender{Marks: marks, Events: ev, Budget: hook, By: "patcher", Now: time.Now}
				job := update.Job{ID: "j-1", Cluster: "prod", Instance: "i-1", Step: update.StepStage, ContainerInstanceARN: "arn:ci"}
				if err := e.End(t.Context(), &job, failed, m); err == nil {
					t.Fatal("End() = nil, want the error (the message is retried)")
				}
				if marks.calls != 0 {
					t.Errorf("%d attribute calls before the error, want 0: the retry must find the job's marks", marks.calls)
				}
				ev.err, hook.err = nil, nil
				if err := e.End(t.Context(), &job, failed, m); err != nil {
					t.Fatalf("End() again = %v", err)
				}
				if marks.calls == 0 || len(ev.types) == 0 { // the event may have gone out twice: at least once
					t.Errorf("the retry made %d attribute calls and published %v; want the marks changed and the event out", marks.calls, ev.types)
				}
			})
		}
	}
}
