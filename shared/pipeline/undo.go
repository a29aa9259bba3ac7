package pipeline

import (
	"context"
	"fmt"

	"github.com/rollwave/rollwave/shared/bottlerocket"
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
	Commands  Runner
	CheckDoc  string
	CancelDoc string
	SSM       ssmcommand.Options
	Ender     *Ender
}

// Abort undoes what the job did up to stage and ends it with o. It is idempotent: after a crash
// the redelivered message aborts again.
func (u *Undoer) Abort(ctx context.Context, job *update.Job, stage update.Stage, o update.Outcome) error {
	undo := update.UndoAt(stage)
	if undo.CancelUpdate && job.EC2InstanceID != "" {
		st, err := Check(ctx, u.Commands, u.CheckDoc, job.EC2InstanceID, u.SSM)
		if err != nil {
			return fmt.Errorf("check before cancel: %w", err)
		}
		if st.UpdateState == bottlerocket.StateReady {
			if err := RunOne(ctx, u.Commands, u.CancelDoc, job.EC2InstanceID, u.SSM); err != nil {
				return fmt.Errorf("cancel staged update: %w", err)
			}
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
