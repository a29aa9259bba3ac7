package clock

import (
	"container/heap"
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Virtual is a clock that stands still until it is moved: AdvanceTo moves it and fires the
// timers that fall due, in order of time; Run moves it from timer to timer each time the process
// has nothing left to do at the current instant, as testing/synctest does for a test. A
// simulation of hours then runs in the time its work takes.
type Virtual struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers timerHeap
}

// NewVirtual returns a virtual clock at start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now is the clock's time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTimer returns a timer that fires d after now.
func (v *Virtual) NewTimer(d time.Duration) Timer {
	t := &vtimer{v: v, c: make(chan time.Time, 1), index: -1}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.schedule(t, d)
	return t
}

// AfterFunc calls f in its own goroutine d after now.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	t := &vtimer{v: v, f: f, index: -1}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.schedule(t, d)
	return t
}

// NewTicker returns a ticker that fires every d after now.
func (v *Virtual) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &vtimer{v: v, c: make(chan time.Time, 1), period: d, index: -1}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.schedule(t, d)
	return vticker{t}
}

// Next is the time the earliest pending timer falls due; false when none is pending.
func (v *Virtual) Next() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].when, true
}

// AdvanceTo moves the clock to t (never back) and fires, in order of time, every timer due by
// then; the clock reads each timer's time while it fires.
func (v *Virtual) AdvanceTo(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.timers) > 0 && !v.timers[0].when.After(t) {
		tm := v.timers[0]
		if tm.when.After(v.now) {
			v.now = tm.when
		}
		heap.Pop(&v.timers)
		v.fire(tm)
	}
	if t.After(v.now) {
		v.now = t
	}
}

// ErrStalled is Run's error when the process is idle and no timer is pending: nothing can
// happen any more.
var ErrStalled = errors.New("clock: idle with no timer pending")

// Run moves the clock whenever the process is idle (WaitIdle): to the earliest pending timer,
// firing with it every timer due within resolution after it. It returns when ctx is done, or
// ErrStalled.
func (v *Virtual) Run(ctx context.Context, resolution time.Duration) error {
	for {
		if err := WaitIdle(ctx); err != nil {
			return err
		}
		next, ok := v.Next()
		if !ok {
			return ErrStalled
		}
		v.AdvanceTo(next.Add(resolution))
	}
}

// schedule arms t to fire d after now; v.mu is held.
func (v *Virtual) schedule(t *vtimer, d time.Duration) {
	v.seq++
	t.when, t.seq = v.now.Add(max(d, 0)), v.seq
	heap.Push(&v.timers, t)
}

// fire sends t's time, re-arms a ticker, or starts t's function; v.mu is held.
func (v *Virtual) fire(t *vtimer) {
	switch {
	case t.f != nil:
		go t.f()
	default:
		select {
		case t.c <- v.now:
		default: // a ticker's reader is behind: drop the tick, as time.Ticker does
		}
		if t.period > 0 {
			v.schedule(t, t.period)
		}
	}
}

// stop disarms t and drops a value it sent and nobody read; it reports whether t was armed.
func (v *Virtual) stop(t *vtimer) bool {
	armed := t.index >= 0
	if armed {
		heap.Remove(&v.timers, t.index)
	}
	if t.c != nil {
		select {
		case <-t.c:
		default:
		}
	}
	return armed
}

type vtimer struct {
	v      *Virtual
	when   time.Time
	seq    uint64
	index  int // in v.timers; -1 when not armed
	period time.Duration
	c      chan time.Time // nil for AfterFunc
	f      func()
}

func (t *vtimer) C() <-chan time.Time { return t.c }

func (t *vtimer) Stop() bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	return t.v.stop(t)
}

func (t *vtimer) Reset(d time.Duration) bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	armed := t.v.stop(t)
	t.v.schedule(t, d)
	return armed
}

type vticker struct{ t *vtimer }

func (k vticker) C() <-chan time.Time { return k.t.c }
func (k vticker) Stop()               { k.t.Stop() }
func (k vticker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	k.t.v.mu.Lock()
	defer k.t.v.mu.Unlock()
	k.t.v.stop(k.t)
	k.t.period = d
	k.t.v.schedule(k.t, d)
}

// timerHeap orders timers by time, then by the order they were armed.
type timerHeap []*vtimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*vtimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

// idleWaiters counts the goroutines in WaitIdle that are looking at the scheduler (not asleep
// between two looks): each is running or ready to run, and no work of the process.
var idleWaiters atomic.Int64

// busyBackoff and maxBusyBackoff bound the pause between two looks at a busy process.
const (
	busyBackoff    = time.Microsecond
	maxBusyBackoff = 200 * time.Microsecond
)

// idleLooks is how many looks in a row must find the process idle: a goroutine woken between
// two reads of the scheduler is seen by the next.
const idleLooks = 3

// WaitIdle returns once no goroutine of the process is running or ready to run but those in
// WaitIdle (the caller, and the clocks of other simulations in the process), and none was started,
// over several looks at the scheduler in a row; or with ctx's error. Every other goroutine is then
// blocked: on a timer of a virtual clock, a channel, a lock, the network, or in a system call. A
// system call counts as blocked because a process that waits for a child (os/exec) always has one
// under way; a simulation on a virtual clock makes none that matters (its workers' logs go nowhere
// or to a buffer), so none of its steps is missed.
func WaitIdle(ctx context.Context) error {
	// Goroutines in WaitIdle (of other virtual clocks in the process, and this one) spin while
	// they wait: each counts as idle.
	idleWaiters.Add(1)
	defer idleWaiters.Add(-1)
	samples := []metrics.Sample{
		{Name: "/sched/goroutines/running:goroutines"},
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/sched/goroutines-created:goroutines"},
	}
	quiet, busy := 0, 0
	var created uint64
	for quiet < idleLooks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if busy == 0 {
			runtime.Gosched()
		} else {
			// The scheduler tells no one when the process goes idle, so WaitIdle looks;
			// while the process is busy it looks less often, to leave the cores to the work.
			// Asleep it neither runs nor waits to: it leaves the count of those it excuses.
			idleWaiters.Add(-1)
			time.Sleep(min(busyBackoff<<min(busy, 8), maxBusyBackoff))
			idleWaiters.Add(1)
		}
		metrics.Read(samples)
		idle := samples[0].Value.Uint64()+samples[1].Value.Uint64() <= uint64(idleWaiters.Load())
		switch {
		case !idle:
			quiet = 0
			busy++
		case quiet > 0 && samples[2].Value.Uint64() != created:
			quiet, busy = 1, 0
		default:
			quiet, busy = quiet+1, 0
		}
		created = samples[2].Value.Uint64()
	}
	return nil
}
