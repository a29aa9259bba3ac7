package jobs

import (
	"context"
	"fmt"

	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// Boundary tells whether a cluster (a name or ARN) is one this deployment manages
// (*managed.Set). An error means "not known yet": the message is retried.
type Boundary interface {
	Manages(ctx context.Context, cluster string) (bool, error)
}

// Receive is how the handler of a job queue (patcher, drainer, verifier) begins with message m.
// It decodes the job; refuses a job about a cluster outside the trust boundary (the dead-letter
// queue with reason cluster-not-managed, before any call that could change anything); gives it
// m.ID when it has no ID; makes it a dry run when dryRun is set
// (ROLLWAVE_DRY_RUN), whatever the message said; names its job, cluster and instance in the
// message's log fields; and waits for the instance's lock in locks, so that two copies of one job
// are handled one after the other.
//
// When ok is false the handler returns out at once: Poison with the reason when the body is not
// a job or its cluster is not managed (the message goes to the dead-letter queue, never silently
// deleted), Retry when the boundary could not be resolved or ctx ended while waiting for the
// lock. When ok is true the handler holds the lock and must call unlock.
func Receive(ctx context.Context, locks *Locks, boundary Boundary, m queue.Message, dryRun bool) (job update.Job, unlock func(), out queue.Outcome, ok bool) {
	job, err := update.Decode(m.Body)
	if err != nil {
		return update.Job{}, nil, queue.Poison(err.Error()), false
	}
	job.EnsureID(m.ID)
	job.DryRun = job.DryRun || dryRun
	queue.Annotate(ctx, queue.Fields{Job: job.ID, Cluster: job.Cluster}.WithInstance(job.Instance))
	managedCluster, err := boundary.Manages(ctx, job.Cluster)
	if err != nil {
		return job, nil, queue.Retry(fmt.Errorf("resolve the managed clusters: %w", err)), false
	}
	if !managedCluster {
		return job, nil, queue.Poison(managed.NotManaged(job.Cluster)), false
	}
	unlock, err = locks.Lock(ctx, InstanceKey(job.Cluster, job.Instance))
	if err != nil {
		return job, nil, queue.Retry(err), false
	}
	return job, unlock, queue.Outcome{}, true
}
