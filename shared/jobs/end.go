package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// Marks is what ending a job needs of the ECS adapter.
type Marks interface {
	PutAttributes(ctx context.Context, cluster, arn string, attrs map[string]string) error
	DeleteAttributes(ctx context.Context, cluster, arn string, names ...string) error
}

// Publisher publishes pipeline events (notify.Publisher).
type Publisher interface {
	Publish(ctx context.Context, detailType string, detail any, resources ...string) error
}

// Marking says what ending a job does to the instance's rollwave attributes.
type Marking int

const (
	// Unmark removes rollwave.job, rollwave.stage, rollwave.lease, rollwave.failure and
	// rollwave.waiting: the instance is rollwave's no more.
	Unmark Marking = iota
	// MarkFailed sets rollwave.stage=failed and rollwave.failure=<code> and removes
	// rollwave.lease: the instance stays as it is (out of service) for a person to look at, and
	// no reclaim takes it from them.
	MarkFailed
	// LeaveMarks changes nothing: the marks are not this job's (a duplicate) or there are none.
	LeaveMarks
)

// Ender ends jobs: it sets the instance's attributes, publishes the pipeline event, records the
// JobsSucceeded/Failed/Skipped and StepDuration metrics and logs the outcome line. Ending is
// idempotent, so a redelivered message may end a job again (and count it again: metrics are
// recorded only once everything else succeeded, so a retried End counts once).
type Ender struct {
	Marks   Marks
	Events  Publisher
	Metrics metrics.Recorder // nil records nothing
	// Budget counts failed jobs against their cluster's error budget (*budget.Budget), which
	// halts the cluster when it is spent; nil counts nothing.
	Budget FailureRecorder
	By     string // the worker, e.g. "verifier"
	Now    func() time.Time
}

// FailureRecorder is told of every job that ends (*budget.Budget): it decides what counts. An
// error is transient, and recording the same ending again must count it once.
type FailureRecorder interface {
	Record(ctx context.Context, job update.Job, o update.Outcome) error
}

// End records o as the job's outcome: it publishes the event, tells the error budget, then sets
// the instance's attributes as m says. An error is transient: the caller retries the message,
// and ending again is harmless (the event may go out twice; the budget counts an ending once).
//
// An outcome of a job that does not own its instance (o.Ignored: not-owner, stale-job, from
// update.Owner) is only logged and counted in JobsIgnored, whatever m says: it changes no
// attribute, publishes no event and never reaches the error budget, because only the job that
// owns an instance may fail it.
func (e *Ender) End(ctx context.Context, job *update.Job, o update.Outcome, m Marking) error {
	if o.Ignored() {
		e.ignore(ctx, *job, o)
		return nil
	}
	job.Finish(o, e.By, e.Now())
	detailType := map[update.Result]string{
		update.ResultUpdated: notify.InstanceUpdateSucceeded,
		update.ResultFailed:  notify.InstanceUpdateFailed,
	}[o.Result]
	if detailType == "" {
		detailType = notify.InstanceUpdateSkipped
	}
	var resources []string
	if job.ContainerInstanceARN != "" {
		resources = append(resources, job.ContainerInstanceARN)
	}
	to := job.TargetVersion
	if o.Result == update.ResultUpdated {
		to = job.StagedVersion
	}
	d := jobDetail(ctx, *job, e.Now())
	d.Outcome, d.Reason, d.Message, d.ToVersion = string(o.Result), string(o.Code), o.Message, to
	if err := e.Events.Publish(ctx, detailType, d, resources...); err != nil {
		return err
	}
	if e.Budget != nil {
		if err := e.Budget.Record(ctx, *job, o); err != nil {
			return fmt.Errorf("count against the error budget: %w", err)
		}
	}
	// The marks change last: until then the job owns its instance, so a retry after any failure
	// above (the event, the budget) ends the job again. Unmarked first, a retry found the
	// instance without the job's mark and ended as a stale copy, its event never published.
	if job.ContainerInstanceARN != "" {
		switch m {
		case Unmark:
			if err := e.Marks.DeleteAttributes(ctx, job.Cluster, job.ContainerInstanceARN, update.AttrJob, update.AttrStage, update.AttrLease, update.AttrFailure, update.AttrWaiting); err != nil {
				return fmt.Errorf("unmark instance: %w", err)
			}
		case MarkFailed:
			if err := e.Marks.PutAttributes(ctx, job.Cluster, job.ContainerInstanceARN, map[string]string{
				update.AttrStage: string(update.StageFailed), update.AttrFailure: string(o.Code),
			}); err != nil {
				return fmt.Errorf("mark instance failed: %w", err)
			}
			if err := e.Marks.DeleteAttributes(ctx, job.Cluster, job.ContainerInstanceARN, update.AttrLease); err != nil {
				return fmt.Errorf("drop the lease of a failed instance: %w", err)
			}
		}
	}
	RecordEnd(e.Metrics, *job, o, e.Now())
	l := queue.Logger(ctx)
	ev := l.Info()
	if o.Result == update.ResultFailed {
		ev = l.Warn()
	}
	ev.Str("step", string(job.Step)).Str("result", string(o.Result)).Str("reason", string(o.Code)).Str("detail", o.Message).
		Str("from_version", job.FromVersion).Str("target_version", job.TargetVersion).Msg("job ended")
	return nil
}

// ignore logs and counts a job message that did not own its instance.
func (e *Ender) ignore(ctx context.Context, job update.Job, o update.Outcome) {
	now := e.Now()
	metrics.Record(e.Metrics,
		metrics.Counted(metrics.JobsIgnored, now, map[string]string{
			metrics.Cluster: job.Cluster, metrics.Step: string(job.Step), metrics.Reason: string(o.Code),
		}),
		metrics.Counted(metrics.JobsIgnored, now, nil),
	)
	queue.Logger(ctx).Warn().Str("step", string(job.Step)).Str("reason", string(o.Code)).Str("detail", o.Message).
		Msg("job ignored")
}

// Started publishes "Instance Update Started" for a job the patcher accepts. Call it before the
// instance is marked, so that the event is never lost: a retry after a failure between the two
// publishes it again (consumers key on the job ID). Count the job with CountStarted once the mark
// is made, so that such a retry does not count it twice.
func (e *Ender) Started(ctx context.Context, job *update.Job) error {
	var resources []string
	if job.ContainerInstanceARN != "" {
		resources = append(resources, job.ContainerInstanceARN)
	}
	return e.Events.Publish(ctx, notify.InstanceUpdateStarted, jobDetail(ctx, *job, e.Now()), resources...)
}

// CountStarted counts a job the patcher accepted in JobsStarted. Call it once per job, when
// the step that starts it can no longer be repeated: for a real job once its instance is marked.
func (e *Ender) CountStarted(job update.Job) {
	metrics.Record(e.Metrics, metrics.Counted(metrics.JobsStarted, e.Now(), map[string]string{metrics.Cluster: job.Cluster}))
}

// jobDetail is the detail of an Instance Update event about job, without an outcome, with the
// receive count of the message handled in ctx.
func jobDetail(ctx context.Context, job update.Job, now time.Time) notify.JobDetail {
	return notify.JobDetail{
		JobID: job.ID, Cluster: job.Cluster, Instance: job.Instance,
		ContainerInstanceARN: job.ContainerInstanceARN, EC2InstanceID: job.EC2InstanceID,
		FromVersion: job.FromVersion, ToVersion: job.TargetVersion, RequestedBy: job.RequestedBy,
		Step: string(job.Step), Receives: queue.Receives(ctx), DryRun: job.DryRun, At: now.UTC(),
	}
}

// resourcesOf is the resources of an event about job: its container instance ARN once known.
func resourcesOf(job update.Job) []string {
	if job.ContainerInstanceARN == "" {
		return nil
	}
	return []string{job.ContainerInstanceARN}
}

// Progressed publishes "Instance Update Progressed" for a decision (notify.Decision*) about job
// at its current step: reason is a code (a wait reason for held), message says it for people.
// An error is the caller's to retry; a retry may publish the decision again.
func (e *Ender) Progressed(ctx context.Context, job *update.Job, decision, reason, message string) error {
	return progressed(ctx, e.Events, *job, decision, reason, message, e.Now())
}

func progressed(ctx context.Context, events Publisher, job update.Job, decision, reason, message string, now time.Time) error {
	d := jobDetail(ctx, job, now)
	d.Decision, d.Reason, d.Message = decision, reason, message
	return events.Publish(ctx, notify.InstanceUpdateProgressed, d, resourcesOf(job)...)
}

// DryRunNote starts the history note of each step a dry-run job went through: "dry run: would ...".
const DryRunNote = "dry run: "

// EndDryRun ends a dry-run job: skipped with code dry-run, the instance's attributes untouched,
// and a message that says what each worker would have done (the job's dry-run history notes),
// ending with last, this worker's.
func (e *Ender) EndDryRun(ctx context.Context, job *update.Job, last string) error {
	return e.End(ctx, job, update.Skipped(update.CodeDryRun, DryRunSummary(*job, e.By, last)), LeaveMarks)
}

// DryRunSummary is the message of an ended dry run: "dry run, nothing changed: patcher: would
// stage 1.20.3; drainer: ...; <by>: <last>".
func DryRunSummary(job update.Job, by, last string) string {
	var parts []string
	for _, h := range job.History {
		if note, ok := strings.CutPrefix(h.Note, DryRunNote); ok {
			parts = append(parts, h.By+": "+note)
		}
	}
	parts = append(parts, by+": "+last)
	return "dry run, nothing changed: " + strings.Join(parts, "; ")
}

// endedMetric is the counter of each result; a duplicate counts as skipped.
func endedMetric(r update.Result) string {
	switch r {
	case update.ResultUpdated:
		return metrics.JobsSucceeded
	case update.ResultFailed:
		return metrics.JobsFailed
	}
	return metrics.JobsSkipped
}

// RecordEnd records the metrics of a job that ended with o at its current step: the result's
// counter by cluster, step and reason, the same without dimensions (for an alarm on any failure),
// and the time the job spent at its last step. rec may be nil.
func RecordEnd(rec metrics.Recorder, job update.Job, o update.Outcome, now time.Time) {
	name := endedMetric(o.Result)
	metrics.Record(rec,
		metrics.Counted(name, now, map[string]string{
			metrics.Cluster: job.Cluster, metrics.Step: string(job.Step), metrics.Reason: string(o.Code),
		}),
		metrics.Counted(name, now, nil),
	)
	RecordStep(rec, job, now)
}

// RecordStep records StepDuration for the job's current step, from when it entered the step to
// now. Call it as the job leaves the step (forwarded or ended). rec may be nil.
func RecordStep(rec metrics.Recorder, job update.Job, now time.Time) {
	if at, ok := job.EnteredAt(job.Step); ok {
		metrics.Record(rec, metrics.Took(metrics.StepDuration, now.Sub(at), now, map[string]string{
			metrics.Cluster: job.Cluster, metrics.Step: string(job.Step),
		}))
	}
}
