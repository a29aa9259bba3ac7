package drain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

// by is the name the drainer records in a job's history.
const by = "drainer"

// instances reads the cluster: one instance, its census (to count who is out of service), all
// of them (the free room, the health gate), the tasks on one (eligibility, capacity) and the
// services (capacity, health gate). *cluster.Client and clustertest.Fake satisfy it.
type instances interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
	Census(ctx context.Context, cluster string) (cluster.Census, error)
	ListInstances(ctx context.Context, cluster, status, filter string) ([]cluster.Instance, error)
	Tasks(ctx context.Context, cluster, instanceARN string) ([]cluster.Task, error)
	Services(ctx context.Context, cluster string, names []string) ([]cluster.Service, error)
}

// taskStopper stops a task (*cluster.Client): only for the standalone policy stop.
type taskStopper interface {
	StopTask(ctx context.Context, cluster, taskARN, reason string) error
}

// sender forwards a job to the next queue (*queue.Publisher).
type sender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

// pauses tells whether a cluster's rollout is paused (*pause.Cache). A read error means "not
// known", which is not "go".
type pauses interface {
	Paused(ctx context.Context, cluster string) (pause.Info, bool, error)
}

// timings are the drainer's own deadlines and intervals; what it decides by per cluster is in
// drainer.policies.
type timings struct {
	DrainTimeout   time.Duration
	Recheck        time.Duration
	AdmissionRetry time.Duration
	// AdmissionBackstop is how long a job held until it is woken (by an instance of its cluster
	// returning to service, or by the end of a pause) waits at most before it looks again.
	AdmissionBackstop time.Duration
	// WaitingThreshold is how long a job may wait for admission before the drainer warns about
	// it, and then how often it warns again (waiting.go).
	WaitingThreshold time.Duration
}

// maxWindowWait caps how long a job outside its maintenance window waits before it looks again,
// so that a window changed by a redeploy is noticed.
const maxWindowWait = 15 * time.Minute

// drainer handles jobs at step drain: eligibility, admission against the cluster's limit,
// DRAINING, and the wait until the instance runs no task; then it forwards the job to the
// patcher at step reboot. Failures before the reboot are undone by undo.
type drainer struct {
	// locks serialises copies of a job about the same instance (SQS delivers at least once).
	locks jobs.Locks
	// managed is the managed clusters: a job about any other goes to the dead-letter queue, and
	// the global limit counts exactly these.
	managed managedClusters
	ecs     instances
	marks   jobs.Marks
	state   jobs.StateSetter
	// lease renews the lease of the job at each look: while it waits for admission, and while
	// it waits for the drain.
	lease      *jobs.Leaser
	undo       *jobs.Undoer
	ender      *jobs.Ender
	forward    sender
	patcherURL string // the patcher's intake: rollback jobs
	rebootURL  string // the patcher's reboot lane, never behind staging (docs/decisions/lanes.md)
	wakeups    *wake.Registry
	// room holds the jobs held until an instance of their cluster returns to service or their
	// pause ends (park); their messages wait hidden in queueURL, revealed through visibility.
	room       *wake.Room
	visibility queue.VisibilityChanger
	queueURL   string
	policy     timings
	// policies are the per-cluster policies (shared/policy).
	policies policy.Set
	pauses   pauses
	// halts halts a cluster whose health gate failed.
	halts halter
	// events publishes "Instance Update Waiting" (*jobs.Ender).
	events jobs.WaitAnnouncer
	// stopper stops standalone tasks under the policy stop; nil under any other.
	stopper taskStopper
	metrics metrics.Recorder
	// alarms are the gate alarms (ROLLWAVE_ALARM_*), asked by the extra gate "alarm"; nil: none.
	alarms *alarmGates
	// promotion is the staged promotion (ROLLWAVE_STAGES), asked by the gate "promotion"; nil:
	// none. promotionEvents announces its halts.
	promotion       promotionState
	promotionEvents haltPublisher
	// extraGates are admission gates beyond rollwave's own, asked after the limits and before
	// the reads of tasks and services (gates); none by default.
	extraGates []gate
	// dryRun makes every job a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
	clock  clock.Clock // the waits' timers; nil is clock.Real
	// jitter returns a random extra delay for an admission back-off of d, so that drainers that
	// backed off together do not claim together again.
	jitter func(d time.Duration) time.Duration
}

// handle is the queue handler of the drainer queue.
func (d *drainer) handle(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := jobs.Receive(ctx, &d.locks, d.managed, m, d.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	if out, ok := jobs.AtStep(job, update.StepDrain, by); !ok {
		return out
	}
	drain := d.drain
	if job.DryRun {
		drain = d.rehearse
	}
	o, err := drain(ctx, &job, m.Receipt())
	return jobs.Outcome(ctx, o, err)
}

// drain does the job's step and returns the message's outcome; an error is transient (the
// message is retried, and every step below is safe to repeat). receipt is the message's, with
// which a job held until an event is woken (park).
func (d *drainer) drain(ctx context.Context, job *update.Job, receipt string) (queue.Outcome, error) {
	inst, err := jobs.Instance(ctx, d.ecs, job)
	if err != nil {
		return d.ender.EndIfGone(ctx, job, err)
	}

	owner := inst.Attributes[update.AttrJob]
	stage, err := update.ParseStage(inst.Attributes[update.AttrStage])
	if err != nil && owner == job.ID {
		return d.undo.Aborted(ctx, job, update.StageStaged, update.Failed(update.CodeDrainFailed, err.Error()))
	}
	if o := update.Owner(*job, owner, stage, inst.Attributes[update.AttrUpdatedBy]); !o.Owns {
		return d.ender.Ended(ctx, job, o.Outcome, jobs.LeaveMarks)
	}
	// Every look renews the lease when it is due, so that a job held back by a window, a pause
	// or the limit keeps its instance.
	if err := d.lease.Renew(ctx, job, inst); err != nil {
		return d.ender.EndIfGone(ctx, job, err)
	}

	admitted := ""
	var drainFrom time.Time
	switch stage {
	case update.StageDraining:
		// A redelivery after a crash: the drain was admitted and started before.
		queue.Logger(ctx).Info().Msg("instance already draining: resuming the wait")
	case update.StageStaged, update.StageAdmitting:
		v, err := d.admission(ctx, job, inst, stage)
		if err != nil {
			return d.ender.EndIfGone(ctx, job, err)
		}
		if !v.admits() {
			return d.notAdmitted(ctx, job, inst, v, receipt)
		}
		admitted = v.why
		drainFrom = d.now()
		note, err := d.endWait(ctx, job, inst)
		if err != nil {
			return d.ender.EndIfGone(ctx, job, err)
		}
		if note != "" {
			admitted += "; " + note
		}
		// Before the drain starts: a failed publish retries the admission, whose claim holds.
		if err := d.ender.Progressed(ctx, job, notify.DecisionAdmitted, "", admitted); err != nil {
			return queue.Outcome{}, fmt.Errorf("publish the admission: %w", err)
		}
	}

	// A redelivery finds the mark already written and must not write it again: by then the patcher
	// may have moved the instance on to rebooting, and writing draining over it would strand the
	// job between the two (seen in the e2e kill test).
	if stage != update.StageDraining {
		if err := d.marks.PutAttributes(ctx, job.Cluster, inst.ARN, d.lease.With(map[string]string{update.AttrStage: string(update.StageDraining)})); err != nil {
			return d.ender.EndIfGone(ctx, job, err)
		}
	}
	if inst.Status == cluster.StatusActive || stage != update.StageDraining {
		failures, err := d.state.SetState(ctx, job.Cluster, []string{inst.ARN}, cluster.StatusDraining)
		if err != nil {
			return d.ender.EndIfGone(ctx, job, err)
		}
		if reason, ok := failures[inst.ARN]; ok {
			return d.undo.Aborted(ctx, job, update.StageDraining, update.Failed(update.CodeDrainFailed, "ECS refused DRAINING: "+reason))
		}
	}
	return d.wait(ctx, job, admitted, drainFrom)
}

// wait holds the job until the instance runs no task, woken by ECS events and re-checking every
// Recheck, until the drain deadline: the drain timeout after the drain started, or after the job
// entered the drain step when the drain was started by an earlier delivery.
func (d *drainer) wait(ctx context.Context, job *update.Job, admitted string, drainFrom time.Time) (queue.Outcome, error) {
	from, ok := job.EnteredAt(update.StepDrain)
	if !ok || drainFrom.After(from) {
		from = drainFrom
	}
	if from.IsZero() {
		from = d.now()
	}
	rules := d.rules(job.Cluster)
	timeout := d.policy.DrainTimeout
	standalone, err := d.standaloneTasks(ctx, job, rules)
	if err != nil {
		return d.ender.EndIfGone(ctx, job, err)
	}
	if len(standalone) > 0 {
		// The standalone policy bounds the drain of an instance that runs standalone tasks:
		// wait up to its deadline for them to end; stop them after the grace, then give the
		// drain its usual time.
		switch rules.Standalone {
		case update.StandaloneWait:
			timeout = rules.StandaloneDeadline
		case update.StandaloneStop:
			timeout = rules.StandaloneGrace + d.policy.DrainTimeout
		}
	}
	deadline := from.Add(timeout)
	left, stopped := 0, false
	err = wake.Await(ctx, d.wakeups, job.ContainerInstanceARN, d.policy.Recheck, deadline, func(ctx context.Context) (bool, error) {
		inst, err := d.ecs.Instance(ctx, job.Cluster, job.ContainerInstanceARN)
		switch {
		case cluster.IsTransient(err):
			queue.Logger(ctx).Warn().Err(err).Msg("drain check failed; looking again later")
			return false, nil
		case err != nil:
			return false, err
		}
		if err := d.lease.Renew(ctx, job, inst); err != nil {
			queue.Logger(ctx).Warn().Err(err).Msg("lease not renewed; trying again at the next look")
		}
		left = inst.RunningTasks + inst.PendingTasks
		queue.Logger(ctx).Debug().Int("tasks", left).Msg("drain check")
		if left > 0 && !stopped && len(standalone) > 0 && rules.Standalone == update.StandaloneStop && !d.now().Before(from.Add(rules.StandaloneGrace)) {
			done, err := d.stopStandalone(ctx, job, rules)
			if err != nil {
				return false, err
			}
			stopped = done
		}
		return left == 0, nil
	})
	switch {
	case errors.Is(err, wake.ErrDeadline):
		if still, err := d.standaloneTasks(ctx, job, rules); err == nil && len(still) > 0 {
			return d.undo.Aborted(ctx, job, update.StageDraining, update.Skipped(update.CodeStandaloneTask,
				fmt.Sprintf("standalone tasks still run %s after the drain started (standalone policy %s): %s; the drain is undone and the instance back in service",
					timeout, rules.Standalone, strings.Join(still, ", "))))
		}
		return d.undo.Aborted(ctx, job, update.StageDraining, update.Failed(update.CodeDrainTimeout,
			fmt.Sprintf("%d tasks still on the instance %s after the drain started", left, timeout)))
	case err != nil:
		return d.ender.EndIfGone(ctx, job, err)
	}

	note := "drained"
	if admitted != "" {
		note = admitted + "; drained"
	}
	now := d.now()
	metrics.Record(d.metrics, metrics.Took(metrics.DrainDuration, now.Sub(from), now, map[string]string{metrics.Cluster: job.Cluster}))
	out, err := d.toReboot(ctx, job, note)
	if err == nil {
		queue.Logger(ctx).Info().Msg("drained; forwarded to the patcher for the reboot")
	}
	return out, err
}

// toReboot moves a drained job (or a rehearsed one) to the reboot step and sends it to the
// patcher's reboot lane (the reboot queue), where it never waits behind staging.
func (d *drainer) toReboot(ctx context.Context, job *update.Job, note string) (queue.Outcome, error) {
	f := jobs.Forwarder{Sender: d.forward, Events: d.ender.Events, Metrics: d.metrics, By: by, Now: d.now}
	if err := f.Forward(ctx, job, update.StepReboot, d.rebootURL, note); err != nil {
		return queue.Outcome{}, err
	}
	return queue.Done(), nil
}

// standaloneTasks names the tasks on the job's instance that no service started, under a
// standalone policy that drains such instances (wait, stop); nil under skip, which never drains
// them.
func (d *drainer) standaloneTasks(ctx context.Context, job *update.Job, rules policy.Policy) ([]string, error) {
	if rules.Standalone != update.StandaloneWait && rules.Standalone != update.StandaloneStop {
		return nil, nil
	}
	tasks, err := d.ecs.Tasks(ctx, job.Cluster, job.ContainerInstanceARN)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	var out []string
	for _, t := range update.Standalone(cluster.TaskViews(tasks)) {
		out = append(out, t.ARN)
	}
	return out, nil
}

// stopStandalone stops the standalone tasks still on the job's instance (policy stop, after
// the grace). done is false when a transient error left some running: the next check tries
// again.
func (d *drainer) stopStandalone(ctx context.Context, job *update.Job, rules policy.Policy) (done bool, err error) {
	if d.stopper == nil || rules.Standalone != update.StandaloneStop {
		return false, nil
	}
	arns, err := d.standaloneTasks(ctx, job, rules)
	if cluster.IsTransient(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	reason := fmt.Sprintf("rollwave job %s: standalone policy stop, grace %s over", job.ID, rules.StandaloneGrace)
	for _, arn := range arns {
		err := d.stopper.StopTask(ctx, job.Cluster, arn, reason)
		if cluster.IsTransient(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		queue.Logger(ctx).Warn().Str("task", arn).Msg("standalone task stopped: " + reason)
	}
	return true, nil
}
