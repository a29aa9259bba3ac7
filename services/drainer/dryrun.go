package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// rehearse is the drain step of a dry-run job: every decision of drain (ownership, eligibility,
// the pause, admission with its reason, what would be drained) is made from reads only and
// logged, nothing is written to the instance (no attribute, no DRAINING), and the job goes on to
// the patcher at step reboot without waiting, or ends skipped/dry-run when the real job would
// have ended here.
func (d *drainer) rehearse(ctx context.Context, job *update.Job) (queue.Outcome, error) {
	log := queue.Logger(ctx)
	inst, err := pipeline.JobInstance(ctx, d.ecs, job)
	if err != nil {
		return d.endIfGone(ctx, job, err)
	}
	if owner := inst.Attributes[update.AttrJob]; owner != "" && owner != job.ID {
		return d.endDryRun(ctx, job, "would end as a duplicate: job "+owner+" owns the instance")
	}
	if inst.Status != cluster.StatusActive {
		return d.endDryRun(ctx, job, fmt.Sprintf("would skip (%s): the instance is %s and rollwave did not drain it", update.CodeDrainedByOther, inst.Status))
	}
	tasks, err := d.ecs.Tasks(ctx, job.Cluster, inst.ARN)
	if err != nil {
		return d.endIfGone(ctx, job, err)
	}
	views := make([]update.TaskView, 0, len(tasks))
	for _, t := range tasks {
		views = append(views, update.TaskView{ARN: t.ARN, StartedBy: t.StartedBy, Group: t.Group, LastStatus: t.LastStatus})
	}
	if ok, why := update.Eligible(views, d.rules(job.Cluster).Standalone); !ok {
		return d.endDryRun(ctx, job, fmt.Sprintf("would end %s (%s): %s", why.Result, why.Code, why.Message))
	}
	var notes []string
	if d.pauses != nil {
		switch info, paused, err := d.pauses.Paused(ctx, job.Cluster); {
		case err != nil:
			notes = append(notes, "would wait: pause state unknown: "+err.Error())
		case paused:
			notes = append(notes, "would wait: "+info.String())
		}
	}
	all, err := d.cluster(ctx, job.Cluster)
	if err != nil {
		return d.endIfGone(ctx, job, err)
	}
	// Admission as if this job had staged the instance (a dry run never marks it).
	for i := range all {
		if all[i].ARN == inst.ARN {
			all[i].Job, all[i].Stage = job.ID, update.StageStaged
		}
	}
	dec := update.CanClaim(job.Cluster, d.rules(job.Cluster).MaxOutOfService, all, job.ID)
	switch dec.Action {
	case update.Refuse:
		return d.endDryRun(ctx, job, strings.Join(append(notes, fmt.Sprintf("admission would refuse: %s", dec.Reason)), "; "))
	case update.BackOff:
		notes = append(notes, "admission would back off and retry: "+dec.Reason)
	default:
		notes = append(notes, "admission would claim: "+dec.Reason)
	}
	notes = append(notes, fmt.Sprintf("would set %s DRAINING and wait up to %s for its %d tasks to move",
		inst.EC2InstanceID, d.policy.DrainTimeout, len(tasks)))
	note := strings.Join(notes, "; ")
	log.Info().Bool("dryRun", true).Str("admission", string(dec.Action)).Msg(pipeline.DryRunNote + note)
	return d.toReboot(ctx, job, pipeline.DryRunNote+note)
}

// endDryRun ends a dry-run job here, saying what the real job would have done.
func (d *drainer) endDryRun(ctx context.Context, job *update.Job, would string) (queue.Outcome, error) {
	queue.Logger(ctx).Info().Bool("dryRun", true).Msg(pipeline.DryRunNote + would)
	if err := d.ender.EndDryRun(ctx, job, would); err != nil {
		return queue.Outcome{}, fmt.Errorf("end job: %w", err)
	}
	return queue.Done(), nil
}
