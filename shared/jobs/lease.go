package jobs

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

// Leaser keeps the lease (update.AttrLease) of the jobs a worker holds: a lease that is not
// renewed expires, and the scanner then reclaims the instance as orphaned (update.Reclaimable).
// The patcher, drainer and verifier renew at every look at a job they hold, which costs a write
// only once per half lease (update.RenewLease), and with every stage they write, which costs
// nothing (the lease rides in the same PutAttributes call).
type Leaser struct {
	Marks    Marks
	Duration time.Duration
	Now      func() time.Time
}

// Renew renews the lease of job on inst, as just read, when it is due. It writes nothing when
// inst is not the job's (its rollwave.job is another job's or absent): a job that lost its
// instance must not mark it again.
func (l *Leaser) Renew(ctx context.Context, job *update.Job, inst cluster.Instance) error {
	if inst.Attributes[update.AttrJob] != job.ID {
		return nil
	}
	v, due := update.RenewLease(inst.Attributes[update.AttrLease], l.Now(), l.Duration)
	if !due {
		return nil
	}
	if err := l.Marks.PutAttributes(ctx, job.Cluster, inst.ARN, map[string]string{update.AttrLease: v}); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return nil
}

// With returns attrs, a write of the job's marks, with a fresh lease added: the write that marks
// the instance or moves its stage renews the lease in the same call.
func (l *Leaser) With(attrs map[string]string) map[string]string {
	out := maps.Clone(attrs)
	out[update.AttrLease] = update.LeaseValue(l.Now(), l.Duration)
	return out
}
