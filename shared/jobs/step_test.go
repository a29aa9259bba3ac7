package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

func TestAtStep(t *testing.T) {
	ended := update.Job{ID: "j-1", Step: update.StepDrain, Outcome: &update.Outcome{Result: update.ResultUpdated}}
	tests := []struct {
		name    string
		job     update.Job
		wantOK  bool
		wantOut string
	}{
		{name: "a job at the queue's step goes on", job: update.Job{ID: "j-1", Step: update.StepDrain}, wantOK: true},
		{name: "a job at another step is poison", job: update.Job{ID: "j-1", Step: update.StepVerify},
			wantOut: `poison: job j-1 is at step "verify" (ended: false) on the drainer's queue, which takes jobs at step "drain"`},
		{name: "a job that ended is poison", job: ended,
			wantOut: `poison: job j-1 is at step "drain" (ended: true) on the drainer's queue, which takes jobs at step "drain"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := jobs.AtStep(tt.job, update.StepDrain, "drainer")
			got := ""
			if !ok {
				got = out.String()
			}
			if ok != tt.wantOK || got != tt.wantOut {
				t.Errorf("AtStep() = %q, %t; want %q, %t", got, ok, tt.wantOut, tt.wantOK)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	transient := errors.New("throttled")
	tests := []struct {
		name string
		ctx  context.Context
		o    queue.Outcome
		err  error
		want string
	}{
		{name: "no error: the step's outcome", ctx: t.Context(), o: queue.RetryAfter(time.Minute, "held"), want: queue.RetryAfter(time.Minute, "held").String()},
		{name: "an error: retry", ctx: t.Context(), o: queue.Done(), err: transient, want: queue.Retry(transient).String()},
		{name: "an error at shutdown: retry for the shutdown", ctx: cancelled, err: transient, want: queue.Retry(context.Canceled).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobs.Outcome(tt.ctx, tt.o, tt.err).String(); got != tt.want {
				t.Errorf("Outcome() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEndIfGone(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantEnded bool
	}{
		{name: "instance gone", err: fmt.Errorf("describe: %w", cluster.ErrInstanceNotFound), wantEnded: true},
		{name: "cluster gone", err: fmt.Errorf("describe: %w", cluster.ErrClusterNotFound), wantEnded: true},
		{name: "host no longer managed by SSM", err: fmt.Errorf("cancel: %w", ssmcommand.ErrInvalidInstance), wantEnded: true},
		{name: "anything else is retried", err: errors.New("throttled")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			e := &jobs.Ender{Marks: noMarks{}, Events: ev, By: "verifier", Now: time.Now}
			job := update.Job{ID: "j-1", Cluster: "prod", Instance: "i-0123456789abcdef0", Step: update.StepVerify}
			out, err := e.EndIfGone(t.Context(), &job, tt.err)
			if !tt.wantEnded {
				if !errors.Is(err, tt.err) || len(ev.types) != 0 {
					t.Errorf("EndIfGone(%v) = %v, %v, events %v; want the error back and nothing ended", tt.err, out, err, ev.types)
				}
				return
			}
			if err != nil || out.String() != queue.Done().String() {
				t.Fatalf("EndIfGone(%v) = %v, %v; want done", tt.err, out, err)
			}
			if job.Outcome == nil || job.Outcome.Code != update.CodeInstanceGone || !strings.Contains(job.Outcome.Message, tt.err.Error()) {
				t.Errorf("job outcome = %+v, want skipped instance-gone naming %q", job.Outcome, tt.err)
			}
		})
	}
}

type sent struct {
	url  string
	body string
}

type sender struct {
	sent []sent
	err  error
}

func (s *sender) Send(_ context.Context, url string, body []byte, _ time.Duration, _ map[string]string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	s.sent = append(s.sent, sent{url, string(body)})
	return "m-1", nil
}

func TestForward(t *testing.T) {
	now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	job := func() update.Job {
		j := update.Job{Schema: update.Schema, ID: "j-1", Cluster: "prod", Instance: "i-0123456789abcdef0", TargetVersion: "1.20.3", RequestedBy: "test", Reason: "test"}
		if err := j.Advance(update.StepDrain, "patcher", "staged", now); err != nil {
			t.Fatal(err)
		}
		return j
	}
	t.Run("advances the job, tells the step done and sends it", func(t *testing.T) {
		s, ev := &sender{}, &events{}
		f := &jobs.Forwarder{Sender: s, Events: ev, By: "drainer", Now: func() time.Time { return now }}
		j := job()
		ctx := queue.WithReceives(t.Context(), 2)
		if err := f.Forward(ctx, &j, update.StepReboot, "url-patcher", "admitted: cluster-limit; drained"); err != nil {
			t.Fatal(err)
		}
		want := notify.JobDetail{JobID: "j-1", Cluster: "prod", Instance: "i-0123456789abcdef0", ToVersion: "1.20.3", RequestedBy: "test",
			Step: "drain", Decision: "drained", Message: "admitted: cluster-limit; drained", Receives: 2, At: now}
		if diff := cmp.Diff([]string{"Instance Update Progressed"}, ev.types); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, ev.details[0]); diff != "" {
			t.Errorf("Progressed detail (-want +got):\n%s", diff)
		}
		if len(s.sent) != 1 || s.sent[0].url != "url-patcher" {
			t.Fatalf("sent = %v, want one message to url-patcher", s.sent)
		}
		got, err := update.Decode([]byte(s.sent[0].body))
		if err != nil {
			t.Fatal(err)
		}
		last := got.History[len(got.History)-1]
		if diff := cmp.Diff(update.Entry{Step: update.StepReboot, At: now, By: "drainer", Note: "admitted: cluster-limit; drained"}, last); diff != "" || got.Step != update.StepReboot {
			t.Errorf("forwarded job at %s, last entry (-want +got):\n%s", got.Step, diff)
		}
	})
	t.Run("a job that cannot advance is poison, nothing sent", func(t *testing.T) {
		s := &sender{}
		f := &jobs.Forwarder{Sender: s, Events: &events{}, By: "drainer", Now: func() time.Time { return now }}
		j := job()
		err := f.Forward(t.Context(), &j, update.StepVerify, "url-verifier", "skip a step")
		if out := jobs.Outcome(t.Context(), queue.Done(), err); !strings.HasPrefix(out.String(), "poison: cannot forward the job") || len(s.sent) != 0 {
			t.Errorf("Forward(drain -> verify) = %v (%v), sent %v; want poison, nothing sent", out, err, s.sent)
		}
	})
	t.Run("a job too big to send is poison", func(t *testing.T) {
		s := &sender{}
		f := &jobs.Forwarder{Sender: s, Events: &events{}, By: "drainer", Now: func() time.Time { return now }}
		j := job()
		err := f.Forward(t.Context(), &j, update.StepReboot, "url-patcher", strings.Repeat("x", update.MaxJobBytes))
		if out := jobs.Outcome(t.Context(), queue.Done(), err); !strings.HasPrefix(out.String(), "poison: cannot forward the job") || len(s.sent) != 0 {
			t.Errorf("Forward(oversized) = %v (%v), sent %v; want poison, nothing sent", out, err, s.sent)
		}
	})
	t.Run("a failed publish is retried, the job neither advanced nor sent", func(t *testing.T) {
		s := &sender{}
		f := &jobs.Forwarder{Sender: s, Events: &events{err: errors.New("throttled")}, By: "drainer", Now: func() time.Time { return now }}
		j := job()
		err := f.Forward(t.Context(), &j, update.StepReboot, "url-patcher", "drained")
		if out := jobs.Outcome(t.Context(), queue.Done(), err); !strings.HasPrefix(out.String(), "retry") || len(s.sent) != 0 || j.Step != update.StepDrain {
			t.Errorf("Forward(publish fails) = %v, sent %v, job at %s; want retry, nothing sent, still at drain", out, s.sent, j.Step)
		}
	})
	t.Run("a failed send is retried", func(t *testing.T) {
		s := &sender{err: errors.New("throttled")}
		f := &jobs.Forwarder{Sender: s, Events: &events{}, By: "drainer", Now: func() time.Time { return now }}
		j := job()
		err := f.Forward(t.Context(), &j, update.StepReboot, "url-patcher", "drained")
		if out := jobs.Outcome(t.Context(), queue.Done(), err); !strings.HasPrefix(out.String(), "retry") {
			t.Errorf("Forward(send fails) = %v, want retry", out)
		}
	})
}
