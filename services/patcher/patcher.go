package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/version"
)

// ecsAPI is what the patcher needs of ECS.
type ecsAPI interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
	Tasks(ctx context.Context, cluster, instanceARN string) ([]cluster.Task, error)
	pipeline.Marks
	pipeline.StateSetter // to re-activate when the reboot cannot go ahead after the drain
	managed.Finder       // to resolve the managed clusters
}

// rebooter sends the reboot without waiting for it, and tells whether it was already sent.
type rebooter interface {
	Send(ctx context.Context, doc, instanceID, comment string) (string, error)
	Sent(ctx context.Context, instanceID, doc, comment string) (bool, error)
}

type jobSender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

type patcher struct {
	// locks serialises copies of a job about the same instance (SQS delivers at least once).
	locks pipeline.Locks
	// boundary is the managed clusters: a job about any other goes to the dead-letter queue.
	boundary pipeline.Boundary
	ecs      ecsAPI
	commands pipeline.Runner
	reboots  rebooter
	jobs     jobSender
	ender    *pipeline.Ender
	undoer   *pipeline.Undoer
	// lease rides on every stage the patcher writes: it takes the job's lease at accept.
	lease      *pipeline.Leaser
	drainerURL string
	verifyURL  string
	docs       map[ssmdoc.Kind]string
	apply      ssmcommand.Options
	quick      ssmcommand.Options
	// policies give each cluster's standalone policy (ROLLWAVE_CLUSTER_POLICIES over the default).
	policies policy.Set
	metrics  metrics.Recorder
	// dryRun makes every job a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if done, err := pipeline.Args("patcher", args, stdout); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "patcher")
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	drainerURL, err := cfg.QueueURL(ctx, sqsClient, topology.Drainer)
	if err != nil {
		return err
	}
	verifyURL, err := cfg.QueueURL(ctx, sqsClient, topology.Verifier)
	if err != nil {
		return err
	}
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "patcher")
	defer stopMetrics()
	events := notify.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBus)
	p := newPatcher(cfg, ecsClient, ssmClient, queue.NewPublisher(sqsClient), events, time.Now)
	p.drainerURL, p.verifyURL = drainerURL, verifyURL
	p.metrics, p.ender.Metrics = rec, rec
	if p.ender.Budget, err = budget.Load(getenv, sqsClient, drainerURL, events); err != nil {
		return err
	}
	w, err := cfg.NewWorker(ctx, sqsClient, topology.Patcher, cfg.Concurrency, p.handle, log, pipeline.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Str("version", version.String()).Bool("metrics", cfg.Metrics).Bool("dryRun", cfg.DryRun).Msg("patcher started")
	return pipeline.RunAll(ctx, w)
}

// ssmAPI is the SSM adapter: running documents and sending the reboot.
type ssmAPI interface {
	pipeline.Runner
	rebooter
}

func newPatcher(cfg config, e ecsAPI, s ssmAPI, jobs jobSender, events pipeline.Publisher, now func() time.Time) *patcher {
	docs := map[ssmdoc.Kind]string{}
	for _, k := range ssmdoc.Kinds {
		docs[k] = cfg.Doc(k)
	}
	quick := ssmcommand.Options{Wait: cfg.SSMTimeout, PollInterval: cfg.SSMPoll}
	ender := &pipeline.Ender{Marks: e, Events: events, By: "patcher", Now: now}
	return &patcher{
		boundary: managed.New(cfg.Managed, e),
		ecs:      e, commands: s, reboots: s, jobs: jobs, ender: ender,
		lease: cfg.Leaser(e, now),
		undoer: &pipeline.Undoer{State: e, Commands: s, CheckDoc: docs[ssmdoc.Check],
			CancelDoc: docs[ssmdoc.Cancel], SSM: quick, Ender: ender},
		docs:     docs,
		apply:    ssmcommand.Options{Wait: cfg.ApplyTimeout, PollInterval: cfg.SSMPoll},
		quick:    quick,
		policies: cfg.Policies,
		dryRun:   cfg.DryRun,
		now:      now,
	}
}

func (p *patcher) handle(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := pipeline.ReceiveJob(ctx, &p.locks, p.boundary, m, p.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	var err error
	switch {
	case job.Step == update.StepStage && job.DryRun:
		err = p.rehearseStage(ctx, &job)
	case job.Step == update.StepStage:
		err = p.stage(ctx, &job, m.FinalReceive)
	case job.Step == update.StepReboot && job.DryRun:
		err = p.rehearseReboot(ctx, &job)
	case job.Step == update.StepReboot:
		err = p.reboot(ctx, &job)
	default:
		return queue.Poison(fmt.Sprintf("job %s is at step %q, which is not the patcher's (stage, reboot)", job.ID, job.Step))
	}
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
	in, err = pipeline.JobInstance(ctx, p.ecs, job)
	switch {
	case errors.Is(err, cluster.ErrInstanceNotFound), errors.Is(err, cluster.ErrClusterNotFound), errors.Is(err, cluster.ErrInvalid):
		return in, "", false, p.ender.End(ctx, job, update.Skipped(update.CodeInstanceGone, err.Error()), pipeline.LeaveMarks)
	case err != nil:
		return in, "", false, fmt.Errorf("look up instance: %w", err)
	}
	job.EC2InstanceID = in.EC2InstanceID
	owner := in.Attributes[update.AttrJob]
	stage, _ = update.ParseStage(in.Attributes[update.AttrStage]) // an unknown stage is StageNone
	if owner == "" {
		stage = update.StageNone
	}
	if o := update.Owner(*job, owner, stage); !o.Owns {
		return in, "", false, p.ender.End(ctx, job, o.Outcome, pipeline.LeaveMarks)
	}
	return in, stage, true, nil
}

// stage accepts a job and stages its update while the instance serves traffic. final says that
// this is the message's last receive: an SSM failure it would retry ends the job instead.
func (p *patcher) stage(ctx context.Context, job *update.Job, final bool) error {
	in, stage, ok, err := p.owner(ctx, job)
	if !ok || err != nil {
		return err
	}
	log := queue.Logger(ctx)
	switch stage {
	case update.StageNone:
		if o, out := optedOut(in); out {
			return p.ender.End(ctx, job, o, pipeline.LeaveMarks)
		}
		if in.Status != cluster.StatusActive {
			return p.ender.End(ctx, job, update.Skipped(update.CodeDrainedByOther,
				fmt.Sprintf("instance is %s and rollwave did not drain it: left alone", in.Status)), pipeline.LeaveMarks)
		}
	case update.StageStaging:
		// A redelivery after a crash while staging: stage again (apply is idempotent from Staged).
	case update.StageStaged:
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
	if ok, why := update.Eligible(taskViews(tasks), p.policies.For(job.Cluster).Standalone); !ok {
		marking := pipeline.LeaveMarks
		if stage != update.StageNone {
			marking = pipeline.Unmark
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
			return p.ender.End(ctx, job, update.Failed(update.CodeStagingFailed, "cannot mark the instance: "+err.Error()), pipeline.LeaveMarks)
		}
		return fmt.Errorf("mark instance: %w", err)
	}
	if job.LockVersion {
		// A rollback: pin the host to the target first, so that Bottlerocket offers it even
		// though it is older than the running version. The lock stays set after the job.
		lock := p.quick
		lock.Parameters = map[string][]string{ssmdoc.LockParam: {job.TargetVersion}}
		log.Info().Str("version", job.TargetVersion).Msg("locking the host's version")
		if err := pipeline.RunOne(ctx, p.commands, p.docs[ssmdoc.Lock], in.EC2InstanceID, lock); err != nil {
			return p.failStaging(ctx, job, fmt.Errorf("lock version %s: %w", job.TargetVersion, err), final)
		}
	}
	st, err := pipeline.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick)
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
		if err := pipeline.RunOne(ctx, p.commands, p.docs[ssmdoc.Apply], in.EC2InstanceID, p.apply); err != nil {
			return p.failStaging(ctx, job, err, final)
		}
		if st, err = pipeline.Check(ctx, p.commands, p.docs[ssmdoc.Check], in.EC2InstanceID, p.quick); err != nil {
			return p.failStaging(ctx, job, err, final)
		}
	}
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
	if err := p.ecs.PutAttributes(ctx, job.Cluster, in.ARN, p.lease.With(map[string]string{update.AttrStage: string(update.StageStaged)})); err != nil {
		return fmt.Errorf("mark staged: %w", err)
	}
	return p.forward(ctx, job, update.StepDrain, p.drainerURL, "staged "+job.StagedVersion)
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
	comment := update.RebootComment(job.ID)
	sent, err := p.reboots.Sent(ctx, in.EC2InstanceID, doc, comment)
	if err != nil {
		return fmt.Errorf("look for an earlier reboot: %w", err)
	}
	if sent {
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
	id, err := p.reboots.Send(ctx, doc, in.EC2InstanceID, comment)
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
	pipeline.RecordStep(p.metrics, *job, p.now())
	if err := job.Advance(next, "patcher", note, p.now()); err != nil {
		return err
	}
	body, err := update.Encode(*job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if _, err := p.jobs.Send(ctx, url, body, 0, nil); err != nil {
		return fmt.Errorf("forward job to %s: %w", next, err)
	}
	return nil
}

func taskViews(tasks []cluster.Task) []update.TaskView {
	out := make([]update.TaskView, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, update.TaskView{ARN: t.ARN, StartedBy: t.StartedBy, Group: t.Group, LastStatus: t.LastStatus})
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
