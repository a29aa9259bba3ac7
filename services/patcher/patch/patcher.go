package patch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
)

// ecsAPI is what the patcher needs of ECS.
type ecsAPI interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
	CountInstances(ctx context.Context, cluster, filter string) (int, error) // the look-ahead
	Tasks(ctx context.Context, cluster, instanceARN string) ([]cluster.Task, error)
	jobs.Marks
	jobs.StateSetter // to re-activate when the reboot cannot go ahead after the drain
	managed.Finder   // to resolve the managed clusters
}

// sender sends a command without waiting for it (the apply and the reboot), looks at it later,
// and tells whether the job's reboot was already sent.
type sender interface {
	Send(ctx context.Context, doc, instanceID, comment string) (string, error)
	Sent(ctx context.Context, instanceID, doc, comment string) (string, error)
	Invocation(ctx context.Context, commandID, instanceID string) (ssmcommand.Result, error)
}

type jobSender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

type patcher struct {
	// locks serialises copies of a job about the same instance (SQS delivers at least once).
	locks jobs.Locks
	// boundary is the managed clusters: a job about any other goes to the dead-letter queue.
	boundary jobs.Boundary
	ecs      ecsAPI
	commands ssmcommand.Runner
	sends    sender
	jobs     jobSender
	ender    *jobs.Ender
	undoer   *jobs.Undoer
	// lease rides on every stage the patcher writes: it takes the job's lease at accept.
	lease      *jobs.Leaser
	drainerURL string
	verifyURL  string
	// patcherURL is the patcher's own queue: a job waiting for the host's wave comes back on it.
	patcherURL string
	// offerRecheck is how long a job waits before it looks again whether the host is offered
	// its target (ROLLWAVE_OFFER_RECHECK); waitingThreshold is when such a wait is warned about
	// (ROLLWAVE_WAITING_THRESHOLD).
	offerRecheck     time.Duration
	waitingThreshold time.Duration
	docs             map[ssmdoc.Kind]string
	apply            ssmcommand.Options
	quick            ssmcommand.Options
	// policies give each cluster's standalone policy (ROLLWAVE_CLUSTER_POLICIES over the default).
	policies policy.Set
	// ahead holds new staging jobs beyond their cluster's look-ahead (update.MayStage).
	ahead *lookahead
	// staging bounds the stage lane's jobs that stage at once (ROLLWAVE_CONCURRENCY); the lane
	// holds ROLLWAVE_STAGE_WAITING more while their look-ahead is full.
	staging chan struct{}
	metrics metrics.Recorder
	// dryRun makes every job a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
}

// ssmAPI is the SSM adapter: running documents and sending the reboot.
type ssmAPI interface {
	ssmcommand.Runner
	sender
}

func newPatcher(cfg config, e ecsAPI, s ssmAPI, sender jobSender, events jobs.Publisher, now func() time.Time) *patcher {
	docs := map[ssmdoc.Kind]string{}
	for _, k := range ssmdoc.Kinds {
		docs[k] = cfg.Doc(k)
	}
	quick := cfg.Quick(cfg.SSMTimeout)
	ender := &jobs.Ender{Marks: e, Events: events, By: "patcher", Now: now}
	return &patcher{
		boundary: managed.New(cfg.Managed, e),
		ecs:      e, commands: s, sends: s, jobs: sender, ender: ender,
		lease: cfg.Leaser(e, now),
		undoer: &jobs.Undoer{State: e, Commands: s, CheckDoc: docs[ssmdoc.Check],
			CancelDoc: docs[ssmdoc.Cancel], SSM: quick, Ender: ender},
		docs:     docs,
		apply:    ssmcommand.Options{Wait: cfg.ApplyTimeout, Expected: cfg.ApplyExpected, PollInterval: cfg.SSMPoll},
		quick:    quick,
		policies: cfg.Policies,
		ahead:    newLookahead(e, cfg.Policies, cfg.StageRecheck, cfg.StageWaiting),
		staging:  make(chan struct{}, cfg.Concurrency),
		dryRun:   cfg.DryRun,
		now:      now,

		offerRecheck:     cfg.OfferRecheck,
		waitingThreshold: cfg.WaitingThreshold,
	}
}

// handle is the stage lane's handler (the patcher queue, the intake of every job). It also
// reboots a job at step reboot found there, sent by a drainer of an earlier version.
func (p *patcher) handle(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := jobs.Receive(ctx, &p.locks, p.boundary, m, p.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	var err error
	switch {
	case job.Step == update.StepStage && job.DryRun:
		err = p.rehearseStage(ctx, &job)
	case job.Step == update.StepStage:
		return p.stageJustInTime(ctx, &job, m.FinalReceive)
	case job.Step == update.StepReboot:
		return p.rebootLane(ctx, &job)
	default:
		return queue.Poison(fmt.Sprintf("job %s is at step %q, which is not the patcher's (stage, reboot)", job.ID, job.Step))
	}
	return jobs.Outcome(ctx, queue.Done(), err)
}

// handleReboot is the reboot lane's handler (the reboot queue): jobs the drainer drained, whose
// instances are out of service until rebooted and verified.
func (p *patcher) handleReboot(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := jobs.Receive(ctx, &p.locks, p.boundary, m, p.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	if job.Step != update.StepReboot {
		return queue.Poison(fmt.Sprintf("job %s is at step %q; the reboot queue takes step reboot only (a new job goes to the patcher queue)", job.ID, job.Step))
	}
	return p.rebootLane(ctx, &job)
}

// rebootLane reboots (or rehearses the reboot of) a drained job. Its instance has left its
// cluster's look-ahead, so it wakes the oldest staging job held for the cluster.
func (p *patcher) rebootLane(ctx context.Context, job *update.Job) queue.Outcome {
	defer p.ahead.Drained(job.Cluster)
	var err error
	if job.DryRun {
		err = p.rehearseReboot(ctx, job)
	} else {
		err = p.reboot(ctx, job)
	}
	if err != nil {
		return queue.Retry(err)
	}
	return queue.Done()
}

// stageJustInTime stages a job's instance once its cluster's look-ahead has room (update.MayStage):
// a new job beyond it is held, in service and unmarked, until a staged instance of the cluster is
// drained, or goes back to its queue for a recheck. A job that already marked its instance (a
// redelivery) and a rollback never wait.
func (p *patcher) stageJustInTime(ctx context.Context, job *update.Job, final bool) queue.Outcome {
	in, stage, ok, err := p.owner(ctx, job)
	if err != nil {
		return queue.Retry(err)
	}
	if !ok {
		return queue.Done()
	}
	marked := func() {}
	if stage == update.StageNone && !job.LockVersion {
		var waited bool
		marked, waited, err = p.ahead.Await(ctx, *job)
		var held *heldError
		switch {
		case errors.As(err, &held):
			return queue.RetryAfter(p.ahead.recheck, held.reason)
		case err != nil:
			return queue.Retry(err)
		}
		defer marked()
		if waited {
			// The instance may have changed while the job waited: look again.
			if in, stage, ok, err = p.owner(ctx, job); err != nil || !ok {
				return doneOrRetry(err)
			}
		}
	}
	select {
	case p.staging <- struct{}{}:
		defer func() { <-p.staging }()
	case <-ctx.Done():
		return queue.Retry(ctx.Err())
	}
	err = p.stage(ctx, job, in, stage, final, marked)
	if job.Outcome != nil {
		p.ahead.Drained(job.Cluster) // ended without staging: its room is free again
	}
	var applying *applyingError
	if errors.As(err, &applying) {
		return queue.RetryAfter(applying.delay, applying.Error())
	}
	return doneOrRetry(err)
}

// applyingError says that the job's apply is still running on the host: its message comes back
// after delay, when the apply's poll schedule looks next.
type applyingError struct {
	delay  time.Duration
	reason string
}

func (e *applyingError) Error() string { return e.reason }

func doneOrRetry(err error) queue.Outcome {
	if err != nil {
		return queue.Retry(err)
	}
	return queue.Done()
}

// owner looks up the instance and decides whether the job owns it (update.Owner). ok is false
// when the job ended here: the instance is gone (skipped, instance-gone), belongs to another job
// (duplicate), or the job does not own it (not-owner, stale-job: nothing changed, nothing
// counted); err is a transient failure to retry.
func (p *patcher) owner(ctx context.Context, job *update.Job) (in cluster.Instance, stage update.Stage, ok bool, err error) {
	in, err = jobs.Instance(ctx, p.ecs, job)
	switch {
	case errors.Is(err, cluster.ErrInstanceNotFound), errors.Is(err, cluster.ErrClusterNotFound), errors.Is(err, cluster.ErrInvalid):
		return in, "", false, p.ender.End(ctx, job, update.Skipped(update.CodeInstanceGone, err.Error()), jobs.LeaveMarks)
	case err != nil:
		return in, "", false, fmt.Errorf("look up instance: %w", err)
	}
	job.EC2InstanceID = in.EC2InstanceID
	owner := in.Attributes[update.AttrJob]
	stage, _ = update.ParseStage(in.Attributes[update.AttrStage]) // an unknown stage is StageNone
	if owner == "" {
		stage = update.StageNone
	}
	if o := update.Owner(*job, owner, stage, in.Attributes[update.AttrUpdatedBy]); !o.Owns {
		return in, "", false, p.ender.End(ctx, job, o.Outcome, jobs.LeaveMarks)
	}
	return in, stage, true, nil
}

// stage accepts a job and stages its update while the instance serves traffic; in and stage are
// the instance and its stage as owner read them. final says that this is the message's last
// receive: an SSM failure it would retry ends the job instead. marked is called once the
// instance carries the staging mark.
func (p *patcher) stage(ctx context.Context, job *update.Job, in cluster.Instance, stage update.Stage, final bool, marked func()) error {
	log := queue.Logger(ctx)
	switch stage {
	case update.StageNone:
		if o, out := optedOut(in); out {
			return p.ender.End(ctx, job, o, jobs.LeaveMarks)
		}
		if in.Status != cluster.StatusActive {
			return p.ender.End(ctx, job, update.Skipped(update.CodeDrainedByOther,
				fmt.Sprintf("instance is %s and rollwave did not drain it: left alone", in.Status)), jobs.LeaveMarks)
		}
	case update.StageStaging:
		if job.Applying != nil {
			return p.awaitApply(ctx, job, in, final)
		}
		// A copy of the job that another copy is staging (SQS delivers at least once), or a
		// redelivery after a crash while staging. Should the job's apply have been sent, the
		// copy waits for that one: an update check now would meet the update lock the apply
		// holds. Otherwise it stages again (apply is idempotent from Staged).
		id, err := p.sends.Sent(ctx, in.EC2InstanceID, p.docs[ssmdoc.Apply], update.CommandComment(job.ID))
		if err != nil {
			return fmt.Errorf("look for an earlier apply: %w", err)
		}
		if id != "" {
			log.Info().Str("command", id).Msg("the job's apply was sent already (a copy of the job, or a crash): waiting for it")
			return p.comeBack(ctx, job, id)
		}
	case update.StageStaged:
		job.Applying = nil
		log.Info().Msg("already staged by this job (redelivery): forwarding to the drainer")
		if err := p.lease.Renew(ctx, job, in); err != nil {
			return err
		}
		return p.forward(ctx, job, update.StepDrain, p.drainerURL, "staged "+job.StagedVersion)
	}
	tasks, err := p.ecs.Tasks(ctx, job.Cluster, in.ARN)
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	if ok, why := update.Eligible(cluster.TaskViews(tasks), p.policies.For(job.Cluster).Standalone); !ok {
		marking := jobs.LeaveMarks
		if stage != update.StageNone {
			marking = jobs.Unmark
		}
		return p.ender.End(ctx, job, why, marking)
	}
	if stage == update.StageNone {
		if err := job.Advance(update.StepStage, "patcher", update.AcceptedNote+"; rollwave.job set", p.now()); err != nil {
			return err
		}
		if err := p.ender.Started(ctx, job); err != nil {
			return fmt.Errorf("announce job: %w", err)
		}
	}
	// The mark and the job's lease go in one call: no instance is marked without a lease.
	if err := p.ecs.PutAttributes(ctx, job.Cluster, in.ARN, p.lease.With(map[string]string{
		update.AttrJob: job.ID, update.AttrStage: string(update.StageStaging),
	})); err != nil {
		if errors.Is(err, cluster.ErrAttributeLimit) {
			return p.ender.End(ctx, job, update.Failed(update.CodeStagingFailed, "cannot mark the instance: "+err.Error()), jobs.LeaveMarks)
		}
		return fmt.Errorf("mark instance: %w", err)
	}
	marked()
	if stage == update.StageNone {
		p.ender.CountStarted(*job)
	}
	if job.PinTarget {
		// A rollout to one version: the host goes there only once its own update check offers
		// it (its wave came), never forced.
		st, err := ssmcommand.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick)
		if err != nil {
			return p.failStaging(ctx, job, err, final)
		}
		if job.FromVersion == "" {
			job.FromVersion = st.ActiveVersion()
		}
		if st.ActiveVersion() == job.TargetVersion {
			return p.undoer.Abort(ctx, job, update.StageStaging, update.Skipped(update.CodeNoUpdate,
				fmt.Sprintf("runs the rollout's version %s already", job.TargetVersion)))
		}
		if !update.Offered(st, job.TargetVersion) {
			return p.awaitOffer(ctx, job, in, st)
		}
		if err := p.endWait(ctx, job, in); err != nil {
			return err
		}
	}
	if job.LockVersion || job.PinTarget {
		// Pin the host to the target first: a rollback, so that Bottlerocket offers it even
		// though it is older than the running version (the lock stays set after the job); a
		// rollout, so that a version released since the rollout began is not the one staged
		// (the lock goes back to latest once the update is staged).
		log.Info().Str("version", job.TargetVersion).Msg("locking the host's version")
		if err := p.lockVersion(ctx, in.EC2InstanceID, job.TargetVersion); err != nil {
			return p.failStaging(ctx, job, err, final)
		}
	}
	st, err := ssmcommand.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick)
	if err != nil {
		return p.failStaging(ctx, job, err, final)
	}
	if job.FromVersion == "" {
		job.FromVersion = st.ActiveVersion()
	}
	switch st.UpdateState {
	case bottlerocket.StateIdle:
		return p.undoer.Abort(ctx, job, update.StageStaging, update.Skipped(update.CodeNoUpdate,
			fmt.Sprintf("runs %s and Bottlerocket offers no update", st.ActiveVersion())))
	case bottlerocket.StateAvailable, bottlerocket.StateStaged:
		if job.TargetVersion != "" && st.ChosenVersion() != job.TargetVersion {
			return p.undoer.Abort(ctx, job, update.StageStaging, update.Failed(update.CodeStagingFailed,
				fmt.Sprintf("target %s is not the update Bottlerocket offers (%s)", job.TargetVersion, orNone(st.ChosenVersion()))))
		}
		log.Info().Str("version", st.ChosenVersion()).Msg("staging update")
		return p.sendApply(ctx, job, in, final)
	}
	return p.staged(ctx, job, in, st, final)
}

// sendApply sends `apiclient update apply` and puts the job back on the patcher's queue with the
// command (Job.Applying), to look at it when it is expected to have finished
// (ROLLWAVE_APPLY_EXPECTED). No worker waits while a host stages: the stage lane's slots
// (ROLLWAVE_CONCURRENCY) bound the calls the patcher makes at once, not the hosts staging, which
// the look-ahead bounds.
func (p *patcher) sendApply(ctx context.Context, job *update.Job, in cluster.Instance, final bool) error {
	id, err := p.sends.Send(ctx, p.docs[ssmdoc.Apply], in.EC2InstanceID, update.CommandComment(job.ID))
	if err != nil {
		return p.failStaging(ctx, job, err, final)
	}
	queue.Logger(ctx).Info().Str("command", id).Msg("apply sent")
	return p.comeBack(ctx, job, id)
}

// comeBack puts the job back on the patcher's queue with the apply it waits for (command id),
// timed from now, to look at it when it is expected to have finished. Should the send fail, the
// job is retried from its message without the command, and finds the apply by its comment.
func (p *patcher) comeBack(ctx context.Context, job *update.Job, id string) error {
	job.Applying = &update.Applying{Command: id, Since: p.now().UTC()}
	look := p.apply.NextLook(0)
	body, err := update.Encode(*job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if _, err := p.jobs.Send(ctx, p.patcherURL, body, look, nil); err != nil {
		return fmt.Errorf("send the staging job back: %w", err)
	}
	queue.Logger(ctx).Debug().Str("command", id).Dur("look_in", look).Msg("staging job sent back to wait for its apply")
	return nil
}

// awaitApply looks at the job's apply (Job.Applying): still running, the job comes back at the
// poll schedule's next look (an *applyingError), until ROLLWAVE_APPLY_TIMEOUT after it was sent;
// failed, the staging fails; done, the host's update check must say Ready.
func (p *patcher) awaitApply(ctx context.Context, job *update.Job, in cluster.Instance, final bool) error {
	a, doc := job.Applying, p.docs[ssmdoc.Apply]
	r, err := p.sends.Invocation(ctx, a.Command, in.EC2InstanceID)
	if err != nil {
		return p.failStaging(ctx, job, fmt.Errorf("look at the apply: %w", err), final)
	}
	elapsed := max(p.now().Sub(a.Since), 0)
	switch {
	case !r.Status.Terminal() && elapsed >= p.apply.Wait:
		return p.failStaging(ctx, job, fmt.Errorf("wait for %s on %s (last status %s, sent %s ago): %w",
			doc, in.EC2InstanceID, r.Status, elapsed.Round(time.Second), ssmcommand.ErrWaitTimeout), final)
	case !r.Status.Terminal():
		return &applyingError{delay: p.apply.NextLook(elapsed),
			reason: fmt.Sprintf("staging: apply %s is %s after %s", a.Command, r.Status, elapsed.Round(time.Second))}
	case !r.OK():
		return p.failStaging(ctx, job, ssmcommand.CommandError(doc, r), final)
	}
	job.Applying = nil
	st, err := ssmcommand.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick)
	if err != nil {
		return p.failStaging(ctx, job, err, final)
	}
	return p.staged(ctx, job, in, st, final)
}

// staged checks, from the host's update check st after the apply, that the job's target is staged
// (Ready), marks the instance staged and forwards the job to the drainer.
func (p *patcher) staged(ctx context.Context, job *update.Job, in cluster.Instance, st bottlerocket.Status, final bool) error {
	if st.UpdateState != bottlerocket.StateReady {
		return p.failStaging(ctx, job, fmt.Errorf("update state is %s after apply, want Ready", st.UpdateState), final)
	}
	job.StagedVersion = st.StagedVersion()
	if job.TargetVersion == "" {
		job.TargetVersion = job.StagedVersion
	}
	if job.StagedVersion != job.TargetVersion {
		return p.undoer.Abort(ctx, job, update.StageStaging, update.Failed(update.CodeStagingFailed,
			fmt.Sprintf("staged %s, not the target %s", job.StagedVersion, job.TargetVersion)))
	}
	if job.PinTarget {
		// The staged partition holds the target now; the lock has done its work, and left set it
		// would hide every later version from the host's update check.
		if err := p.lockVersion(ctx, in.EC2InstanceID, ssmdoc.Unlocked); err != nil {
			return p.failStaging(ctx, job, err, final)
		}
	}
	if err := p.ecs.PutAttributes(ctx, job.Cluster, in.ARN, p.lease.With(map[string]string{update.AttrStage: string(update.StageStaged)})); err != nil {
		return fmt.Errorf("mark staged: %w", err)
	}
	return p.forward(ctx, job, update.StepDrain, p.drainerURL, "staged "+job.StagedVersion)
}

// lockVersion sets the host's settings.updates.version-lock to version (ssmdoc.Unlocked for
// latest).
func (p *patcher) lockVersion(ctx context.Context, instanceID, version string) error {
	lock := p.quick
	lock.Parameters = map[string][]string{ssmdoc.LockParam: {version}}
	if err := ssmcommand.RunOne(ctx, p.commands, p.docs[ssmdoc.Lock], instanceID, lock); err != nil {
		return fmt.Errorf("lock version %s: %w", version, err)
	}
	return nil
}

// awaitOffer holds a rollout's job whose host is not offered the target yet (st, its update
// check): it records the wait on the instance (rollwave.waiting, reason version-not-offered),
// warns once it has lasted the waiting threshold (and announces the first warning), and sends
// the job back to the patcher's queue to look again after ROLLWAVE_OFFER_RECHECK. The job keeps
// its instance meanwhile, its lease renewed at every look (the accept's write). A new message,
// not a retry of this one, so that a wave of days does not use up the queue's receive count.
func (p *patcher) awaitOffer(ctx context.Context, job *update.Job, in cluster.Instance, st bottlerocket.Status) error {
	why := fmt.Sprintf("the host's update check offers %s, not the rollout's %s yet (Bottlerocket's waves)", orNone(st.ChosenVersion()), job.TargetVersion)
	waits := jobs.Waits{Announcer: p.ender, Metrics: p.metrics, Threshold: p.waitingThreshold, Now: p.now}
	// Look again at least every quarter lease, each look renewing it.
	n := waits.Look(ctx, job, in, update.WaitVersionNotOffered, why, min(p.offerRecheck, update.MaxLeaseGap(p.lease.Duration)))
	log := queue.Logger(ctx)
	if n.Warn {
		log.Warn().Str("reason", string(n.Waiting.Reason)).Time("waiting_since", n.Waiting.Since).Msg("waiting: " + why)
	}
	if n.Attr != "" {
		if err := p.ecs.PutAttributes(ctx, job.Cluster, in.ARN, map[string]string{update.AttrWaiting: n.Attr}); err != nil {
			return fmt.Errorf("record the wait: %w", err)
		}
	}
	body, err := update.Encode(*job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if _, err := p.jobs.Send(ctx, p.patcherURL, body, n.Delay, nil); err != nil {
		return fmt.Errorf("send the waiting job back: %w", err)
	}
	log.Info().Str("reason", string(update.WaitVersionNotOffered)).Dur("retry_in", n.Delay).Msg("not staged: " + why)
	return nil
}

// endWait removes rollwave.waiting from a host that waited for its wave, now that it is
// offered its target.
func (p *patcher) endWait(ctx context.Context, job *update.Job, in cluster.Instance) error {
	w, ok, err := jobs.EndWait(ctx, p.ecs, job, in)
	if ok {
		queue.Logger(ctx).Info().Str("reason", string(w.Reason)).Time("waiting_since", w.Since).
			Dur("waited", w.Waited(p.now()).Round(time.Second)).Msg("offered the rollout's version after waiting")
	}
	return err
}

// optedOut reports whether a person keeps rollwave away from the instance (the rollwave.optout
// attribute, any value), with the outcome that ends its job untouched.
func optedOut(in cluster.Instance) (update.Outcome, bool) {
	v, ok := in.Attributes[update.AttrOptOut]
	if !ok {
		return update.Outcome{}, false
	}
	msg := "the instance carries " + update.AttrOptOut
	if v != "" {
		msg += "=" + v
	}
	return update.Skipped(update.CodeOptedOut, msg+": a person keeps rollwave away from it; left untouched"), true
}

// failStaging ends a job whose staging failed; nothing was drained. A transient SSM error is
// retried instead, except at the message's final receive: a check that keeps failing ends the job
// staging-failed, undone and unmarked, rather than in the dead-letter queue with the instance
// still marked.
func (p *patcher) failStaging(ctx context.Context, job *update.Job, err error, final bool) error {
	if ssmcommand.IsTransient(err) && !final {
		return err
	}
	msg := err.Error()
	if ssmcommand.IsTransient(err) {
		msg = "still failing at the last try: " + msg
	}
	return p.undoer.Abort(ctx, job, update.StageStaging, update.Failed(update.CodeStagingFailed, msg))
}

// reboot reboots a drained instance exactly once for the job.
func (p *patcher) reboot(ctx context.Context, job *update.Job) error {
	in, stage, ok, err := p.owner(ctx, job)
	if !ok || err != nil {
		return err
	}
	if stage == update.StageVerifying {
		return p.forward(ctx, job, update.StepVerify, p.verifyURL, "reboot already sent")
	}
	doc := p.docs[ssmdoc.Reboot]
	comment := update.CommandComment(job.ID)
	sent, err := p.sends.Sent(ctx, in.EC2InstanceID, doc, comment)
	if err != nil {
		return fmt.Errorf("look for an earlier reboot: %w", err)
	}
	if sent != "" {
		queue.Logger(ctx).Info().Msg("reboot already sent for this job (redelivery): not rebooting again")
		return p.forward(ctx, job, update.StepVerify, p.verifyURL, "reboot already sent")
	}
	if in.Status != cluster.StatusDraining || in.RunningTasks+in.PendingTasks > 0 {
		return p.undoer.Abort(ctx, job, update.StageDraining, update.Failed(update.CodeRebootFailed,
			fmt.Sprintf("instance is %s with %d running and %d pending tasks: not rebooting", in.Status, in.RunningTasks, in.PendingTasks)))
	}
	if err := p.ecs.PutAttributes(ctx, job.Cluster, in.ARN, p.lease.With(map[string]string{update.AttrStage: string(update.StageRebooting)})); err != nil {
		return fmt.Errorf("mark rebooting: %w", err)
	}
	id, err := p.sends.Send(ctx, doc, in.EC2InstanceID, comment)
	if err != nil {
		if ssmcommand.IsTransient(err) {
			return fmt.Errorf("send reboot: %w", err)
		}
		return p.undoer.Abort(ctx, job, update.StageDraining, update.Failed(update.CodeRebootFailed, err.Error()))
	}
	queue.Logger(ctx).Info().Str("command", id).Msg("reboot sent")
	return p.forward(ctx, job, update.StepVerify, p.verifyURL, "reboot sent ("+id+")")
}

// forward moves the job to its next step and queue.
func (p *patcher) forward(ctx context.Context, job *update.Job, next update.Step, url, note string) error {
	f := jobs.Forwarder{Sender: p.jobs, Events: p.ender.Events, Metrics: p.metrics, By: "patcher", Now: p.now}
	return f.Forward(ctx, job, next, url, note)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
