// Package pipeline holds what the four workers share beyond queues and adapters: waking a job that
// waits on a container instance when an ECS event about it arrives, waiting with a deadline and a
// re-check as the backstop for missed events, and ending a job (marks, pipeline event, log line).
package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/ecsevent"
	"github.com/rollwave/rollwave/shared/queue"
)

// Wakeups connects ECS events to the jobs waiting on the instances they are about. It is an
// in-process hint only: a waiter always re-checks the ECS or SSM API, and re-checks on its own
// every interval, so an event that reaches another replica is not missed for long.
type Wakeups struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// NewWakeups returns an empty registry.
func NewWakeups() *Wakeups {
	return &Wakeups{waiters: map[string]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value each time the instance is woken (coalesced:
// several wakes before the waiter looks count once), and a function to unsubscribe.
func (w *Wakeups) Subscribe(instanceARN string) (<-chan struct{}, func()) {
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
func (w *Wakeups) Wake(instanceARN string) int {
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

// EventHandler is the queue handler of an events queue: it wakes the waiters of the container
// instance an ECS "Container Instance State Change" event is about. Events of other types are
// acknowledged and ignored; a message that is not an EventBridge event goes to the dead-letter
// queue.
func EventHandler(w *Wakeups) queue.Handler {
	return func(ctx context.Context, m queue.Message) queue.Outcome {
		ev, err := ecsevent.Parse(m.Body)
		if err != nil {
			return queue.Poison(err.Error())
		}
		ci, ok := ev.Detail.(*ecsevent.ContainerInstanceStateChange)
		if !ok {
			return queue.Done()
		}
		n := w.Wake(ci.ContainerInstanceARN)
		queue.Logger(ctx).Debug().Str("instance", ci.ContainerInstanceARN).Str("status", ci.Status).
			Bool("agentConnected", ci.AgentConnected).Int("runningTasks", ci.RunningTasksCount).
			Int("woken", n).Msg("ecs event")
		return queue.Done()
	}
}

// ErrDeadline is returned by Await when the condition did not hold by the deadline.
var ErrDeadline = errors.New("deadline passed")

// Await calls check until it reports done: at once, whenever the instance is woken, and every
// interval as the backstop for missed events. It returns ErrDeadline when the deadline passes
// first, check's error when check fails, or the context's error.
func Await(ctx context.Context, w *Wakeups, instanceARN string, interval time.Duration, deadline time.Time, check func(context.Context) (bool, error)) error {
	wake, unsubscribe := w.Subscribe(instanceARN)
	defer unsubscribe()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			// One last look: the condition may have become true just now.
			if done, err := check(ctx); err != nil || done {
				return err
			}
			return ErrDeadline
		case <-wake:
		case <-tick.C:
		}
	}
}
