package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// StateSetter sets container instances ACTIVE or DRAINING (cluster.Client).
type StateSetter interface {
	SetState(ctx context.Context, cluster string, arns []string, status string) (map[string]string, error)
}

// Undoer ends a job that fails before its reboot, leaving the instance as it found it: the staged
// update is cancelled (so the host does not boot into it at its next reboot by surprise), the
// instance is re-activated if rollwave drained it, and the marks are removed.
type Undoer struct {
	State     StateSetter
	Commands  ssmcommand.Runner
	CheckDoc  string
	CancelDoc string
	SSM       ssmcommand.Options
	Ender     *Ender
}

// CancelDeliveryTimeout is how long SSM tries to deliver the undo's cancel to a host whose agent
// is offline: SSM's minimum, so that a cancel the host missed cannot reach it much later, in the
// middle of another job's staging or drain.
const CancelDeliveryTimeout = 30 * time.Second

// Abort undoes what the job did up to stage and ends it with o. It is idempotent: after a crash
// the redelivered message aborts again.
//
// The undo never depends on the step that failed. The cancel of the staged update is best effort:
// when the update check that tells whether there is one to cancel fails (the SSM agent offline,
// the update lock held by a hung apply: often the very failure being undone), the cancel is sent
// anyway, once, bounded by u.SSM's wait and CancelDeliveryTimeout; when the cancel fails too, the
// job still ends and its message says what the undo could not do. The instance is then unmarked
// (and re-activated if rollwave drained it), so the next scan sees it again: one that still
// carries a staged update is found by its check (Ready) and gets a new job. Only the
// re-activation and the ending (ECS, EventBridge) return errors, which are transient.
func (u *Undoer) Abort(ctx context.Context, job *update.Job, stage update.Stage, o update.Outcome) error {
	undo := update.UndoAt(stage)
	if undo.CancelUpdate && job.EC2InstanceID != "" {
		if problem := u.cancel(ctx, job.EC2InstanceID); problem != "" {
			if ctx.Err() != nil {
				return fmt.Errorf("cancel staged update: %w", ctx.Err())
			}
			queue.Logger(ctx).Warn().Str("undo", problem).Msg("staged update not cancelled; ending the job anyway")
			o.Message += "; undo: " + problem
		}
	}
	if undo.Reactivate && job.ContainerInstanceARN != "" {
		failures, err := u.State.SetState(ctx, job.Cluster, []string{job.ContainerInstanceARN}, "ACTIVE")
		if err != nil {
			return fmt.Errorf("re-activate: %w", err)
		}
		if reason, ok := failures[job.ContainerInstanceARN]; ok && reason != "INACTIVE" {
			return fmt.Errorf("re-activate: %s", reason)
		}
	}
	return u.Ender.End(ctx, job, o, Unmark)
}

// Aborted aborts the job (Abort) and returns the message's outcome: Done, or, when the undo
// failed, what EndIfGone makes of its error (the job ended skipped when the instance is gone,
// else the error to retry).
func (u *Undoer) Aborted(ctx context.Context, job *update.Job, stage update.Stage, o update.Outcome) (queue.Outcome, error) {
	if err := u.Abort(ctx, job, stage, o); err != nil {
		return u.Ender.EndIfGone(ctx, job, err)
	}
	return queue.Done(), nil
}

// cancel cancels the instance's staged update if it has one, and returns what went wrong, or ""
// when the host has no update to cancel or the cancel succeeded.
func (u *Undoer) cancel(ctx context.Context, instanceID string) string {
	opts := u.SSM
	opts.DeliveryTimeout = CancelDeliveryTimeout
	st, checkErr := ssmcommand.Check(ctx, u.Commands, u.CheckDoc, instanceID, opts)
	switch {
	case checkErr == nil && st.UpdateState != bottlerocket.StateReady:
		return ""
	case checkErr == nil:
		if err := ssmcommand.RunOne(ctx, u.Commands, u.CancelDoc, instanceID, opts); err != nil {
			return fmt.Sprintf("cancel of the staged update failed (%v); the update may stay staged", err)
		}
		return ""
	}
	if err := ssmcommand.RunOne(ctx, u.Commands, u.CancelDoc, instanceID, opts); err != nil {
		return fmt.Sprintf("update state unknown (%v); cancel sent anyway, failed (%v); the update may stay staged", checkErr, err)
	}
	return fmt.Sprintf("update state unknown (%v); cancel sent anyway, succeeded", checkErr)
}
