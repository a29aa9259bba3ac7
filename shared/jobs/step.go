package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// AtStep is the check that follows Receive in the handler of a step's queue: a job at another
// step, or one that already ended, is not this queue's, and goes to the dead-letter queue with a
// reason naming worker and the step it takes. ok is false when the handler returns out at once.
func AtStep(job update.Job, step update.Step, worker string) (out queue.Outcome, ok bool) {
	if job.Step == step && job.Outcome == nil {
		return queue.Outcome{}, true
	}
	return queue.Poison(fmt.Sprintf("job %s is at step %q (ended: %t) on the %s's queue, which takes jobs at step %q",
		job.ID, job.Step, job.Outcome != nil, worker, step)), false
}

// Outcome is the message's outcome of a step that returned o and err, the last line of every
// step's handler: o when err is nil; Poison when err says the job cannot go on (a Forward that
// cannot advance or encode it: retrying cannot help); otherwise Retry, with ctx's error when
// ctx ended (a shutdown), so that the reason says so.
func Outcome(ctx context.Context, o queue.Outcome, err error) queue.Outcome {
	var bad *unforwardable
	switch {
	case err == nil:
		return o
	case errors.As(err, &bad):
		return queue.Poison(bad.Error())
	case ctx.Err() != nil:
		return queue.Retry(ctx.Err())
	}
	return queue.Retry(err)
}

// Ended ends the job with o and m (End) and returns the message's outcome: Done, or the error
// to retry.
func (e *Ender) Ended(ctx context.Context, job *update.Job, o update.Outcome, m Marking) (queue.Outcome, error) {
	if err := e.End(ctx, job, o, m); err != nil {
		return queue.Outcome{}, fmt.Errorf("end job: %w", err)
	}
	return queue.Done(), nil
}

// EndIfGone ends the job skipped (instance-gone), its marks left as they are, when err says that
// its instance or cluster is gone for good: ECS no longer knows the instance or the cluster, or
// SSM no longer manages the host (terminated). Any other error, and any error once ctx ended, is
// returned for a retry.
func (e *Ender) EndIfGone(ctx context.Context, job *update.Job, err error) (queue.Outcome, error) {
	var why string
	switch {
	case ctx.Err() != nil:
		return queue.Outcome{}, ctx.Err()
	case errors.Is(err, cluster.ErrInstanceNotFound):
		why = "the instance is no longer registered: "
	case errors.Is(err, cluster.ErrClusterNotFound):
		why = "the cluster does not exist: "
	case errors.Is(err, ssmcommand.ErrInvalidInstance):
		why = "SSM no longer manages the instance: "
	default:
		return queue.Outcome{}, err
	}
	return e.Ended(ctx, job, update.Skipped(update.CodeInstanceGone, why+err.Error()), LeaveMarks)
}

// Sender sends a job to a queue (*queue.Publisher).
type Sender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

// Forwarder hands a job on to its next step's worker.
type Forwarder struct {
	Sender Sender
	// Events receives the "Instance Update Progressed" event of each step done.
	Events  Publisher
	Metrics metrics.Recorder // nil records nothing
	By      string           // the worker, recorded in the job's history
	Now     func() time.Time
}

// stepDone is the decision (notify.Decision*) of a job that leaves step for the next.
var stepDone = map[update.Step]string{
	update.StepStage:  notify.DecisionStaged,
	update.StepDrain:  notify.DecisionDrained,
	update.StepReboot: notify.DecisionRebooted,
}

// Forward records how long the job spent at its step (StepDuration), publishes "Instance Update
// Progressed" for the step done with note as its message, advances the job to next with note in
// its history, and sends it to queueURL. A job that cannot advance or be encoded (it grew past
// the largest message) returns an error that Outcome turns into Poison; a failed publish or send
// is transient. The event goes before the send: a retry may publish it twice, but a job never
// moves on without it.
func (f *Forwarder) Forward(ctx context.Context, job *update.Job, next update.Step, queueURL, note string) error {
	now := f.Now()
	advanced := *job
	advanced.History = slices.Clone(job.History)
	if err := advanced.Advance(next, f.By, note, now); err != nil {
		return &unforwardable{err}
	}
	body, err := update.Encode(advanced)
	if err != nil {
		return &unforwardable{err}
	}
	if err := progressed(ctx, f.Events, *job, stepDone[job.Step], "", note, now); err != nil {
		return fmt.Errorf("publish step %s done: %w", job.Step, err)
	}
	RecordStep(f.Metrics, *job, now)
	*job = advanced
	if _, err := f.Sender.Send(ctx, queueURL, body, 0, nil); err != nil {
		return fmt.Errorf("forward job to step %s: %w", next, err)
	}
	return nil
}

// unforwardable is a Forward failure that no retry can cure.
type unforwardable struct{ err error }

func (u *unforwardable) Error() string { return "cannot forward the job: " + u.err.Error() }
func (u *unforwardable) Unwrap() error { return u.err }
