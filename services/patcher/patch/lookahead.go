package patch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// stagedCounter is what the look-ahead reads of ECS: how many instances of a cluster are staged
// ahead of the drains, and, for a limit in percent, how many the cluster has.
type stagedCounter interface {
	CountInstances(ctx context.Context, cluster, filter string) (int, error)
	Clusters(ctx context.Context, names []string) ([]cluster.Cluster, error)
}

// lookahead stages just in time: it holds a new staging job while its cluster has as many
// instances staged ahead of the drains as the cluster's limit (update.MayStage), and lets it go
// when one of them has been drained. The count is read from ECS at every look (the instances'
// rollwave.stage), so that several patchers agree and a crash loses nothing; jobs this process
// let go but has not marked yet are added to it, so that the jobs woken together do not all take
// the same room. A wake is an in-process hint (Drained, from the reboot lane): a held job also
// looks again every recheck, and goes back to its queue for as long when the look-ahead is still
// full, so that a job another patcher should have woken waits at most two rechecks.
type lookahead struct {
	ecs      stagedCounter
	policies policy.Set
	recheck  time.Duration
	now      func() time.Time
	clock    clock.Clock // the backstop's timer; nil is clock.Real

	mu      sync.Mutex
	waiters map[string][]chan struct{} // by cluster, oldest first
	pending map[string]int             // by cluster: let go, not marked yet
	sizes   map[string]clusterSize     // by cluster: its registered instances, for a limit in percent
	// full is, by cluster, the last look that found the look-ahead full, until a drain here says
	// otherwise (Drained) or it is fullTTL old.
	full map[string]fullLook
	// held has a slot per job that Await may hold (ROLLWAVE_STAGE_WAITING): a job that finds
	// them all taken goes back to its queue at once, so that held jobs never take the stage
	// lane's slots from the jobs that stage, or that come back to see their apply done.
	held chan struct{}
}

// fullLook is a look that found a cluster's look-ahead full, and when.
type fullLook struct {
	d  update.Lookahead
	at time.Time
}

// clusterSize is a cluster's registered instances as read at a time.
type clusterSize struct {
	n  int
	at time.Time
}

// sizeTTL is how long the look-ahead trusts a cluster's size before it reads it again. The size
// only turns a limit in percent into a count of instances staged ahead, which is no safety limit
// (the drainer's admission is): a size a few seconds old costs nothing, while reading it at every
// look was a DescribeClusters per look, four per staged instance at 200 hosts.
const sizeTTL = 30 * time.Second

// fullTTL bounds how long a look that found a cluster's look-ahead full answers the looks that
// follow it without counting again, as a part of the recheck: the jobs held in the queue come back
// every recheck, each of them two filtered counts (most of the patcher's ECS calls at 200 hosts),
// to find the same answer until a drain frees room. A drain in this process ends it at once
// (Drained); one in another replica is seen at most this late, which delays a staging, never adds
// one.
func (l *lookahead) fullTTL() time.Duration { return l.recheck / 4 }

func newLookahead(ecs stagedCounter, policies policy.Set, recheck time.Duration, held int) *lookahead {
	return &lookahead{ecs: ecs, policies: policies, recheck: recheck, now: time.Now, held: make(chan struct{}, held),
		waiters: map[string][]chan struct{}{}, pending: map[string]int{}, sizes: map[string]clusterSize{}, full: map[string]fullLook{}}
}

// heldError says that the look-ahead of the job's cluster stayed full for a whole recheck: the
// job goes back to its queue for a recheck (queue.RetryAfter), in service and unmarked.
type heldError struct{ reason string }

func (e *heldError) Error() string { return e.reason }

// Await returns once job may stage its instance, with marked, which the caller calls once the
// instance carries its staging mark (or the job ended without one), and waited, which says that
// it was held (the instance may have changed meanwhile: read it again). Otherwise it returns a
// *heldError after a recheck without room, or at once when as many jobs are held as it may hold,
// an ECS error to retry, or ctx's error.
func (l *lookahead) Await(ctx context.Context, job update.Job) (marked func(), waited bool, err error) {
	backstop := clock.OrReal(l.clock).NewTimer(l.recheck)
	defer backstop.Stop()
	for {
		d, err := l.look(ctx, job)
		if err != nil {
			return nil, waited, err
		}
		if d.Go {
			if waited {
				queue.Logger(ctx).Info().Str("reason", d.Reason).Msg("look-ahead has room: staging")
			}
			return l.letGo(job.Cluster, d.Room), waited, nil
		}
		if !waited {
			select {
			case l.held <- struct{}{}:
				defer func() { <-l.held }()
			default:
				return nil, false, &heldError{reason: d.Reason + fmt.Sprintf(" (ROLLWAVE_STAGE_WAITING: %d held jobs wait already)", cap(l.held))}
			}
			queue.Logger(ctx).Info().Str("reason", d.Reason).Msg("look-ahead full: staging waits for a drain")
		}
		waited = true
		wake, unsubscribe := l.subscribe(job.Cluster)
		select {
		case <-ctx.Done():
			unsubscribe()
			return nil, waited, ctx.Err()
		case <-backstop.C():
			unsubscribe()
			return nil, waited, &heldError{reason: d.Reason}
		case <-wake:
		}
	}
}

// look decides from the cluster's count in ECS and the jobs let go here but not marked yet, or,
// within fullTTL of a look that found the look-ahead full and no drain here since, from that look.
func (l *lookahead) look(ctx context.Context, job update.Job) (update.Lookahead, error) {
	l.mu.Lock()
	f, ok := l.full[job.Cluster]
	l.mu.Unlock()
	if ok && l.now().Sub(f.at) < l.fullTTL() {
		return f.d, nil
	}
	d, err := l.count(ctx, job)
	if err == nil && !d.Go {
		l.mu.Lock()
		l.full[job.Cluster] = fullLook{d: d, at: l.now()}
		l.mu.Unlock()
	}
	return d, err
}

// count decides from the cluster's count in ECS and the jobs let go here but not marked yet.
func (l *lookahead) count(ctx context.Context, job update.Job) (update.Lookahead, error) {
	limit := l.policies.For(job.Cluster).MaxOutOfService
	total := 0
	if limit.IsPercentage() {
		n, err := l.size(ctx, job.Cluster)
		if err != nil {
			return update.Lookahead{}, err
		}
		total = n
	}
	ahead := 0
	for _, f := range update.StagedAheadFilters() {
		n, err := l.ecs.CountInstances(ctx, job.Cluster, f)
		if err != nil {
			return update.Lookahead{}, fmt.Errorf("count the instances staged ahead: %w", err)
		}
		ahead += n
	}
	l.mu.Lock()
	ahead += l.pending[job.Cluster]
	l.mu.Unlock()
	return update.MayStage(job, limit, total, ahead), nil
}

// size returns the cluster's registered instances, read again when older than sizeTTL.
func (l *lookahead) size(ctx context.Context, clusterName string) (int, error) {
	l.mu.Lock()
	c, ok := l.sizes[clusterName]
	l.mu.Unlock()
	if ok && l.now().Sub(c.at) < sizeTTL {
		return c.n, nil
	}
	cs, err := l.ecs.Clusters(ctx, []string{clusterName})
	if err != nil {
		return 0, fmt.Errorf("read the cluster's size: %w", err)
	}
	l.mu.Lock()
	l.sizes[clusterName] = clusterSize{n: cs[0].RegisteredInstances, at: l.now()}
	l.mu.Unlock()
	return cs[0].RegisteredInstances, nil
}

// letGo counts a job let go until it is marked, and passes what room is left on to the next
// held job of the cluster.
func (l *lookahead) letGo(clusterName string, room int) func() {
	l.mu.Lock()
	l.pending[clusterName]++
	l.mu.Unlock()
	if room > 1 {
		l.Drained(clusterName)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.pending[clusterName]--; l.pending[clusterName] <= 0 {
				delete(l.pending, clusterName)
			}
		})
	}
}

// Drained says that an instance of the cluster left the look-ahead (admitted and drained, or
// its job ended): it wakes the oldest job held for the cluster, which looks again.
func (l *lookahead) Drained(clusterName string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.full, clusterName)
	q := l.waiters[clusterName]
	if len(q) == 0 {
		return
	}
	q[0] <- struct{}{} // buffered, and each channel is woken once: it leaves the queue now
	if l.waiters[clusterName] = q[1:]; len(q) == 1 {
		delete(l.waiters, clusterName)
	}
}

// subscribe queues a held job of the cluster; the returned function takes it out of the queue
// when it stops waiting before it was woken.
func (l *lookahead) subscribe(clusterName string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.waiters[clusterName] = append(l.waiters[clusterName], ch)
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		q := l.waiters[clusterName]
		for i, c := range q {
			if c == ch {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(l.waiters, clusterName)
		} else {
			l.waiters[clusterName] = q
		}
	}
}
