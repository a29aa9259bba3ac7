package bottlerocket

import (
	"testing"
	"time"
)

// fakeClock is a deterministic virtual clock: callbacks fire only inside
// Advance, in time order and, for equal times, in scheduling order.
type fakeClock struct {
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	seq  int
	f    func()
	dead bool
}

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	t := &fakeTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.seq++
	c.timers = append(c.timers, t)
	return func() bool {
		was := !t.dead
		t.dead = true
		return was
	}
}

// next removes and returns the earliest live timer due by end.
func (c *fakeClock) next(end time.Time) *fakeTimer {
	best := -1
	for i, t := range c.timers {
		if t.dead || t.at.After(end) {
			continue
		}
		if best < 0 || t.at.Before(c.timers[best].at) || (t.at.Equal(c.timers[best].at) && t.seq < c.timers[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	t := c.timers[best]
	c.timers = append(c.timers[:best], c.timers[best+1:]...)
	return t
}

// Advance moves time forward by d, firing every callback due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	end := c.now.Add(d)
	for t := c.next(end); t != nil; t = c.next(end) {
		c.now = t.at
		t.dead = true
		t.f()
	}
	c.now = end
}

// pending counts live timers.
func (c *fakeClock) pending() int {
	n := 0
	for _, t := range c.timers {
		if !t.dead {
			n++
		}
	}
	return n
}

func TestFakeClockOrdersCallbacks(t *testing.T) {
	c := newFakeClock()
	var got []string
	c.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	c.AfterFunc(time.Second, func() {
		got = append(got, "a")
		c.AfterFunc(0, func() { got = append(got, "a0") })
	})
	stop := c.AfterFunc(time.Second, func() { got = append(got, "stopped") })
	c.AfterFunc(2*time.Second, func() { got = append(got, "c") })
	if !stop() {
		t.Fatalf("stop() = false, want true for a pending timer")
	}
	c.Advance(5 * time.Second)
	want := "a a0 b c"
	if s := join(got); s != want {
		t.Errorf("fired %q, want %q", s, want)
	}
	if !c.Now().Equal(epoch.Add(5 * time.Second)) {
		t.Errorf("Now() = %v, want %v", c.Now(), epoch.Add(5*time.Second))
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
