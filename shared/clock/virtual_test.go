package clock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A chain of goroutines that wait on timers and on each other runs hours of virtual time, and
// each reads the time its timer fell due.
func TestVirtualRunsAChainOfWaitsInVirtualTime(t *testing.T) {
	v := clock.NewVirtual(start)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- v.Run(ctx, 0) }()

	var mu sync.Mutex
	var woke []time.Duration
	handoff := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 3 {
			if err := clock.Sleep(ctx, v, time.Hour); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			woke = append(woke, clock.Since(v, start))
			mu.Unlock()
		}
		close(handoff)
	})
	wg.Go(func() {
		<-handoff
		tick := v.NewTicker(10 * time.Minute)
		defer tick.Stop()
		for range 2 {
			<-tick.C()
		}
		mu.Lock()
		woke = append(woke, clock.Since(v, start))
		mu.Unlock()
	})
	wg.Wait()
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	want := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 3*time.Hour + 20*time.Minute}
	if len(woke) != len(want) {
		t.Fatalf("woke at %v, want %v", woke, want)
	}
	for i := range want {
		if woke[i] != want[i] {
			t.Fatalf("woke at %v, want %v", woke, want)
		}
	}
}

// A stopped timer never delivers, and a reset one delivers once, at its new time.
func TestVirtualStopAndReset(t *testing.T) {
	v := clock.NewVirtual(start)
	a := v.NewTimer(time.Minute)
	b := v.NewTimer(time.Minute)
	called := make(chan time.Time, 1)
	f := v.AfterFunc(time.Minute, func() { called <- v.Now() })
	if !a.Stop() {
		t.Fatal("Stop of an armed timer = false")
	}
	v.AdvanceTo(start.Add(time.Minute))
	select {
	case <-a.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	if f.Stop() {
		t.Fatal("Stop of a fired AfterFunc = true")
	}
	if got := <-called; !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("AfterFunc ran at %v", got)
	}
	// b fired and nobody read it: Reset drops that value.
	b.Reset(time.Minute)
	select {
	case <-b.C():
		t.Fatal("a reset timer delivered its old value")
	default:
	}
	if next, ok := v.Next(); !ok || !next.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("Next = %v, %v; want %v", next, ok, start.Add(2*time.Minute))
	}
	v.AdvanceTo(start.Add(2 * time.Minute))
	if got := <-b.C(); !got.Equal(start.Add(2 * time.Minute)) {
		t.Fatalf("reset timer fired at %v", got)
	}
}

// Run says so when the process is idle and no timer can wake anything.
func TestVirtualRunStallsWithNoTimer(t *testing.T) {
	v := clock.NewVirtual(start)
	if err := v.Run(t.Context(), 0); !errors.Is(err, clock.ErrStalled) {
		t.Fatalf("Run = %v, want ErrStalled", err)
	}
}

// The real clock's timers are package time's.
func TestRealSleepHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := clock.Sleep(ctx, clock.Real, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v", err)
	}
}

// Two virtual clocks in one process each move their own simulation: one's wait for the process
// to be idle does not keep the other's from seeing it idle.
func TestTwoVirtualClocksRunSideBySide(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	took := make([]time.Duration, 2)
	for i := range 2 {
		v := clock.NewVirtual(start)
		ran := make(chan error, 1)
		go func() { ran <- v.Run(ctx, 0) }()
		wg.Go(func() {
			for range 100 {
				if err := clock.Sleep(ctx, v, time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
			took[i] = clock.Since(v, start)
		})
	}
	wg.Wait()
	cancel()
	for i, d := range took {
		if d != 100*time.Minute {
			t.Errorf("clock %d moved %v, want 100m", i, d)
		}
	}
}
