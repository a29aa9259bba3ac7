// Package clock is the time the workers and the fleet simulator read and wait on: Real, the
// package time, everywhere a rollout runs; Virtual, a clock that only moves when told to, for a
// rollout forecast that runs hours of a rollout in seconds (rollwave plan).
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers, as package time does.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once, after d.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine after d; Stop on the timer cancels the call.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a ticker that sends the time every d; d must be above zero.
	NewTicker(d time.Duration) Ticker
}

// Timer is a *time.Timer behind an interface: with Go 1.23's semantics, a value is never
// received from C after Stop or Reset returned.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker is a *time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// Real is the clock of package time.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time   { return t.t.C }
func (t realTicker) Stop()                 { t.t.Stop() }
func (t realTicker) Reset(d time.Duration) { t.t.Reset(d) }

// OrReal returns c, or Real when c is nil, so that a zero value of a struct with a Clock field
// runs on real time.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Since is the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is the time on c until t.
func Until(c Clock, t time.Time) time.Duration { return t.Sub(c.Now()) }

// Sleep waits d on c, or until ctx is done, whose error it then returns.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
