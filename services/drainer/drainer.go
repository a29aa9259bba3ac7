package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// by is the name the drainer records in a job's history.
const by = "drainer"

// instances reads the cluster: one instance, all of them (to count who is out of service and
// the free room), the tasks on one (eligibility, capacity) and the services (capacity, health
// gate). *cluster.Client and clustertest.Fake satisfy it.
type instances interface {
	Instance(ctx context.Context, cluster, idOrARN string) (cluster.Instance, error)
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
	locks pipeline.Locks
	// managed is the managed clusters: a job about any other goes to the dead-letter queue, and
	// the global limit counts exactly these.
	managed managedClusters
	ecs     instances
	marks   pipeline.Marks
	state   pipeline.StateSetter
	// lease renews the lease of the job at each look: while it waits for admission, and while
	// it waits for the drain.
	lease      *pipeline.Leaser
	undo       *pipeline.Undoer
	ender      *pipeline.Ender
	forward    sender
	patcherURL string
	wakeups    *pipeline.Wakeups
	policy     timings
	// policies are the per-cluster policies (shared/policy).
	policies policy.Set
	pauses   pauses
	// halts halts a cluster whose health gate failed.
	halts halter
	// events publishes "Instance Update Waiting" (*pipeline.Ender).
	events waitAnnouncer
	// stopper stops standalone tasks under the policy stop; nil under any other.
	stopper taskStopper
	metrics metrics.Recorder
	// dryRun makes every job a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
	// jitter returns a random extra delay for an admission back-off of d, so that drainers that
	// backed off together do not claim together again.
	jitter func(d time.Duration) time.Duration
}

// handle is the queue handler of the drainer queue.
func (d *drainer) handle(ctx context.Context, m queue.Message) queue.Outcome {
	job, unlock, out, ok := pipeline.ReceiveJob(ctx, &d.locks, d.managed, m, d.dryRun)
	if !ok {
		return out
	}
	defer unlock()
	if job.Step != update.StepDrain || job.Outcome != nil {
		return queue.Poison(fmt.Sprintf("job %s is at step %q (ended: %t) on the drainer's queue, which takes jobs at step %q",
			job.ID, job.Step, job.Outcome != nil, update.StepDrain))
	}
	drain := d.drain
	if job.DryRun {
		drain = d.rehearse
	}
	o, err := drain(ctx, &job)
	if err != nil {
		if ctx.Err() != nil {
			return queue.Retry(ctx.Err())
		}
		return queue.Retry(err)
	}
	return o
}

// drain does the job's step and returns the message's outcome; an error is transient (the
// message is retried, and every step below is safe to repeat).
func (d *drainer) drain(ctx context.Context, job *update.Job) (queue.Outcome, error) {
	inst, err := pipeline.JobInstance(ctx, d.ecs, job)
	if err != nil {
		return d.endIfGone(ctx, job, err)
	}

	owner := inst.Attributes[update.AttrJob]
	stage, err := update.ParseStage(inst.Attributes[update.AttrStage])
	if err != nil && owner == job.ID {
		return d.abort(ctx, job, update.StageStaged, update.Failed(update.CodeDrainFailed, err.Error()))
	}
	if o := update.Owner(*job, owner, stage); !o.Owns {
		return d.end(ctx, job, o.Outcome, pipeline.LeaveMarks)
	}
	// Every look renews the lease when it is due, so that a job held back by a window, a pause
	// or the limit keeps its instance.
	if err := d.lease.Renew(ctx, job, inst); err != nil {
		return d.endIfGone(ctx, job, err)
	}

	admitted := ""
	var drainFrom time.Time
	switch stage {
	case update.StageDraining:
		// A redelivery after a crash: the drain was admitted and started before.
		queue.Logger(ctx).Info().Msg("instance already draining: resuming the wait")
	case update.StageStaged, update.StageAdmitting:
		// A rollback (lockVersion) is how a halted cluster recovers: the pause does not hold it.
		if !job.LockVersion {
			if o, paused, err := d.checkPause(ctx, job, inst, stage); paused || err != nil {
				return o, err
			}
		}
		o, reason, proceed, err := d.admit(ctx, job, inst, stage)
		if err != nil || !proceed {
			return o, err
		}
		admitted = reason
		drainFrom = d.now()
		note, err := d.endWait(ctx, job, inst)
		if err != nil {
			return d.endIfGone(ctx, job, err)
		}
		if note != "" {
			admitted += "; " + note
		}
	}

	// A redelivery finds the mark already written and must not write it again: by then the patcher
	// may have moved the instance on to rebooting, and writing draining over it would strand the
	// job between the two (seen in the e2e kill test).
	if stage != update.StageDraining {
		if err := d.marks.PutAttributes(ctx, job.Cluster, inst.ARN, d.lease.With(map[string]string{update.AttrStage: string(update.StageDraining)})); err != nil {
			return d.endIfGone(ctx, job, err)
		}
	}
	if inst.Status == cluster.StatusActive || stage != update.StageDraining {
		failures, err := d.state.SetState(ctx, job.Cluster, []string{inst.ARN}, cluster.StatusDraining)
		if err != nil {
			return d.endIfGone(ctx, job, err)
		}
		if reason, ok := failures[inst.ARN]; ok {
			return d.abort(ctx, job, update.StageDraining, update.Failed(update.CodeDrainFailed, "ECS refused DRAINING: "+reason))
		}
	}
	return d.wait(ctx, job, admitted, drainFrom)
}

// admit runs the claim-then-check admission. proceed is true when the drain may start; otherwise
// o is the message's outcome (a back-off, or the job ended).
func (d *drainer) admit(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage) (o queue.Outcome, reason string, proceed bool, err error) {
	rules := d.rules(job.Cluster)
	if job.LockVersion {
		// A rollback does not wait for the window, nor for the gate that it answers.
		rules.Window, rules.HealthGate = update.Window{}, false
	}
	if now := d.now(); !rules.Window.Open(now) {
		next := rules.Window.NextOpen(now)
		// Look again at least every quarter lease, each look renewing it.
		wait := min(next.Sub(now), maxWindowWait, update.MaxLeaseGap(d.lease.Duration))
		o, err := d.hold(ctx, job, inst, stage, update.WaitWindow, max(wait, time.Second),
			fmt.Sprintf("cluster %s: outside the maintenance window %q; it opens at %s", job.Cluster, rules.Window, next.Format(time.RFC3339)))
		return o, "", false, err
	}
	tasks, err := d.ecs.Tasks(ctx, job.Cluster, inst.ARN)
	if err != nil {
		o, err := d.endIfGone(ctx, job, err)
		return o, "", false, err
	}
	views := make([]update.TaskView, 0, len(tasks))
	for _, t := range tasks {
		views = append(views, update.TaskView{ARN: t.ARN, StartedBy: t.StartedBy, Group: t.Group, LastStatus: t.LastStatus})
	}
	if ok, why := update.Eligible(views, rules.Standalone); !ok {
		o, err := d.abort(ctx, job, stage, why)
		return o, "", false, err
	}
	raw, err := d.ecs.ListInstances(ctx, job.Cluster, "", "")
	if err != nil {
		o, err := d.endIfGone(ctx, job, err)
		return o, "", false, err
	}
	if reason, why, err := d.gates(ctx, job, rules, inst, tasks, raw); err != nil || why != "" {
		if err != nil {
			o, err := d.endIfGone(ctx, job, err)
			return o, "", false, err
		}
		o, err := d.hold(ctx, job, inst, stage, reason, d.policy.AdmissionRetry+d.jitter(d.policy.AdmissionRetry), why)
		return o, "", false, err
	}
	all := d.views(job.Cluster, raw)
	dec := update.CanClaim(job.Cluster, rules.MaxOutOfService, all, job.ID)
	if !dec.Proceed() {
		o, err := d.notAdmitted(ctx, job, inst, stage, update.WaitClusterLimit, dec)
		return o, "", false, err
	}
	if err := d.marks.PutAttributes(ctx, job.Cluster, inst.ARN, map[string]string{update.AttrStage: string(update.StageAdmitting)}); err != nil {
		o, err := d.endIfGone(ctx, job, err)
		return o, "", false, err
	}
	all, err = d.cluster(ctx, job.Cluster)
	if err != nil {
		o, err := d.endIfGone(ctx, job, err)
		return o, "", false, err
	}
	dec = update.Admit(job.Cluster, rules.MaxOutOfService, all, job.ID)
	if !dec.Proceed() {
		o, err := d.notAdmitted(ctx, job, inst, update.StageAdmitting, update.WaitClusterLimit, dec)
		return o, "", false, err
	}
	if ok, why, err := d.withinGlobalLimit(ctx, job.Cluster, all); err != nil || !ok {
		if err != nil {
			o, err := d.endIfGone(ctx, job, err)
			return o, "", false, err
		}
		o, err := d.notAdmitted(ctx, job, inst, update.StageAdmitting, update.WaitGlobalLimit, update.Decision{Action: update.BackOff, Reason: why})
		return o, "", false, err
	}
	queue.Logger(ctx).Info().Int("outOfService", dec.OutOfService).Int("max", dec.Max).Msg("admitted: " + dec.Reason)
	return queue.Outcome{}, dec.Reason, true, nil
}

// notAdmitted acts on a decision that is not Proceed: a back-off holds the job for reason (the
// limit that was reached); a refusal ends the job, undoing what it did so far.
func (d *drainer) notAdmitted(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage, reason update.WaitReason, dec update.Decision) (queue.Outcome, error) {
	if dec.Action == update.Refuse {
		return d.abort(ctx, job, stage, dec.Outcome)
	}
	return d.hold(ctx, job, inst, stage, reason, d.policy.AdmissionRetry+d.jitter(d.policy.AdmissionRetry), dec.Reason)
}

// rules returns the policy of cluster.
func (d *drainer) rules(cluster string) policy.Policy {
	p := d.policies.For(cluster)
	if p.MaxOutOfService == (update.Limit{}) {
		p.MaxOutOfService = update.DefaultLimit
	}
	return p
}

// hold makes a job that may not drain now, for reason, look again after delay: it withdraws the
// job's claim if one was written (stage admitting, by this delivery or a crashed one), records
// the wait on the instance and warns about a long one (noteWait), in one write of the
// instance's attributes. why is logged and becomes the queue's retry reason.
func (d *drainer) hold(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage, reason update.WaitReason, delay time.Duration, why string) (queue.Outcome, error) {
	attrs := map[string]string{}
	if stage == update.StageAdmitting {
		attrs[update.AttrStage] = string(update.StageStaged)
	}
	delay = d.noteWait(ctx, job, inst, reason, why, delay, attrs)
	if len(attrs) > 0 {
		if err := d.marks.PutAttributes(ctx, job.Cluster, inst.ARN, attrs); err != nil {
			return d.endIfGone(ctx, job, err)
		}
	}
	queue.Logger(ctx).Info().Str("reason", string(reason)).Dur("retryIn", delay).Msg("not admitted: " + why)
	return queue.RetryAfter(delay, why), nil
}

// gates runs the health gate and the capacity check of the cluster's policy before a drain of
// inst, which runs tasks. It returns why the drain must wait, as a reason code and for people,
// or "" when it may go on.
func (d *drainer) gates(ctx context.Context, job *update.Job, rules policy.Policy, inst cluster.Instance, tasks []cluster.Task, all []cluster.Instance) (update.WaitReason, string, error) {
	if !rules.HealthGate && !rules.CheckCapacity {
		return "", "", nil
	}
	name := job.Cluster
	services, err := d.ecs.Services(ctx, name, nil)
	if err != nil {
		return "", "", err
	}
	if rules.HealthGate {
		if reason, why, err := d.healthGate(ctx, job, rules, services, all); err != nil || why != "" {
			return reason, why, err
		}
	}
	if !rules.CheckCapacity {
		return "", "", nil
	}
	if ok, why := update.CanHost(loads(services, tasks), hosts(all, inst.ARN)); !ok {
		return update.WaitCapacity, fmt.Sprintf("cluster %s: capacity: %s", name, why), nil
	}
	return "", "", nil
}

// loads returns the services with RUNNING tasks among tasks, with their counts.
func loads(services []cluster.Service, tasks []cluster.Task) []update.ServiceLoad {
	byName := map[string]cluster.Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	idx := map[string]int{}
	var out []update.ServiceLoad
	for _, t := range tasks {
		name, ok := strings.CutPrefix(t.Group, "service:")
		if !ok || !strings.HasPrefix(t.StartedBy, "ecs-svc/") || t.LastStatus != "RUNNING" {
			continue
		}
		s, known := byName[name]
		if !known {
			continue // a daemon service's or a vanished service's task: nothing to re-place
		}
		i, seen := idx[name]
		if !seen {
			i = len(out)
			idx[name] = i
			out = append(out, update.ServiceLoad{Name: name, Desired: s.Desired, Running: s.Running,
				MinHealthyPercent: s.MinHealthyPercent, MaxPercent: s.MaxPercent})
		}
		out[i].OnInstance++
		out[i].TaskCPU = max(out[i].TaskCPU, t.CPU)
		out[i].TaskMemory = max(out[i].TaskMemory, t.Memory)
	}
	return out
}

// hosts returns the free room of the instances that can take replacements: those in service as
// the limit counts them (update.InstanceView.OutOfService: ACTIVE, agent connected, not claimed
// by rollwave; a failed instance returned to service is one), but not the one about to drain.
func hosts(all []cluster.Instance, draining string) []update.Host {
	var out []update.Host
	for _, in := range all {
		if in.ARN == draining || view(in).OutOfService() {
			continue
		}
		name := in.EC2InstanceID
		if name == "" {
			name = in.ARN
		}
		out = append(out, update.Host{Name: name, CPU: in.RemainingCPU, Memory: in.RemainingMemory})
	}
	return out
}

// withinGlobalLimit counts the instances out of service in every managed cluster, each once, by
// the rule of the cluster limit (update.InstanceView.OutOfService: whoever took them out, parked
// failed instances included), against the global limit; this cluster's from all, already read
// with the job's claim.
func (d *drainer) withinGlobalLimit(ctx context.Context, name string, all []update.InstanceView) (bool, string, error) {
	if d.policies.GlobalMaxOutOfService <= 0 {
		return true, "", nil
	}
	out := 0
	for _, v := range all {
		if v.OutOfService() {
			out++
		}
	}
	clusters, err := d.managed.Clusters(ctx)
	if err != nil {
		return false, "", err
	}
	for _, other := range clusters {
		if other.Is(name) {
			continue
		}
		ref := other.ARN
		if ref == "" {
			ref = other.Name
		}
		ins, err := d.ecs.ListInstances(ctx, ref, "", "")
		if errors.Is(err, cluster.ErrClusterNotFound) {
			continue
		}
		if err != nil {
			return false, "", fmt.Errorf("count out of service in %s: %w", other.Name, err)
		}
		for _, in := range ins {
			if view(in).OutOfService() {
				out++
			}
		}
	}
	ok, why := update.WithinGlobalLimit(d.policies.GlobalMaxOutOfService, out)
	return ok, why, nil
}

// managedClusters is the trust boundary and the clusters the global limit counts (*managed.Set).
type managedClusters interface {
	pipeline.Boundary
	Clusters(ctx context.Context) ([]managed.Cluster, error)
}

// checkPause holds a job whose cluster is paused before it is admitted: its own claim, if a
// crashed delivery left one, is withdrawn, and the job looks again after the admission retry.
// A pause state that cannot be read holds the job too: a pause exists to stop drains, so not
// knowing is not "go". Jobs past admission never come here: they finish.
func (d *drainer) checkPause(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage) (queue.Outcome, bool, error) {
	if d.pauses == nil {
		return queue.Outcome{}, false, nil
	}
	info, paused, err := d.pauses.Paused(ctx, job.Cluster)
	reason, why := update.WaitPaused, info.String()
	switch {
	case err != nil:
		reason, why = update.WaitPauseUnknown, "pause state unknown: "+err.Error()
	case !paused:
		return queue.Outcome{}, false, nil
	case info.Who == budget.HaltedBy || info.Who == gateHaltedBy:
		reason = update.WaitHalted
	}
	o, err := d.hold(ctx, job, inst, stage, reason, d.policy.AdmissionRetry+d.jitter(d.policy.AdmissionRetry), why)
	return o, true, err
}

// cluster reads every instance of the cluster for admission.
func (d *drainer) cluster(ctx context.Context, name string) ([]update.InstanceView, error) {
	all, err := d.ecs.ListInstances(ctx, name, "", "")
	if err != nil {
		return nil, err
	}
	return d.views(name, all), nil
}

// views maps the instances of cluster name for admission and records its out-of-service gauge.
func (d *drainer) views(name string, all []cluster.Instance) []update.InstanceView {
	views := make([]update.InstanceView, 0, len(all))
	out := 0
	for _, in := range all {
		v := view(in)
		if v.OutOfService() {
			out++
		}
		views = append(views, v)
	}
	d.record(metrics.Gauge(metrics.InstancesOutOfService, float64(out), d.now(), map[string]string{metrics.Cluster: name}))
	return views
}

// view is what admission, the capacity check and the global limit know of one instance. An
// unknown stage counts by status and agent only.
func view(in cluster.Instance) update.InstanceView {
	stage, _ := update.ParseStage(in.Attributes[update.AttrStage])
	return update.InstanceView{
		ARN: in.ARN, EC2InstanceID: in.EC2InstanceID, Status: in.Status, AgentConnected: in.AgentConnected,
		Job: in.Attributes[update.AttrJob], Stage: stage,
	}
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
		return d.endIfGone(ctx, job, err)
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
	err = pipeline.Await(ctx, d.wakeups, job.ContainerInstanceARN, d.policy.Recheck, deadline, func(ctx context.Context) (bool, error) {
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
	case errors.Is(err, pipeline.ErrDeadline):
		if still, err := d.standaloneTasks(ctx, job, rules); err == nil && len(still) > 0 {
			return d.abort(ctx, job, update.StageDraining, update.Skipped(update.CodeStandaloneTask,
				fmt.Sprintf("standalone tasks still run %s after the drain started (standalone policy %s): %s; the drain is undone and the instance back in service",
					timeout, rules.Standalone, strings.Join(still, ", "))))
		}
		return d.abort(ctx, job, update.StageDraining, update.Failed(update.CodeDrainTimeout,
			fmt.Sprintf("%d tasks still on the instance %s after the drain started", left, timeout)))
	case err != nil:
		return d.endIfGone(ctx, job, err)
	}

	note := "drained"
	if admitted != "" {
		note = admitted + "; drained"
	}
	now := d.now()
	d.record(metrics.Took(metrics.DrainDuration, now.Sub(from), now, map[string]string{metrics.Cluster: job.Cluster}))
	out, err := d.toReboot(ctx, job, note)
	if err == nil {
		queue.Logger(ctx).Info().Msg("drained; forwarded to the patcher for the reboot")
	}
	return out, err
}

// toReboot moves a drained job (or a rehearsed one) to the reboot step and sends it to the
// patcher.
func (d *drainer) toReboot(ctx context.Context, job *update.Job, note string) (queue.Outcome, error) {
	pipeline.RecordStep(d.metrics, *job, d.now())
	if err := job.Advance(update.StepReboot, by, note, d.now()); err != nil {
		return queue.Poison(err.Error()), nil
	}
	body, err := update.Encode(*job)
	if err != nil {
		return queue.Poison(err.Error()), nil
	}
	if _, err := d.forward.Send(ctx, d.patcherURL, body, 0, nil); err != nil {
		return queue.Outcome{}, fmt.Errorf("forward job to the patcher: %w", err)
	}
	return queue.Done(), nil
}

// record records ds when the drainer has a Recorder.
func (d *drainer) record(ds ...metrics.Datum) {
	if d.metrics != nil {
		d.metrics.Record(ds...)
	}
}

// abort ends a job that fails before its reboot, undoing what it did up to stage.
func (d *drainer) abort(ctx context.Context, job *update.Job, stage update.Stage, o update.Outcome) (queue.Outcome, error) {
	if err := d.undo.Abort(ctx, job, stage, o); err != nil {
		return d.endIfGone(ctx, job, err)
	}
	return queue.Done(), nil
}

// end ends the job with o.
func (d *drainer) end(ctx context.Context, job *update.Job, o update.Outcome, m pipeline.Marking) (queue.Outcome, error) {
	if err := d.ender.End(ctx, job, o, m); err != nil {
		return queue.Outcome{}, fmt.Errorf("end job: %w", err)
	}
	return queue.Done(), nil
}

// endIfGone ends the job when err says that its instance or cluster is gone, a permanent
// condition; any other error is returned for a retry.
func (d *drainer) endIfGone(ctx context.Context, job *update.Job, err error) (queue.Outcome, error) {
	switch {
	case ctx.Err() != nil:
		return queue.Outcome{}, ctx.Err()
	case errors.Is(err, cluster.ErrInstanceNotFound):
		return d.end(ctx, job, update.Skipped(update.CodeInstanceGone, "the instance is no longer registered: "+err.Error()), pipeline.LeaveMarks)
	case errors.Is(err, cluster.ErrClusterNotFound):
		return d.end(ctx, job, update.Skipped(update.CodeInstanceGone, "the cluster does not exist: "+err.Error()), pipeline.LeaveMarks)
	case errors.Is(err, ssmcommand.ErrInvalidInstance):
		// The undo could not reach the host to cancel its update: it is not managed by SSM
		// any more (terminated).
		return d.end(ctx, job, update.Skipped(update.CodeInstanceGone, "SSM no longer manages the instance: "+err.Error()), pipeline.LeaveMarks)
	}
	return queue.Outcome{}, err
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
	for _, t := range tasks {
		v := update.TaskView{ARN: t.ARN, StartedBy: t.StartedBy, Group: t.Group, LastStatus: t.LastStatus}
		if t.LastStatus != "STOPPED" && !v.ServiceOwned() {
			out = append(out, t.ARN)
		}
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
