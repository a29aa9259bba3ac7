package drain

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
)

// sharedReadTimeout bounds one shared read: no caller's context ends it (see freshReads.get).
const sharedReadTimeout = time.Minute

// sharedReads is the drainer's reader of ECS (instances) with the cluster-wide reads shared: the
// census of a cluster, its instances (ListInstances, by status and filter) and its services
// (Services of every service) are read once for all the looks of the cluster that ask at the
// same time. An ECS event wakes every job that waits in its cluster at once, and each look read the
// whole cluster: at 1,000 hosts, clusters of 600 instances read page by page, once per job.
// Every other read goes to the reader as it is.
type sharedReads struct {
	instances
	census   freshReads[cluster.Census]
	lists    freshReads[[]cluster.Instance] // by cluster, status and filter
	services freshReads[[]cluster.Service]
}

func newSharedReads(r instances) *sharedReads {
	return &sharedReads{instances: r}
}

func (s *sharedReads) ListInstances(ctx context.Context, clusterName, status, filter string) ([]cluster.Instance, error) {
	key := clusterName + "\x00" + status + "\x00" + filter
	list, err := s.lists.get(ctx, key, func(ctx context.Context) ([]cluster.Instance, error) {
		return s.instances.ListInstances(ctx, clusterName, status, filter)
	})
	return slices.Clone(list), err
}

func (s *sharedReads) Census(ctx context.Context, clusterName string) (cluster.Census, error) {
	c, err := s.census.get(ctx, clusterName, func(ctx context.Context) (cluster.Census, error) {
		return s.instances.Census(ctx, clusterName)
	})
	c.Instances = slices.Clone(c.Instances)
	return c, err
}

func (s *sharedReads) Services(ctx context.Context, clusterName string, names []string) ([]cluster.Service, error) {
	if len(names) > 0 {
		return s.instances.Services(ctx, clusterName, names)
	}
	services, err := s.services.get(ctx, clusterName, func(ctx context.Context) ([]cluster.Service, error) {
		return s.instances.Services(ctx, clusterName, nil)
	})
	return slices.Clone(services), err
}

// freshReads shares reads by key among the callers that ask at the same time, and never hands a
// caller a read that began before its call: a read under way may miss what the caller wrote
// just before it asked (admission writes its claim, then reads the cluster to count every
// claim; that order is what keeps several drainers within the limit together). So a caller that
// asks while a read of its key is under way waits for the next one, which starts when that one
// ends and serves every caller that asked in between: at most two reads of a key are ever
// waited for, however many callers ask.
//
// A read runs on its own context (the first caller's values, no cancellation, at most
// sharedReadTimeout), so that a caller that gives up (its context ends) neither cancels the read
// of the others nor hands them its error; it only stops waiting. Callers share the result: they
// must not change it.
type freshReads[T any] struct {
	mu   sync.Mutex
	keys map[string]*readQueue[T]
}

// readQueue is a key's read under way (it is in freshReads.keys exactly while one runs) and the
// read its later callers wait for.
type readQueue[T any] struct {
	next *sharedRead[T]
}

type sharedRead[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (f *freshReads[T]) get(ctx context.Context, key string, read func(context.Context) (T, error)) (T, error) {
	f.mu.Lock()
	if f.keys == nil {
		f.keys = map[string]*readQueue[T]{}
	}
	var r *sharedRead[T]
	if q := f.keys[key]; q != nil { // a read is under way: wait for the next one
		if q.next == nil {
			q.next = &sharedRead[T]{done: make(chan struct{})}
		}
		r = q.next
	} else {
		r = &sharedRead[T]{done: make(chan struct{})}
		q = &readQueue[T]{}
		f.keys[key] = q
		go f.run(context.WithoutCancel(ctx), key, q, r, read)
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run reads for r, then for the callers that asked while it read, until none asked.
func (f *freshReads[T]) run(ctx context.Context, key string, q *readQueue[T], r *sharedRead[T], read func(context.Context) (T, error)) {
	for r != nil {
		rctx, cancel := context.WithTimeout(ctx, sharedReadTimeout)
		r.v, r.err = read(rctx)
		cancel()
		close(r.done)
		f.mu.Lock()
		r, q.next = q.next, nil
		if r == nil {
			delete(f.keys, key)
		}
		f.mu.Unlock()
	}
}
