package pipeline

import (
	"context"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// ReceiveJob is how the handler of a job queue (patcher, drainer, verifier) begins with message m.
// It decodes the job; gives it m.ID when it has no ID; makes it a dry run when dryRun is set
// (ROLLWAVE_DRY_RUN), whatever the message said; names its job, cluster and instance in the
// message's log fields; and waits for the instance's lock in locks, so that two copies of one job
// are handled one after the other.
//
// When ok is false the handler returns out at once: Poison with the reason when the body is not
// a job (the message goes to the dead-letter queue, never silently deleted), Retry when ctx ended
// while waiting for the lock. When ok is true the handler holds the lock and must call unlock.
func ReceiveJob(ctx context.Context, locks *Locks, m queue.Message, dryRun bool) (job update.Job, unlock func(), out queue.Outcome, ok bool) {
	job, err := update.Decode(m.Body)
	if err != nil {
		return update.Job{}, nil, queue.Poison(err.Error()), false
	}
	job.EnsureID(m.ID)
	job.DryRun = job.DryRun || dryRun
	queue.Annotate(ctx, queue.Fields{Job: job.ID, Cluster: job.Cluster, Instance: job.Instance})
	unlock, err = locks.Lock(ctx, InstanceKey(job.Cluster, job.Instance))
	if err != nil {
		return job, nil, queue.Retry(err), false
	}
	return job, unlock, queue.Outcome{}, true
}
