// Package clocktest runs a virtual clock for a test.
package clocktest

import (
	"context"
	"errors"
	"testing"

	"github.com/rollwave/rollwave/shared/clock"
)

// Run moves v on whenever the process is idle (clock.Virtual.Run), from now until the test ends,
// and returns a channel closed if the clock stops before: nothing was left to wait for on it (a
// wait went to another clock). At the end it fails the test if the clock stopped for any other
// reason.
func Run(t testing.TB, v *clock.Virtual) (stopped <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() { err = v.Run(ctx, 0); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if !errors.Is(err, context.Canceled) && !errors.Is(err, clock.ErrStalled) {
			t.Errorf("virtual clock Run = %v", err)
		}
	})
	return done
}
