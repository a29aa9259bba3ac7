package wake_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
	"github.com/rollwave/rollwave/shared/wake"
)

// Await re-checks every interval and gives up at the deadline of the registry's clock: on a
// virtual clock, a wait of minutes takes no real time.
func TestAwaitWaitsOnTheRegistrysClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	clocktest.Run(t, v)

	w := wake.NewRegistry()
	w.Clock = v
	var checks []time.Duration
	err := wake.Await(t.Context(), w, "arn:i-1", time.Minute, start.Add(5*time.Minute+30*time.Second), func(context.Context) (bool, error) {
		checks = append(checks, clock.Since(v, start))
		return false, nil
	})
	if !errors.Is(err, wake.ErrDeadline) {
		t.Errorf("Await() = %v, want ErrDeadline", err)
	}
	want := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5*time.Minute + 30*time.Second}
	if !slices.Equal(checks, want) {
		t.Errorf("checked at %v, want every minute and once more at the deadline: %v", checks, want)
	}
}
