package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
)

func TestDryRunEndsSkippedWithASummaryAndChangesNothing(t *testing.T) {
	for _, forced := range []bool{false, true} {
		w := newWorld(t, update.ParkFailed)
		// A dry run's instance was never marked nor drained.
		in := w.me
		in.Status = cluster.StatusActive
		in.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2"}
		w.ecs.SetInstance(in)
		rec := &metricstest.Recorder{}
		w.v.ender.Metrics = rec
		j, err := update.Decode(w.job(t))
		if err != nil {
			t.Fatal(err)
		}
		j.DryRun = !forced
		w.v.dryRun = forced
		j.History[1].Note = "dry run: would mark i-1 and stage 1.20.3"
		j.History[1].By = "patcher"
		body, err := update.Encode(j)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.handle(t, body); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		for _, c := range w.ecs.Calls() {
			if c.Op == "PutAttributes" || c.Op == "DeleteAttributes" || c.Op == "SetState" {
				t.Errorf("a dry run changed the instance: %s %v", c.Op, c.Args)
			}
		}
		for _, c := range w.ssm.Commands() {
			if c.Document != checkDoc {
				t.Errorf("a dry run sent %s", c.Document)
			}
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateSkipped + ": dry-run"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if got := rec.Sum(metrics.JobsSkipped, map[string]string{metrics.Reason: "dry-run", metrics.Step: "verify"}); got != 1 {
			t.Errorf("JobsSkipped{Reason=dry-run,Step=verify} = %v, want 1", got)
		}
		if got := w.instance(); got.Status != cluster.StatusActive || len(marks(got)) != 0 {
			t.Errorf("instance after a dry run: %s %v, want ACTIVE unmarked as before", got.Status, marks(got))
		}
	}
}

func TestDryRunSummaryNamesEveryWorkersDecision(t *testing.T) {
	w := newWorld(t, update.ParkFailed)
	var msg string
	w.v.ender.Events = publishFunc(func(_ string, d notify.JobDetail) { msg = d.Message })
	j, _ := update.Decode(w.job(t))
	j.DryRun = true
	j.History[1].By, j.History[1].Note = "patcher", "dry run: would stage 1.20.3"
	j.History[2].By, j.History[2].Note = "drainer", "dry run: admission would claim"
	body, _ := update.Encode(j)
	w.handle(t, body)
	for _, want := range []string{"dry run, nothing changed: patcher: would stage 1.20.3; drainer: admission would claim; verifier: would wait up to 15m0s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("outcome message = %q, want it to contain %q", msg, want)
		}
	}
}

// publishFunc is a jobs.Publisher that hands each job event to a function.
type publishFunc func(detailType string, d notify.JobDetail)

func (f publishFunc) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	f(detailType, detail.(notify.JobDetail))
	return nil
}
