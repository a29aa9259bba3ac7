package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	rollout "github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

// by is the name the verifier records in a job's history.
const by = "verifier"

// instanceReader looks up one container instance (*cluster.Client, clustertest.Fake).
type instanceReader interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
}

// commands asks SSM whether hosts are reachable and runs the check document on them
// (*ssmcommand.Client, ssmcommandtest.Fake).
type commands interface {
	ssmcommand.Runner
	Online(ctx context.Context, instanceIDs []string) (map[string]bool, error)
}

// policy is what the verifier decides by.
type policy struct {
	RebootTimeout time.Duration
	// DownGrace is how long after the reboot was sent the verifier waits to see the host go
	// down (agent disconnected or SSM offline) before it runs an update check anyway. A check
	// sent just as the host shuts down never answers and costs its whole SSM timeout.
	DownGrace time.Duration
	Recheck   time.Duration
	CheckDoc  string
	// LockDoc pins a host to a version (ssmdoc.Lock): an instance that returns to service after
	// a failed update is pinned to the version it runs, so no scan offers it the failed one.
	LockDoc string
	SSM     ssmcommand.Options
}

// verifier handles jobs at step verify: it waits until the rebooted host is back (ECS agent
// connected, SSM online), checks its version, and ends the job: ACTIVE and unmarked when
// updated; on a rollback, an unexpected version or no return by the deadline, failed and marked
// failed, left out of service for a person or, where the cluster's onVerifyFailure policy says
// return, a rolled-back host back in service pinned to its version.
type verifier struct {
	// locks serialises copies of a job about the same instance (SQS delivers at least once).
	locks jobs.Locks
	// boundary is the managed clusters: a job about any other goes to the dead-letter queue.
	boundary jobs.Boundary
	ecs      instanceReader
	ssm      commands
	marks    jobs.Marks
	state    jobs.StateSetter
	ender    *jobs.Ender
	wakeups  *wake.Registry
	policy   policy
	// policies are the clusters' rollout policies; the verifier reads OnVerifyFailure.
	policies rollout.Set
	metrics  metrics.Recorder
	// lease renews the lease of the job at each look while the host reboots.
	lease *jobs.Leaser
	// dryRun makes every job a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
}

// handle is the queue handler of the verifier queue.
func (v *verifier) handle(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := jobs.Receive(ctx, &v.locks, v.boundary, m, v.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	if out, ok := jobs.AtStep(job, update.StepVerify, by); !ok {
		return out
	}
	verify := v.verify
	if job.DryRun {
		verify = v.rehearse
	}
	o, err := verify(ctx, &job)
	return jobs.Outcome(ctx, o, err)
}

// verify does the job's step and returns the message's outcome; an error is transient.
func (v *verifier) verify(ctx context.Context, job *update.Job) (queue.Outcome, error) {
	inst, err := jobs.Instance(ctx, v.ecs, job)
	if err != nil {
		return v.ender.EndIfGone(ctx, job, err)
	}

	// A copy of a job that ended (a lost delete, a redrive), or a job that never owned the
	// instance, ends here without a write: only the job that owns the instance may fail it.
	stage, _ := update.ParseStage(inst.Attributes[update.AttrStage])
	if o := update.Owner(*job, inst.Attributes[update.AttrJob], stage, inst.Attributes[update.AttrUpdatedBy]); !o.Owns {
		return v.ender.Ended(ctx, job, o.Outcome, jobs.LeaveMarks)
	}
	if stage != update.StageVerifying {
		if err := v.marks.PutAttributes(ctx, job.Cluster, inst.ARN, v.lease.With(map[string]string{update.AttrStage: string(update.StageVerifying)})); err != nil {
			return v.ender.EndIfGone(ctx, job, err)
		}
	}

	from, ok := job.EnteredAt(update.StepVerify)
	if !ok {
		from = v.now()
	}
	var (
		verdict  update.Verdict
		waiting  = "not looked at yet"
		wentDown bool
	)
	err = wake.Await(ctx, v.wakeups, inst.ARN, v.policy.Recheck, from.Add(v.policy.RebootTimeout), func(ctx context.Context) (bool, error) {
		done, why, err := v.check(ctx, job, from, &wentDown)
		if err != nil {
			return false, err
		}
		if done.Done {
			verdict = done
			return true, nil
		}
		if why != waiting {
			queue.Logger(ctx).Info().Msg("not back yet: " + why)
			waiting = why
		}
		return false, nil
	})
	switch {
	case errors.Is(err, wake.ErrDeadline):
		return v.fail(ctx, job, update.Failed(update.CodeNeverCameBack,
			fmt.Sprintf("not back on a new version %s after the verify step began: %s", v.policy.RebootTimeout, waiting)))
	case err != nil:
		return v.ender.EndIfGone(ctx, job, err)
	}
	if verdict.Outcome.Result != update.ResultUpdated {
		return v.fail(ctx, job, verdict.Outcome)
	}
	verified := v.now()
	out, err := v.activate(ctx, job, verdict.Outcome)
	// Recorded once the job ended: a transient failure of the re-activation is retried, and the
	// retry must not count the same verification again.
	if err == nil {
		metrics.Record(v.metrics, metrics.Took(metrics.RebootToVerified, verified.Sub(from), verified, map[string]string{metrics.Cluster: job.Cluster}))
	}
	return out, err
}

// check looks once at the host: the ECS agent, SSM, then the update status. A verdict that is
// not Done comes with why; an error is one that waiting cannot cure.
//
// Until it has seen the host go down (wentDown), and for at most DownGrace after the reboot was
// sent (rebootAt), it does not run the update check: the host is about to shut down under it.
func (v *verifier) check(ctx context.Context, job *update.Job, rebootAt time.Time, wentDown *bool) (update.Verdict, string, error) {
	inst, err := v.ecs.Instance(ctx, job.Cluster, job.ContainerInstanceARN)
	switch {
	case err != nil && cluster.IsTransient(err):
		return update.Verdict{}, "ECS: " + err.Error(), nil
	case err != nil:
		return update.Verdict{}, "", err
	}
	if err := v.lease.Renew(ctx, job, inst); err != nil {
		queue.Logger(ctx).Warn().Err(err).Msg("lease not renewed; trying again at the next look")
	}
	switch {
	case !inst.AgentConnected:
		*wentDown = true
		return update.Verdict{}, "ECS agent disconnected", nil
	}
	online, err := v.ssm.Online(ctx, []string{job.EC2InstanceID})
	switch {
	case err != nil && errors.Is(err, ssmcommand.ErrInvalid):
		return update.Verdict{}, "", err
	case err != nil:
		return update.Verdict{}, "SSM: " + err.Error(), nil
	case !online[job.EC2InstanceID]:
		*wentDown = true
		return update.Verdict{}, "SSM agent not online", nil
	}
	if !*wentDown && v.now().Before(rebootAt.Add(v.policy.DownGrace)) {
		return update.Verdict{}, "reboot sent; waiting for the host to go down", nil
	}
	st, err := ssmcommand.Check(ctx, v.ssm, v.policy.CheckDoc, job.EC2InstanceID, v.policy.SSM)
	switch {
	case ctx.Err() != nil:
		return update.Verdict{}, "", ctx.Err()
	case err != nil && errors.Is(err, ssmcommand.ErrInvalid):
		return update.Verdict{}, "", err
	case err != nil:
		// The host may be shutting down or booting: the command fails or never answers.
		return update.Verdict{}, "update check: " + err.Error(), nil
	}
	verdict := update.Verify(*job, st)
	if !verdict.Done {
		return verdict, verdict.Reason, nil
	}
	if verdict.Outcome.Result == update.ResultUpdated && job.StagedVersion == "" {
		job.StagedVersion = st.ActiveVersion()
	}
	return verdict, "", nil
}

// activate puts an updated instance back in service and ends the job with o.
func (v *verifier) activate(ctx context.Context, job *update.Job, o update.Outcome) (queue.Outcome, error) {
	if refused, err := v.setActive(ctx, job); err != nil || refused != "" {
		if err != nil {
			return v.ender.EndIfGone(ctx, job, err)
		}
		return v.ender.Ended(ctx, job, update.Failed(update.CodeReactivateFailed,
			fmt.Sprintf("%s (ECS refused ACTIVE: %s)", o.Message, refused)), jobs.MarkFailed)
	}
	if o.Result == update.ResultUpdated {
		// The drainer's health gate before the next drain in the cluster requires this instance
		// to run its tasks again, by this time + the gate timeout.
		at := v.now().UTC().Format(time.RFC3339)
		attrs := map[string]string{update.AttrVerifiedAt: at, update.AttrUpdatedBy: job.ID}
		if job.FromVersion != "" {
			attrs[update.AttrRollbackTo] = job.FromVersion
		}
		if err := v.marks.PutAttributes(ctx, job.Cluster, job.ContainerInstanceARN, attrs); err != nil {
			return v.ender.EndIfGone(ctx, job, err)
		}
	}
	return v.ender.Ended(ctx, job, o, jobs.Unmark)
}

// fail ends a job whose update failed after the reboot, marked failed, as the cluster's
// OnVerifyFailure policy says: left out of service for a person (park), or, for a host that
// booted its previous version again, back in service pinned to it (return). A job that cannot be
// judged (unverifiable) is re-activated and unmarked whatever the policy, since nothing says that
// the host is broken.
func (v *verifier) fail(ctx context.Context, job *update.Job, o update.Outcome) (queue.Outcome, error) {
	if o.Code == update.CodeUnverifiable {
		return v.activate(ctx, job, o)
	}
	if v.policies.For(job.Cluster).OnVerifyFailure.Returns(o.Code) {
		return v.returnToService(ctx, job, o)
	}
	return v.ender.Ended(ctx, job, o, jobs.MarkFailed)
}

// returnToService ends a failed job whose host runs its previous version (job.FromVersion)
// again: it pins the host to that version with the version-lock document, so that it is never
// offered the failed version again until a person clears the lock, sets it ACTIVE, and marks it
// failed, so that scans leave it alone and a person still sees why. A host that cannot be pinned,
// or that ECS refuses to set ACTIVE, stays parked: serving again on an unpinned host would invite
// the failed version back. Every step is idempotent, so a redelivered job does it again.
func (v *verifier) returnToService(ctx context.Context, job *update.Job, o update.Outcome) (queue.Outcome, error) {
	version := job.FromVersion
	if version == "" {
		o.Message += "; not returned to service: the job does not say which version the host ran before"
		return v.ender.Ended(ctx, job, o, jobs.MarkFailed)
	}
	lock := v.policy.SSM
	lock.Parameters = map[string][]string{ssmdoc.LockParam: {version}}
	if err := ssmcommand.RunOne(ctx, v.ssm, v.policy.LockDoc, job.EC2InstanceID, lock); err != nil {
		if ctx.Err() != nil {
			return queue.Outcome{}, ctx.Err()
		}
		o.Message += fmt.Sprintf("; not returned to service: lock version %s: %v", version, err)
		return v.ender.Ended(ctx, job, o, jobs.MarkFailed)
	}
	refused, err := v.setActive(ctx, job)
	switch {
	case err != nil:
		return v.ender.EndIfGone(ctx, job, err)
	case refused != "":
		o.Message += fmt.Sprintf("; pinned to %s but not returned to service: ECS refused ACTIVE: %s", version, refused)
		return v.ender.Ended(ctx, job, o, jobs.MarkFailed)
	}
	o.Message += fmt.Sprintf("; returned to service on %s, pinned by settings.updates.version-lock", version)
	return v.ender.Ended(ctx, job, o, jobs.MarkFailed)
}

// setActive sets the instance ACTIVE; refused is ECS's reason when it refused this instance.
func (v *verifier) setActive(ctx context.Context, job *update.Job) (refused string, err error) {
	failures, err := v.state.SetState(ctx, job.Cluster, []string{job.ContainerInstanceARN}, cluster.StatusActive)
	if err != nil {
		return "", err
	}
	return failures[job.ContainerInstanceARN], nil
}
