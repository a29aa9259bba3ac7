package drain

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// syncBuffer is a log sink the handler and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// warnings counts the warnings about a long wait logged so far.
func (s *syncBuffer) warnings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for line := range strings.Lines(s.b.String()) {
		if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "to be admitted: ") {
			n++
		}
	}
	return n
}

// flakyAnnouncer fails the next n announcements, then publishes to events.
type flakyAnnouncer struct {
	mu     sync.Mutex
	fail   int
	events *events
}

func (f *flakyAnnouncer) Waiting(ctx context.Context, job *update.Job, w update.Waiting, message string) error {
	f.mu.Lock()
	fail := f.fail > 0
	f.fail--
	f.mu.Unlock()
	if fail {
		return errors.New("PutEvents: ServiceUnavailable")
	}
	return f.events.Publish(ctx, notify.InstanceUpdateWaiting, notify.JobDetail{Reason: string(w.Reason), WaitingSince: w.Since}, job.ContainerInstanceARN)
}

func (f *flakyAnnouncer) Progressed(ctx context.Context, job *update.Job, decision, reason, message string) error {
	return f.events.Publish(ctx, notify.InstanceUpdateProgressed, notify.JobDetail{Decision: decision, Reason: reason, Message: message}, job.ContainerInstanceARN)
}

// TestLongWaitIsVisible holds a job in a paused cluster for 50 minutes of fake time, looking again
// after the delay each look returns (the admission backstop, 5m30s, or less when a warning is due): nothing is said for 15 minutes, then a warning with the
// reason, a JobsWaiting count and one "Instance Update Waiting"; then a warning and a count every
// 15 minutes, never another event; the instance records the wait in one attribute written only
// when something about it changed; the resume admits the job and clears it.
func TestLongWaitIsVisible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		store := &tags{tags: map[string]string{"rollwave:paused:prod": "alice: CVE triage"}}
		w.d.pauses = pause.NewCache(store, "q", time.Second)
		rec := &metricstest.Recorder{}
		w.d.metrics = rec
		logs := &syncBuffer{}
		look := func() queue.Outcome {
			ctx := queue.WithLogger(t.Context(), zerolog.New(logs))
			return w.d.handle(ctx, queue.Message{ID: "m-1", Body: w.job(t), ReceiveCount: 1})
		}
		writes := func() int {
			n := 0
			for _, m := range w.mutations() {
				if strings.Contains(m, update.AttrWaiting) {
					n++
				}
			}
			return n
		}

		start := time.Now()
		type seen struct{ Warnings, Counted, Events, Writes int }
		var at15, at50 seen
		for time.Since(start) <= 50*time.Minute {
			got := look()
			delay, why, ok := retryAfter(got)
			if !ok || delay > 5*time.Minute+30*time.Second || !strings.HasPrefix(why, "cluster prod paused by alice") {
				t.Fatalf("look at %s = %s, want a retry within the admission backstop (5m30s)", time.Since(start), got)
			}
			now := seen{logs.warnings(), int(rec.Sum(metrics.JobsWaiting, nil)), len(w.events.all()), writes()}
			if time.Since(start) < 15*time.Minute && now != (seen{Writes: 1}) {
				t.Fatalf("at %s, before the threshold: %+v, want only the write that began the wait", time.Since(start), now)
			}
			if time.Since(start) < 16*time.Minute {
				at15 = now
			}
			at50 = now
			time.Sleep(delay)
		}
		// Looks every 5m30s, and one a second after each warning is due: warnings at 901 s, 1802 s
		// and 2703 s.
		if want := (seen{Warnings: 1, Counted: 1, Events: 1, Writes: 2}); at15 != want {
			t.Errorf("just past the threshold: %+v, want %+v", at15, want)
		}
		if want := (seen{Warnings: 3, Counted: 3, Events: 1, Writes: 4}); at50 != want {
			t.Errorf("after 50 minutes: %+v, want %+v", at50, want)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateWaiting + ": paused"}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if got := rec.Named(metrics.JobsWaiting, map[string]string{metrics.Cluster: testCluster, metrics.Reason: "paused"}); len(got) != 3 {
			t.Errorf("JobsWaiting{prod, paused} recorded %d times, want 3", len(got))
		}
		want := update.Waiting{Reason: update.WaitPaused, Since: start.UTC(), Warned: start.Add(2703 * time.Second).UTC()}.String()
		if got := w.instance(t, w.me.ARN).Attributes[update.AttrWaiting]; got != want {
			t.Errorf("%s = %q, want %q", update.AttrWaiting, got, want)
		}

		store.set(nil, nil) // resumed
		time.Sleep(time.Second)
		wait := w.start(t, w.job(t))
		synctest.Wait()
		in := w.instance(t, w.me.ARN)
		if _, ok := in.Attributes[update.AttrWaiting]; ok || in.Status != cluster.StatusDraining {
			t.Errorf("after the resume: status %s, attributes %v; want DRAINING without %s", in.Status, marks(in), update.AttrWaiting)
		}
		w.ecs.StopTasks(w.me.ARN)
		w.d.wakeups.Wake(w.me.ARN)
		if got := wait(); got.String() != "done" {
			t.Fatalf("handle after the resume = %s, want done", got)
		}
		jobs := w.forwarded(t)
		if len(jobs) != 1 || !strings.Contains(jobs[0].History[len(jobs[0].History)-1].Note, "admitted after waiting 50m") {
			t.Errorf("forwarded %+v, want the admission note to say how long the job waited", jobs)
		}
		// One hold for the whole wait, however many looks, then the admission and the drain.
		if diff := cmp.Diff([]string{"held paused", notify.DecisionAdmitted, notify.DecisionDrained}, w.events.steps()); diff != "" {
			t.Errorf("progress events (-want +got):\n%s", diff)
		}
	})
}

// retryAfter splits the outcome "retry after <d>: <why>".
func retryAfter(o queue.Outcome) (time.Duration, string, bool) {
	rest, ok := strings.CutPrefix(o.String(), "retry after ")
	if !ok {
		return 0, "", false
	}
	d, why, ok := strings.Cut(rest, ": ")
	delay, err := time.ParseDuration(d)
	return delay, why, ok && err == nil
}

// TestWaitLooksAgainWhenItsWarningIsDue: a job outside its window looks again when the window
// opens or after 15 minutes, but no later than its next warning; a change of reason keeps the
// start of the wait; a failed announcement is announced again at the next look.
func TestWaitLooksAgainWhenItsWarningIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := defaultPolicy()
		p.WaitingThreshold = 10 * time.Minute
		w := newWorld(t, p)
		opens := time.Now().UTC().Add(6 * time.Hour)
		win, err := update.ParseWindow("daily " + opens.Format("15:04") + "-" + opens.Add(time.Hour).Format("15:04") + " UTC")
		if err != nil {
			t.Fatal(err)
		}
		rules := w.d.policies.Default
		rules.Window = win
		w.d.policies.Default = rules
		announcer := &flakyAnnouncer{fail: 1, events: w.events}
		w.d.events = announcer
		start := time.Now()

		if got := w.handle(t, w.job(t)); !strings.HasPrefix(got.String(), "retry after 10m1s: cluster prod: outside the maintenance window") {
			t.Fatalf("first look = %s, want a retry when the first warning is due (10m1s), not the window's 15m", got)
		}
		time.Sleep(10*time.Minute + time.Second)
		if got := w.handle(t, w.job(t)); !strings.HasPrefix(got.String(), "retry after 10m1s: ") {
			t.Fatalf("look at the threshold = %s, want a retry when the next warning is due (10m1s)", got)
		}
		if got := w.events.all(); len(got) != 0 {
			t.Fatalf("events after a failed announcement = %v, want none yet", got)
		}
		// The cluster is paused meanwhile: the reason changes, the start stays, the announcement is retried.
		w.d.pauses = pause.NewCache(&tags{tags: map[string]string{"rollwave:paused:prod": "bob: freeze"}}, "q", time.Second)
		time.Sleep(time.Minute)
		w.handle(t, w.job(t))
		if diff := cmp.Diff([]string{notify.InstanceUpdateWaiting + ": paused"}, w.events.all()); diff != "" {
			t.Errorf("events after the retried announcement (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"held window", "held paused"}, w.events.steps()); diff != "" {
			t.Errorf("holds published (-want +got): one when the wait began, one when its reason changed:\n%s", diff)
		}
		got, err := update.ParseWaiting(w.instance(t, w.me.ARN).Attributes[update.AttrWaiting])
		if err != nil {
			t.Fatal(err)
		}
		want := update.Waiting{Reason: update.WaitPaused, Since: start.UTC(), Warned: start.Add(11*time.Minute + time.Second).UTC()}
		if got != want {
			t.Errorf("%s = %+v, want %+v", update.AttrWaiting, got, want)
		}
	})
}

// TestEndingAWaitingJobRemovesItsWait: a job that waited and then ends before admission (here a
// standalone task appeared, policy skip) leaves no rollwave.waiting behind.
func TestEndingAWaitingJobRemovesItsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, defaultPolicy())
		store := &tags{tags: map[string]string{"rollwave:paused": "bob: freeze"}}
		w.d.pauses = pause.NewCache(store, "q", time.Second)
		w.handle(t, w.job(t))
		if _, ok := w.instance(t, w.me.ARN).Attributes[update.AttrWaiting]; !ok {
			t.Fatalf("after a held look: marks %v, want %s", marks(w.instance(t, w.me.ARN)), update.AttrWaiting)
		}
		store.set(nil, nil)
		time.Sleep(time.Second)
		w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, StartedBy: "alice", Group: "family:batch"})
		if got := w.handle(t, w.job(t)); got.String() != "done" {
			t.Fatalf("handle = %s, want done (ended skipped)", got)
		}
		if diff := cmp.Diff([]string{notify.InstanceUpdateSkipped + ": " + string(update.CodeStandaloneTask)}, w.events.all()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{}, marks(w.instance(t, w.me.ARN))); diff != "" {
			t.Errorf("rollwave attributes after the job ended (-want +got):\n%s", diff)
		}
	})
}
