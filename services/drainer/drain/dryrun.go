package drain

import (
	"context"
	"fmt"
	"strings"

	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// rehearse is the drain step of a dry-run job: every decision of drain (ownership, then every
// gate of admission, in the order and by the rules of the real job, and what would be drained)
// is made from reads only and logged, nothing is written (no attribute, no DRAINING, no halt),
// and the job goes on to the patcher at step reboot without waiting, or ends skipped/dry-run
// where the real job would have ended. Unlike the real job, which stops at the first gate that
// holds it, the rehearsal notes every gate that would hold it and goes on.
func (d *drainer) rehearse(ctx context.Context, job *update.Job, _ string) (queue.Outcome, error) {
	log := queue.Logger(ctx)
	inst, err := jobs.Instance(ctx, d.ecs, job)
	if err != nil {
		return d.ender.EndIfGone(ctx, job, err)
	}
	if owner := inst.Attributes[update.AttrJob]; owner != "" && owner != job.ID {
		return d.endDryRun(ctx, job, "would end as a duplicate: job "+owner+" owns the instance")
	}
	l := d.newLook(job, inst, true)
	var notes []string
	for _, g := range d.gates() {
		v, err := g.check(ctx, l)
		if err != nil {
			return d.ender.EndIfGone(ctx, job, fmt.Errorf("check %s: %w", g.name, err))
		}
		switch {
		case v.refuse != nil:
			return d.endDryRun(ctx, job, strings.Join(append(notes,
				fmt.Sprintf("%s would end the job %s (%s): %s", g.name, v.refuse.Result, v.refuse.Code, v.refuse.Message)), "; "))
		case v.hold != "":
			notes = append(notes, fmt.Sprintf("%s would hold the job (%s): %s", g.name, v.hold, v.why))
		case v.why != "":
			notes = append(notes, fmt.Sprintf("%s would admit: %s", g.name, v.why))
		}
	}
	tasks, err := l.instanceTasks(ctx)
	if err != nil {
		return d.ender.EndIfGone(ctx, job, err)
	}
	notes = append(notes, fmt.Sprintf("would set %s DRAINING and wait up to %s for its %d tasks to move",
		inst.EC2InstanceID, d.policy.DrainTimeout, len(tasks)))
	note := strings.Join(notes, "; ")
	log.Info().Bool("dry_run", true).Msg(jobs.DryRunNote + note)
	return d.toReboot(ctx, job, jobs.DryRunNote+note)
}

// endDryRun ends a dry-run job here, saying what the real job would have done.
func (d *drainer) endDryRun(ctx context.Context, job *update.Job, would string) (queue.Outcome, error) {
	queue.Logger(ctx).Info().Bool("dry_run", true).Msg(jobs.DryRunNote + would)
	if err := d.ender.EndDryRun(ctx, job, would); err != nil {
		return queue.Outcome{}, fmt.Errorf("end job: %w", err)
	}
	return queue.Done(), nil
}
