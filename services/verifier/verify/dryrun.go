package verify

import (
	"context"
	"fmt"

	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// rehearse is the verify step of a dry-run job, its last: nothing was rebooted, so there is
// nothing to wait for. The verifier reads the instance and, if SSM reaches the host, runs the
// read-only update check, says what it would wait for and do, and ends the job skipped/dry-run
// with a summary of every worker's decisions, leaving the instance's attributes and status as
// they are.
func (v *verifier) rehearse(ctx context.Context, job *update.Job) (queue.Outcome, error) {
	inst, err := jobs.Instance(ctx, v.ecs, job)
	if err != nil {
		return v.ender.EndIfGone(ctx, job, err)
	}
	would := fmt.Sprintf("would wait up to %s for the ECS agent and SSM, check that %s runs %s, then set it ACTIVE and remove the marks",
		v.policy.RebootTimeout, inst.EC2InstanceID, orAny(job.TargetVersion))
	if owner := inst.Attributes[update.AttrJob]; owner != "" && owner != job.ID {
		would = "would end as a duplicate: job " + owner + " owns the instance"
	} else if online, err := v.ssm.Online(ctx, []string{inst.EC2InstanceID}); err == nil && online[inst.EC2InstanceID] {
		if st, err := ssmcommand.Check(ctx, v.ssm, v.policy.CheckDoc, inst.EC2InstanceID, v.policy.SSM); err == nil {
			would += fmt.Sprintf(" (it runs %s now, update state %s)", st.ActiveVersion(), st.UpdateState)
		}
	}
	queue.Logger(ctx).Info().Bool("dry_run", true).Msg(jobs.DryRunNote + would)
	if err := v.ender.EndDryRun(ctx, job, would); err != nil {
		return queue.Outcome{}, fmt.Errorf("end job: %w", err)
	}
	return queue.Done(), nil
}

func orAny(version string) string {
	if version == "" {
		return "a version other than the one it ran"
	}
	return version
}
