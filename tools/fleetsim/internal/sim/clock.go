package sim

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is the world's virtual clock: virtual now = start + scale × real time elapsed since the
// clock was made. AfterFunc(d) fires after d/scale of real time and runs its callback while
// holding the world lock, followed by the world's settle hook, so every simulated duration
// (task start and stop, apply, reboot, agent reconnect) is virtual.
//
// One goroutine runs the callbacks in order of their due virtual time, and callbacks due at the
// same instant in the order they were scheduled (the bottlerocket host relies on it). AfterFunc
// never calls f before it returns. A stopped clock (the world was replaced) runs no more
// callbacks.
type Clock struct {
	start     time.Time
	realStart time.Time
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

// NewClock returns a running clock at virtual time start, scale times faster than real time;
// callbacks run holding lock and are followed by after (which may be nil). Stop releases it.
func NewClock(start time.Time, scale float64, lock sync.Locker, after func()) *Clock {
	if scale <= 0 {
		scale = 1
	}
	c := &Clock{start: start, realStart: time.Now(), scale: scale, lock: lock, after: after,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.realStart)) * c.scale)).UTC()
}

// Scale is the time-scale factor.
func (c *Clock) Scale() float64 { return c.scale }

// Real converts a virtual duration to the real duration it takes.
func (c *Clock) Real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.scale) }

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
	var tm *time.Timer
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
		wait := c.Real(next.due.Sub(c.Now()))
		if wait > 0 {
			c.mu.Unlock()
			if tm == nil {
				tm = time.NewTimer(wait)
			} else {
				tm.Reset(wait)
			}
			select {
			case <-tm.C:
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
