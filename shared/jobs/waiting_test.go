package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/shared/update"
)

// announcer records the waits it announces, or fails them with err.
type announcer struct {
	err       error
	announced []update.Waiting
}

func (a *announcer) Waiting(_ context.Context, _ *update.Job, w update.Waiting, _ string) error {
	if a.err != nil {
		return a.err
	}
	a.announced = append(a.announced, w)
	return nil
}

func TestWaitsLook(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	const threshold = time.Hour
	since := func(at time.Time) string { return "window since " + at.Format(time.RFC3339) }
	tests := []struct {
		name        string
		recorded    string // the instance's rollwave.waiting; "" for none
		now         time.Time
		announceErr error
		want        jobs.WaitNote
		wantCounted float64
		wantAnnoun  int
	}{
		{name: "the first look begins the wait: recorded, no warning, looks again by the threshold",
			now:  t0,
			want: jobs.WaitNote{Waiting: update.Waiting{Reason: update.WaitWindow, Since: t0}, Attr: since(t0), Delay: time.Hour + time.Second}},
		{name: "a value that does not parse begins the wait again",
			recorded: "sideways", now: t0,
			want: jobs.WaitNote{Waiting: update.Waiting{Reason: update.WaitWindow, Since: t0}, Attr: since(t0), Delay: time.Hour + time.Second}},
		{name: "a look within the threshold writes nothing",
			recorded: since(t0), now: t0.Add(10 * time.Minute),
			want: jobs.WaitNote{Waiting: update.Waiting{Reason: update.WaitWindow, Since: t0}, Delay: 50*time.Minute + time.Second}},
		{name: "the threshold passed: warned, counted, announced the first time",
			recorded: since(t0), now: t0.Add(threshold),
			want: jobs.WaitNote{Waiting: update.Waiting{Reason: update.WaitWindow, Since: t0, Warned: t0.Add(threshold)},
				Attr: since(t0) + " warned " + t0.Add(threshold).Format(time.RFC3339), Warn: true, Delay: time.Hour + time.Second},
			wantCounted: 1, wantAnnoun: 1},
		{name: "an announcement that fails is not recorded, so that the next look announces again",
			recorded: since(t0), now: t0.Add(threshold), announceErr: errors.New("bus down"),
			want: jobs.WaitNote{Waiting: update.Waiting{Reason: update.WaitWindow, Since: t0},
				Attr: since(t0), Warn: true, Delay: time.Hour + time.Second},
			wantCounted: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &metricstest.Recorder{}
			ann := &announcer{err: tt.announceErr}
			ws := jobs.Waits{Announcer: ann, Metrics: rec, Threshold: threshold, Now: func() time.Time { return tt.now }}
			inst := cluster.Instance{ARN: "arn-1", Attributes: map[string]string{}}
			if tt.recorded != "" {
				inst.Attributes[update.AttrWaiting] = tt.recorded
			}
			job := &update.Job{ID: "j-1", Cluster: "prod"}
			got := ws.Look(t.Context(), job, inst, update.WaitWindow, "outside the window", 2*time.Hour)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Look() (-want +got):\n%s", diff)
			}
			if n := rec.Sum(metrics.JobsWaiting, map[string]string{metrics.Cluster: "prod", metrics.Reason: string(update.WaitWindow)}); n != tt.wantCounted {
				t.Errorf("JobsWaiting = %v, want %v", n, tt.wantCounted)
			}
			if len(ann.announced) != tt.wantAnnoun {
				t.Errorf("announced %d waits, want %d", len(ann.announced), tt.wantAnnoun)
			}
		})
	}
}

func TestEndWait(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		attrs    map[string]string
		wantOK   bool
		wantWait update.Waiting
	}{
		{name: "no wait recorded: nothing to remove", attrs: map[string]string{update.AttrJob: "j-1"}},
		{name: "the recorded wait is removed and returned", wantOK: true,
			attrs:    map[string]string{update.AttrJob: "j-1", update.AttrWaiting: "capacity since " + t0.Format(time.RFC3339)},
			wantWait: update.Waiting{Reason: update.WaitCapacity, Since: t0}},
		{name: "a value that does not parse is removed all the same",
			attrs: map[string]string{update.AttrJob: "j-1", update.AttrWaiting: "sideways"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ecs := clustertest.NewFake()
			ecs.AddCluster("prod", nil)
			in := ecs.AddInstance("prod", cluster.Instance{Status: cluster.StatusActive, Attributes: tt.attrs})
			job := &update.Job{ID: "j-1", Cluster: "prod"}
			w, ok, err := jobs.EndWait(t.Context(), ecs, job, in)
			if err != nil {
				t.Fatalf("EndWait() error = %v", err)
			}
			if ok != tt.wantOK || !w.Since.Equal(tt.wantWait.Since) || w.Reason != tt.wantWait.Reason {
				t.Errorf("EndWait() = %+v, %t, want %+v, %t", w, ok, tt.wantWait, tt.wantOK)
			}
			got, err := ecs.Instance(t.Context(), "prod", in.ARN)
			if err != nil {
				t.Fatal(err)
			}
			if _, still := got.Attributes[update.AttrWaiting]; still {
				t.Errorf("attributes = %v, want %s removed", got.Attributes, update.AttrWaiting)
			}
			if got.Attributes[update.AttrJob] != "j-1" {
				t.Errorf("attributes = %v, want the other marks kept", got.Attributes)
			}
		})
	}
}
