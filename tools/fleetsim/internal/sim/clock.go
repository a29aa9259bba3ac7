package sim

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
)

// Clock is the world's virtual clock: virtual now = start + scale × the time elapsed on its base
// clock since the clock was made. On clock.Real that is real time, sped up by the time scale; on
// a *clock.Virtual at scale 1 the world's time is the virtual clock's (from start on), and a
// simulated duration passes when that clock is moved past it. AfterFunc(d) fires after d/scale
// of the base clock's time and runs its callback while holding the world lock, followed by the
// world's settle hook, so every simulated duration (task start and stop, apply, reboot, agent
// reconnect) is virtual.
//
// One goroutine runs the callbacks in order of their due virtual time, and callbacks due at the
// same instant in the order they were scheduled (the bottlerocket host relies on it). It waits
// for the next one on a single timer of the base clock, so with a virtual base it waits on
// nothing real. AfterFunc never calls f before it returns. A stopped clock (the world was
// replaced) runs no more callbacks and holds no timer of its base.
type Clock struct {
	base      clock.Clock
	start     time.Time
	baseStart time.Time
	scale     float64
	lock      sync.Locker
	after     func() // run after each callback, under lock

	mu      sync.Mutex
	timers  timerHeap
	seq     uint64
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

type timer struct {
	due       time.Time
	seq       uint64
	f         func()
	idx       int
	cancelled bool
	fired     bool
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *timerHeap) Push(x any)   { t := x.(*timer); t.idx = len(*h); *h = append(*h, t) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// NewClock returns a running clock at virtual time start, scale times faster than base (nil:
// clock.Real); callbacks run holding lock and are followed by after (which may be nil). Stop
// releases it.
func NewClock(base clock.Clock, start time.Time, scale float64, lock sync.Locker, after func()) *Clock {
	if scale <= 0 {
		scale = 1
	}
	base = clock.OrReal(base)
	c := &Clock{base: base, start: start, baseStart: base.Now(), scale: scale, lock: lock, after: after,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	elapsed := c.base.Now().Sub(c.baseStart)
	if c.scale != 1 {
		elapsed = time.Duration(float64(elapsed) * c.scale)
	}
	return c.start.Add(elapsed).UTC()
}

// Scale is the time-scale factor.
func (c *Clock) Scale() float64 { return c.scale }

// baseDuration converts a virtual duration to the time it takes on the base clock.
func (c *Clock) baseDuration(d time.Duration) time.Duration {
	if c.scale == 1 {
		return d
	}
	return time.Duration(float64(d) / c.scale)
}

// Sleep waits the virtual duration d, or until ctx is done, whose error it then returns. Call it
// without the world lock.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	return clock.Sleep(ctx, c.base, c.baseDuration(d))
}

// AfterFunc runs f after the virtual duration d, under the world lock. stop cancels it and
// reports whether it had not run yet.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	c.seq++
	t := &timer{due: c.Now().Add(d), seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.fired || t.cancelled {
			return false
		}
		t.cancelled = true
		if t.idx >= 0 {
			heap.Remove(&c.timers, t.idx)
		}
		return true
	}
}

func (c *Clock) run() {
	var tm clock.Timer
	defer func() {
		if tm != nil {
			tm.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return
		}
		if len(c.timers) == 0 {
			c.mu.Unlock()
			select {
			case <-c.wake:
			case <-c.done:
			}
			continue
		}
		next := c.timers[0]
		wait := c.baseDuration(next.due.Sub(c.Now()))
		if wait > 0 {
			c.mu.Unlock()
			if tm == nil {
				tm = c.base.NewTimer(wait)
			} else {
				tm.Reset(wait)
			}
			select {
			case <-tm.C():
			case <-c.wake:
				tm.Stop()
			case <-c.done:
				tm.Stop()
			}
			continue
		}
		heap.Pop(&c.timers)
		c.mu.Unlock()

		c.lock.Lock()
		c.mu.Lock()
		run := !c.stopped && !next.cancelled
		next.fired = true
		c.mu.Unlock()
		if run {
			next.f()
			if c.after != nil {
				c.after()
			}
		}
		c.lock.Unlock()
	}
}

// Stop makes every pending and future callback a no-op and ends the clock's goroutine.
func (c *Clock) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped = true
		close(c.done)
	}
}
