package clocktest_test

import (
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
)

// A sleep of an hour on the running clock takes no real time; with nothing left to wait for,
// the clock stops and says so.
func TestRunMovesTheClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	stopped := clocktest.Run(t, v)
	if err := clock.Sleep(t.Context(), v, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := v.Now(); got.Before(start.Add(time.Hour)) {
		t.Errorf("after a sleep of an hour the clock reads %s, want %s or later", got, start.Add(time.Hour))
	}
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("the clock still runs a minute after its last timer")
	}
}
