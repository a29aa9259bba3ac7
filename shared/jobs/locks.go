package jobs

import (
	"context"
	"sync"

	"github.com/rollwave/rollwave/shared/update"
)

// Locks serialises the handling of messages about the same instance within one worker process.
// SQS delivers at least once, so one job can reach a worker as two messages at the same time (a
// worker killed after forwarding a job but before deleting its own message forwards it again).
// Handled one after the other, the second copy finds the instance already past its step and does
// nothing; handled at the same time, the two could undo each other's claim.
type Locks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// NewLocks returns an empty set of locks. The zero Locks is ready to use too.
func NewLocks() *Locks { return &Locks{} }

// Lock waits until key is free or ctx ends, and returns the function that frees it.
func (l *Locks) Lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]chan struct{}{}
		}
		ch, busy := l.held[key]
		if !busy {
			mine := make(chan struct{})
			l.held[key] = mine
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, key)
				l.mu.Unlock()
				close(mine)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// InstanceKey is the lock key of the instance a job is about; a cluster named by ARN is the
// cluster of that name.
func InstanceKey(cluster, instance string) string {
	return update.ClusterName(cluster) + "/" + instance
}
