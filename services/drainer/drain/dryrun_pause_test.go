package drain

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/update"
)

// tags is a fake of the drainer queue's ListQueueTags, the pause state's store.
type tags struct {
	mu   sync.Mutex
	tags map[string]string
	err  error
}

func (f *tags) ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]string{}
	for k, v := range f.tags {
		out[k] = v
	}
	return &sqs.ListQueueTagsOutput{Tags: out}, nil
}

func (f *tags) set(tags map[string]string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags, f.err = tags, err
}

// mutations lists the calls that would change an instance: ECS writes and SSM commands.
func (w *world) mutations() []string {
	var out []string
	for _, c := range w.ecs.Calls() {
		switch c.Op {
		case "PutAttributes", "DeleteAttributes", "SetState":
			out = append(out, "ecs "+c.Op+" "+strings.Join(c.Args, " "))
		}
	}
	for _, c := range w.ssm.Commands() {
		out = append(out, "ssm "+c.Document)
	}
	return out
}

// unmark makes w.me an instance that no job marked: a dry run's patcher never marks it.
func (w *world) unmark(t *testing.T) {
	t.Helper()
	in := w.me
	in.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2"}
	if !w.ecs.SetInstance(in) {
		t.Fatal("SetInstance: instance not found")
	}
}

func dryRunJob(t *testing.T, w *world) []byte {
	t.Helper()
	j, err := update.Decode(w.job(t))
	if err != nil {
		t.Fatal(err)
	}
	j.DryRun = true
	b, err := update.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDryRunDecidesEverythingAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, w *world)
		forced bool     // ROLLWAVE_DRY_RUN instead of dryRun in the job
		note   []string // in the forwarded job's last history note
		ended  string   // the event when the dry run ends here
	}{
		{name: "admitted", note: []string{"cluster-limit would admit: cluster prod: 1 of at most 1", "DRAINING and wait up to 25m0s for its 1 tasks to move"}},
		{name: "forced by ROLLWAVE_DRY_RUN", forced: true, note: []string{"cluster-limit would admit"}},
		{name: "cluster full", setup: func(t *testing.T, w *world) {
			o := w.others[0]
			o.Status = cluster.StatusDraining
			w.ecs.SetInstance(o)
		}, note: []string{"cluster-limit would hold the job (cluster-limit): cluster prod: 2 of at most 1"}},
		{name: "paused", setup: func(t *testing.T, w *world) {
			w.d.pauses = pause.NewCache(&tags{tags: map[string]string{"rollwave:paused:prod": "alice: CVE triage"}}, "q", time.Second)
		}, note: []string{"pause would hold the job (paused): cluster prod paused by alice: CVE triage", "cluster-limit would admit"}},
		{name: "outside the window", setup: func(t *testing.T, w *world) {
			win, err := update.ParseWindow("daily 03:00-04:00 UTC")
			if err != nil {
				t.Fatal(err)
			}
			w.d.now = func() time.Time { return time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) }
			w.d.policies.Default.Window = win
		}, note: []string{`window would hold the job (window): cluster prod: outside the maintenance window "daily 03:00-04:00 UTC"; it opens at 2026-12-06T03:00:00Z`, "cluster-limit would admit"}},
		{name: "health gate waits", setup: func(t *testing.T, w *world) {
			w.d.policies.Default.HealthGateTimeout = 15 * time.Minute
			updatedLast(w, time.Now().Add(-time.Minute))
			w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
		}, note: []string{"health-gate would hold the job (health-gate): cluster prod: health gate: i-"}},
		{name: "health gate failed: reported, nothing halted", setup: func(t *testing.T, w *world) {
			w.d.policies.Default.HealthGateTimeout = 15 * time.Minute
			w.d.policies.Default.Rollback = true
			w.d.halts = &halts{}
			updatedLast(w, time.Now().Add(-16*time.Minute))
			w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.others[0].ARN, StartedBy: "ecs-svc/1", Group: "service:web", LastStatus: "PENDING"})
		}, note: []string{"health-gate would hold the job (halted): cluster prod: halted: health gate: not healthy 15m0s"}},
		{name: "no capacity", setup: func(t *testing.T, w *world) {
			tight(w, 0)
		}, note: []string{"capacity would hold the job (capacity): cluster prod: capacity: service web: no room"}},
		{name: "global limit", setup: func(t *testing.T, w *world) {
			w.d.policies.GlobalMaxOutOfService = 1
			w.d.managed = managed.New(managed.Config{Clusters: []string{testCluster, "batch"}}, w.ecs)
			w.ecs.AddInstance("batch", cluster.Instance{Status: cluster.StatusDraining, AgentConnected: true})
		}, note: []string{"global-limit would hold the job (global-limit): all clusters: 2 instances out of service with this claim, over the global limit 1", "cluster-limit would admit"}},
		{name: "standalone task", setup: func(t *testing.T, w *world) {
			w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "alice", Group: "family:batch"})
		}, ended: "Instance Update Skipped: dry-run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, defaultPolicy())
			w.unmark(t)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			body := dryRunJob(t, w)
			if tc.forced {
				body = w.job(t)
				w.d.dryRun = true
			}
			if got := w.handle(t, body); got.String() != "done" {
				t.Fatalf("handle = %s, want done", got)
			}
			if m := w.mutations(); len(m) > 0 {
				t.Errorf("a dry run changed an instance: %v", m)
			}
			if h, ok := w.d.halts.(*halts); ok && len(h.sent) > 0 {
				t.Errorf("a dry run halted the cluster: %+v", h.sent)
			}
			if jobs := w.forwarded(t); len(jobs) > 1 {
				t.Errorf("a dry run sent %d jobs to the patcher (a rollback?), want at most the rehearsed one", len(jobs))
			}
			if diff := cmp.Diff(map[string]string{}, marks(w.instance(t, w.me.ARN))); diff != "" {
				t.Errorf("rollwave attributes after a dry run (-want +got):\n%s", diff)
			}
			fwd := w.forwarded(t)
			if tc.ended != "" {
				if len(fwd) != 0 {
					t.Errorf("forwarded %d fwd, want none (the dry run ends here)", len(fwd))
				}
				if diff := cmp.Diff([]string{tc.ended}, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				return
			}
			if len(fwd) != 1 || fwd[0].Step != update.StepReboot || !fwd[0].DryRun {
				t.Fatalf("forwarded %+v, want one dry-run job at step reboot", fwd)
			}
			note := fwd[0].History[len(fwd[0].History)-1].Note
			for _, want := range append(tc.note, jobs.DryRunNote) {
				if !strings.Contains(note, want) {
					t.Errorf("history note = %q, want it to contain %q", note, want)
				}
			}
			if ev := w.events.all(); len(ev) != 0 {
				t.Errorf("events = %v, want none (the job goes on)", ev)
			}
		})
	}
}

func TestPausedClusterIsNotAdmittedUntilResumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		store := &tags{tags: map[string]string{"rollwave:paused:prod": "alice: CVE triage", "team": "ops"}}
		w.d.pauses = pause.NewCache(store, "q", 5*time.Second)

		got := w.handle(t, w.job(t))
		if want := "retry after 5m30s: cluster prod paused by alice: CVE triage"; got.String() != want {
			t.Errorf("handle while paused = %s, want %s", got, want)
		}
		// The only write is the wait's record; the instance stays staged and in service.
		if diff := cmp.Diff([]string{"ecs PutAttributes " + w.me.ARN + " " + update.AttrWaiting}, w.mutations()); diff != "" {
			t.Errorf("a paused cluster's job changed the instance (-want +got):\n%s", diff)
		}
		if in := w.instance(t, w.me.ARN); in.Status != cluster.StatusActive || in.Attributes[update.AttrStage] != string(update.StageStaged) {
			t.Errorf("while paused: status %s stage %q, want ACTIVE and staged", in.Status, in.Attributes[update.AttrStage])
		}

		store.set(map[string]string{"rollwave:paused": "bob: freeze"}, nil) // the global pause
		time.Sleep(5 * time.Second)                                         // the cache's age
		if got := w.handle(t, w.job(t)); !strings.Contains(got.String(), "every cluster paused by bob: freeze") {
			t.Errorf("handle under the global pause = %s, want a retry naming it", got)
		}

		store.set(nil, errors.New("AccessDenied: sqs:ListQueueTags"))
		time.Sleep(5 * time.Second)
		if got := w.handle(t, w.job(t)); !strings.Contains(got.String(), "pause state unknown: list tags of queue q: AccessDenied") {
			t.Errorf("handle when the pause state cannot be read = %s, want a retry saying so", got)
		}

		store.set(map[string]string{"rollwave:paused:dev": "carol: other cluster"}, nil) // resumed
		time.Sleep(5 * time.Second)
		wait := w.start(t, w.job(t))
		synctest.Wait()
		if in := w.instance(t, w.me.ARN); in.Status != cluster.StatusDraining {
			t.Errorf("after resume: status %s, want DRAINING", in.Status)
		}
		w.ecs.StopTasks(w.me.ARN)
		w.d.wakeups.Wake(w.me.ARN)
		if got := wait(); got.String() != "done" {
			t.Errorf("handle after resume = %s, want done", got)
		}
	})
}

func TestPauseWithdrawsALeftOverClaimAndLetsAdmittedJobsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		w.d.pauses = pause.NewCache(&tags{tags: map[string]string{"rollwave:paused": "bob: freeze"}}, "q", time.Second)
		claimed := w.me
		claimed.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2", update.AttrJob: jobID, update.AttrStage: string(update.StageAdmitting)}
		w.ecs.SetInstance(claimed)
		if got := w.handle(t, w.job(t)); !strings.HasPrefix(got.String(), "retry after") {
			t.Fatalf("handle with a claim while paused = %s, want a retry", got)
		}
		if stage := w.instance(t, w.me.ARN).Attributes[update.AttrStage]; stage != string(update.StageStaged) {
			t.Errorf("stage after a paused claim = %q, want staged (the claim withdrawn)", stage)
		}

		draining := w.me
		draining.Status = cluster.StatusDraining
		draining.Attributes = map[string]string{"bottlerocket.variant": "aws-ecs-2", update.AttrJob: jobID, update.AttrStage: string(update.StageDraining)}
		w.ecs.SetInstance(draining)
		w.ecs.StopTasks(w.me.ARN)
		if got := w.handle(t, w.job(t)); got.String() != "done" {
			t.Errorf("handle of a job past admission while paused = %s, want done (it finishes)", got)
		}
	})
}

func TestDrainRecordsTheOutOfServiceGaugeAndTheDrainDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		rec := &metricstest.Recorder{}
		w.d.metrics = rec
		wait := w.start(t, w.job(t))
		synctest.Wait()
		time.Sleep(4 * time.Minute)
		w.ecs.StopTasks(w.me.ARN)
		w.d.wakeups.Wake(w.me.ARN)
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle = %s, want done", got)
		}
		prod := map[string]string{metrics.Cluster: testCluster}
		var gauge []float64
		for _, d := range rec.Named(metrics.InstancesOutOfService, prod) {
			gauge = append(gauge, d.Value)
		}
		if diff := cmp.Diff([]float64{0, 1}, gauge); diff != "" {
			t.Errorf("InstancesOutOfService at the two admission reads (-want +got):\n%s", diff)
		}
		if got := rec.Sum(metrics.DrainDuration, prod); got != 240 {
			t.Errorf("DrainDuration = %v s, want 240", got)
		}
		if got := rec.Named(metrics.StepDuration, map[string]string{metrics.Step: "drain"}); len(got) != 1 {
			t.Errorf("StepDuration{Step=drain} = %+v, want one", got)
		}
	})
}
