// Package wake wakes the jobs that wait on a container instance when an ECS event about it
// arrives (Registry, EventHandler), and waits for a condition with a deadline, re-checking on an
// interval as the backstop for missed events (Await). Room wakes the jobs parked until an
// instance of their cluster returns to service or a job of their cluster ends, one per slot freed.
package wake

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/ecsevent"
	"github.com/rollwave/rollwave/shared/queue"
)

// Registry connects ECS events to the jobs waiting on the instances they are about. It is an
// in-process hint only: a waiter always re-checks the ECS or SSM API, and re-checks on its own
// every interval, so an event that reaches another replica is not missed for long.
type Registry struct {
	// Clock times Await's re-checks and deadline; nil is clock.Real. Set it before use.
	Clock clock.Clock

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{waiters: map[string]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value each time the instance is woken (coalesced:
// several wakes before the waiter looks count once), and a function to unsubscribe.
func (w *Registry) Subscribe(instanceARN string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters[instanceARN] == nil {
		w.waiters[instanceARN] = map[chan struct{}]struct{}{}
	}
	w.waiters[instanceARN][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.waiters[instanceARN], ch)
		if len(w.waiters[instanceARN]) == 0 {
			delete(w.waiters, instanceARN)
		}
		w.mu.Unlock()
	}
}

// Wake signals every waiter of the instance and returns how many there were.
func (w *Registry) Wake(instanceARN string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[instanceARN] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return len(w.waiters[instanceARN])
}

// Observer is told of the events an events queue brings besides waking the Registry's waiters
// (Room).
type Observer interface {
	// Observe is told of every ECS container instance state change.
	Observe(ctx context.Context, ci *ecsevent.ContainerInstanceStateChange)
	// Ended is told of every end of a rollwave job that reaches the queue.
	Ended(ctx context.Context, e *ecsevent.JobEnded)
}

// EventHandler is the queue handler of an events queue: it wakes the waiters of the container
// instance an ECS "Container Instance State Change" event is about, and tells each observer of it
// and of every rollwave job end (ecsevent.JobEnded). Events of other types are acknowledged and
// ignored; a message that is not an EventBridge event goes to the dead-letter queue.
func EventHandler(w *Registry, observers ...Observer) queue.Handler {
	return func(ctx context.Context, m queue.Message) queue.Outcome {
		ev, err := ecsevent.Parse(m.Body)
		if err != nil {
			return queue.Poison(err.Error())
		}
		switch d := ev.Detail.(type) {
		case *ecsevent.ContainerInstanceStateChange:
			n := w.Wake(d.ContainerInstanceARN)
			for _, o := range observers {
				o.Observe(ctx, d)
			}
			queue.Logger(ctx).Debug().Str("instance", d.ContainerInstanceARN).Str("status", d.Status).
				Bool("agent_connected", d.AgentConnected).Int("running_tasks", d.RunningTasksCount).
				Int("woken", n).Msg("ecs event")
		case *ecsevent.JobEnded:
			for _, o := range observers {
				o.Ended(ctx, d)
			}
			queue.Logger(ctx).Debug().Str("job", d.JobID).Str("cluster", d.Cluster).Str("step", d.Step).
				Str("reason", d.Reason).Msg("job ended")
		}
		return queue.Done()
	}
}

// ErrDeadline is returned by Await when the condition did not hold by the deadline.
var ErrDeadline = errors.New("deadline passed")

// Await calls check until it reports done: at once, whenever the instance is woken, and every
// interval as the backstop for missed events, the interval and the deadline on w.Clock. It returns
// ErrDeadline when the deadline passes first, check's error when check fails, or the context's
// error.
func Await(ctx context.Context, w *Registry, instanceARN string, interval time.Duration, deadline time.Time, check func(context.Context) (bool, error)) error {
	wake, unsubscribe := w.Subscribe(instanceARN)
	defer unsubscribe()
	c := clock.OrReal(w.Clock)
	tick := c.NewTicker(interval)
	defer tick.Stop()
	timeout := c.NewTimer(clock.Until(c, deadline))
	defer timeout.Stop()
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C():
			// One last look: the condition may have become true just now.
			if done, err := check(ctx); err != nil || done {
				return err
			}
			return ErrDeadline
		case <-wake:
		case <-tick.C():
		}
	}
}
