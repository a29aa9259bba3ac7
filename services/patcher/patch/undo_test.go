package patch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// A staging whose update check fails must not leave the instance marked for good: the undo's own
// check fails the same way, and the job must end all the same.
func TestStagingEndsAndUnmarksWhenTheUpdateCheckCannotRun(t *testing.T) {
	tests := []struct {
		name        string
		host        *bottlerocketHost
		wantMessage []string
	}{
		{
			name: "SSM agent offline before the check",
			host: &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3", offline: true},
			wantMessage: []string{"update check: InProgress", "command did not finish in time",
				"; undo: update state unknown", "cancel sent anyway, failed"},
		},
		{
			name: "apply hangs, then every update command answers 423 Locked",
			host: &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3", applyHangs: true},
			wantMessage: []string{"wait for rollwave-update-apply on i-0123456789abcdef0 (last status InProgress, sent 15m", "command did not finish in time",
				"; undo: update state unknown (update check: Failed (exit 1): Unable to check initial update status, got code '423 Locked'",
				"cancel sent anyway, failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, tt.host, nil)
				if out := w.handle(t, handJob()); out != queue.Done() {
					t.Fatalf("handle() = %v, want Done (the job ended staging-failed)", out)
				}
				if len(w.rec.events) != 2 || w.rec.events[1] != notify.InstanceUpdateFailed+": staging-failed" {
					t.Errorf("events = %v, want Instance Update Started then %s: staging-failed", w.rec.events, notify.InstanceUpdateFailed)
				}
				msg := w.rec.messages[len(w.rec.messages)-1]
				for _, want := range tt.wantMessage {
					if !strings.Contains(msg, want) {
						t.Errorf("outcome message = %q, want it to contain %q", msg, want)
					}
				}
				if a := w.attrs(t); a[update.AttrJob] != "" || a[update.AttrStage] != "" {
					t.Errorf("attributes = %v, want the marks removed so that the next scan sees the instance", a)
				}
				if w.drained(t) {
					t.Error("the instance was drained")
				}
				cancels := 0
				for _, c := range w.ssm.Commands() {
					if c.Document == "rollwave-update-cancel" {
						cancels++
					}
				}
				if cancels != 1 {
					t.Errorf("cancel sent %d times, want once, best effort", cancels)
				}
			})
		})
	}
}

// A transient SSM failure is retried on the message, but at its final receive it ends the job
// instead of sending it to the dead-letter queue with the instance still marked.
func TestTransientCheckFailureEndsTheJobAtTheFinalReceive(t *testing.T) {
	throttled := fmt.Errorf("send command: %w", ssmcommand.ErrTransient)
	w := newWorld(t, &bottlerocketHost{state: "Available", active: "1.19.5", new: "1.20.3"}, nil)
	body, err := update.Encode(handJob())
	if err != nil {
		t.Fatal(err)
	}
	w.ssm.FailNext("Run", throttled)
	out := w.p.handle(context.Background(), queue.Message{ID: "msg-1", Body: body, ReceiveCount: 4})
	if !strings.HasPrefix(out.String(), "retry: ") {
		t.Fatalf("handle() before the final receive = %v, want a retry", out)
	}
	if a := w.attrs(t); a[update.AttrStage] != "staging" {
		t.Fatalf("attributes after the retry = %v, want rollwave.stage=staging", a)
	}
	w.ssm.FailNext("Run", throttled) // the staging's check
	w.ssm.FailNext("Run", throttled) // the undo's check
	out = w.p.handle(context.Background(), queue.Message{ID: "msg-1", Body: body, ReceiveCount: 5, FinalReceive: true})
	if out != queue.Done() {
		t.Fatalf("handle() at the final receive = %v, want Done (the job ended)", out)
	}
	if got := w.rec.events[len(w.rec.events)-1]; got != notify.InstanceUpdateFailed+": staging-failed" {
		t.Errorf("last event = %q, want %s: staging-failed", got, notify.InstanceUpdateFailed)
	}
	if a := w.attrs(t); a[update.AttrJob] != "" || a[update.AttrStage] != "" {
		t.Errorf("attributes = %v, want the marks removed", a)
	}
}
