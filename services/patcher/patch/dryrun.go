package patch

import (
	"context"
	"errors"
	"fmt"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
)

// rehearseStage is the stage step of a dry-run job: the patcher makes every decision of stage
// (ownership, the instance's status, eligibility, the update check, the target) from reads and
// the read-only update check, logs it, marks nothing and stages nothing, and forwards the job to
// the drainer; or ends it skipped/dry-run where the real job would have ended.
func (p *patcher) rehearseStage(ctx context.Context, job *update.Job) error {
	in, ok, err := p.rehearseOwner(ctx, job)
	if !ok || err != nil {
		return err
	}
	if err := job.Advance(update.StepStage, "patcher", "accepted (dry run: nothing is marked)", p.now()); err != nil {
		return err
	}
	if err := p.ender.Started(ctx, job); err != nil {
		return fmt.Errorf("announce job: %w", err)
	}
	p.ender.CountStarted(*job) // a rehearsal marks nothing: the job has started once announced
	if o, out := optedOut(in); out {
		return p.endDryRun(ctx, job, fmt.Sprintf("would skip (%s): %s", o.Code, o.Message))
	}
	if in.Status != cluster.StatusActive {
		return p.endDryRun(ctx, job, fmt.Sprintf("would skip (%s): the instance is %s and rollwave did not drain it", update.CodeDrainedByOther, in.Status))
	}
	tasks, err := p.ecs.Tasks(ctx, job.Cluster, in.ARN)
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	if ok, why := update.Eligible(cluster.TaskViews(tasks), p.policies.For(job.Cluster).Standalone); !ok {
		return p.endDryRun(ctx, job, fmt.Sprintf("would end %s (%s): %s", why.Result, why.Code, why.Message))
	}
	st, err := ssmcommand.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick)
	if err != nil {
		if ssmcommand.IsTransient(err) {
			return err
		}
		return p.endDryRun(ctx, job, fmt.Sprintf("would end failed (%s): %v", update.CodeStagingFailed, err))
	}
	if job.FromVersion == "" {
		job.FromVersion = st.ActiveVersion()
	}
	var note string
	switch st.UpdateState {
	case bottlerocket.StateIdle:
		return p.endDryRun(ctx, job, fmt.Sprintf("would skip (%s): runs %s and Bottlerocket offers no update", update.CodeNoUpdate, st.ActiveVersion()))
	case bottlerocket.StateAvailable, bottlerocket.StateStaged:
		if job.TargetVersion != "" && st.ChosenVersion() != job.TargetVersion {
			return p.endDryRun(ctx, job, fmt.Sprintf("would end failed (%s): target %s is not the update Bottlerocket offers (%s)",
				update.CodeStagingFailed, job.TargetVersion, orNone(st.ChosenVersion())))
		}
		note = fmt.Sprintf("would mark %s and stage %s over %s (update state %s) while it serves traffic",
			in.EC2InstanceID, st.ChosenVersion(), st.ActiveVersion(), st.UpdateState)
		if job.TargetVersion == "" {
			job.TargetVersion = st.ChosenVersion()
		}
	case bottlerocket.StateReady:
		if job.TargetVersion == "" {
			job.TargetVersion = st.StagedVersion()
		}
		note = fmt.Sprintf("would mark %s; %s is staged already (update state Ready)", in.EC2InstanceID, st.StagedVersion())
	default:
		return p.endDryRun(ctx, job, fmt.Sprintf("would end failed (%s): update state %s", update.CodeStagingFailed, st.UpdateState))
	}
	queue.Logger(ctx).Info().Bool("dry_run", true).Msg(jobs.DryRunNote + note)
	return p.forward(ctx, job, update.StepDrain, p.drainerURL, jobs.DryRunNote+note)
}

// rehearseReboot is the reboot step of a dry-run job: it says whether the reboot would be sent
// (asking SSM, read-only, whether this job's reboot was sent before), sends nothing and forwards
// the job to the verifier.
func (p *patcher) rehearseReboot(ctx context.Context, job *update.Job) error {
	in, ok, err := p.rehearseOwner(ctx, job)
	if !ok || err != nil {
		return err
	}
	doc, comment := p.docs[ssmdoc.Reboot], update.CommandComment(job.ID)
	sent, err := p.sends.Sent(ctx, in.EC2InstanceID, doc, comment)
	if err != nil {
		return fmt.Errorf("look for an earlier reboot: %w", err)
	}
	note := fmt.Sprintf("would send the reboot (%s, comment %q) to %s once it is drained (now %s with %d running and %d pending tasks)",
		doc, comment, in.EC2InstanceID, in.Status, in.RunningTasks, in.PendingTasks)
	if sent != "" {
		note = "a reboot for this job was sent before: would not reboot again"
	}
	queue.Logger(ctx).Info().Bool("dry_run", true).Msg(jobs.DryRunNote + note)
	return p.forward(ctx, job, update.StepVerify, p.verifyURL, jobs.DryRunNote+note)
}

// rehearseOwner looks the instance up for a dry run; ok is false when the dry run ended here.
func (p *patcher) rehearseOwner(ctx context.Context, job *update.Job) (cluster.Instance, bool, error) {
	ref := job.Instance
	if job.ContainerInstanceARN != "" {
		ref = job.ContainerInstanceARN
	}
	in, err := p.ecs.Instance(ctx, job.Cluster, ref)
	switch {
	case errors.Is(err, cluster.ErrInstanceNotFound), errors.Is(err, cluster.ErrClusterNotFound), errors.Is(err, cluster.ErrInvalid):
		return in, false, p.endDryRun(ctx, job, fmt.Sprintf("would end skipped (%s): %v", update.CodeInstanceGone, err))
	case err != nil:
		return in, false, fmt.Errorf("look up instance: %w", err)
	}
	job.ContainerInstanceARN, job.EC2InstanceID = in.ARN, in.EC2InstanceID
	queue.Annotate(ctx, queue.Fields{Instance: in.EC2InstanceID, InstanceARN: in.ARN})
	if other := in.Attributes[update.AttrJob]; other != "" && other != job.ID {
		return in, false, p.endDryRun(ctx, job, "would end as a duplicate: job "+other+" owns the instance")
	}
	return in, true, nil
}

// endDryRun ends a dry-run job here, saying what the real job would have done.
func (p *patcher) endDryRun(ctx context.Context, job *update.Job, would string) error {
	queue.Logger(ctx).Info().Bool("dry_run", true).Msg(jobs.DryRunNote + would)
	return p.ender.EndDryRun(ctx, job, would)
}
