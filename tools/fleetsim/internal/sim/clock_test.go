package sim

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
)

// On a virtual base clock at scale 1, callbacks run at their exact virtual times, those of one
// instant in the order they were scheduled, under the lock; a cancelled one never runs, and a
// stopped clock leaves no timer on its base, so the base clock has nothing left to run.
func TestClockRunsOnAVirtualBase(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	var mu sync.Mutex
	c := NewClock(v, start, 1, &mu, nil)
	defer c.Stop()

	type call struct {
		name string
		at   time.Duration
	}
	var calls []call
	at := func(name string) func() {
		return func() {
			if mu.TryLock() {
				mu.Unlock()
				t.Errorf("callback %s runs without the lock", name)
			}
			calls = append(calls, call{name, c.Now().Sub(start)})
		}
	}
	c.AfterFunc(2*time.Hour, at("b"))
	c.AfterFunc(time.Hour, at("a"))
	c.AfterFunc(2*time.Hour, func() { at("c")(); c.Stop() })
	cancel := c.AfterFunc(90*time.Minute, at("cancelled"))
	c.AfterFunc(3*time.Hour, at("after stop"))
	if !cancel() {
		t.Fatal("stop of a pending callback = false, want true")
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- v.Run(ctx, 0) }()
	select {
	case err := <-ran:
		if !errors.Is(err, clock.ErrStalled) {
			t.Fatalf("Run = %v, want clock.ErrStalled once the stopped clock left nothing to do", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the virtual clock still runs 30 s later")
	}

	mu.Lock()
	defer mu.Unlock()
	want := []call{{"a", time.Hour}, {"b", 2 * time.Hour}, {"c", 2 * time.Hour}}
	if len(calls) != len(want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d = %v, want %v", i, calls[i], want[i])
		}
	}
	if got := v.Now().Sub(start); got != 2*time.Hour {
		t.Errorf("the virtual clock stopped at +%s, want +2h: the stopped clock left a timer", got)
	}
}
