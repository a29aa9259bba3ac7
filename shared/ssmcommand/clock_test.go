package ssmcommand

import (
	"errors"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
)

// On a virtual clock, Run looks at the command on its schedule and gives up at its wait, both in
// the clock's time: a command of minutes takes no real time to wait for.
func TestRunWaitsOnTheClientsClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	clocktest.Run(t, v)

	s := &stubSSM{takes: 75 * time.Second, clock: v}
	c := newClient(s)
	c.Clock = v
	// Looks at 60, 62, 66, 74, 89 s: the gaps double from 2 s up to 15 s (a quarter of 60 s).
	got, err := c.Run(t.Context(), "apply", ids("i-", 30), Options{Expected: time.Minute, PollInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r := got["i-007"]; !r.OK() {
		t.Errorf("Run()[i-007] = %+v, want Success", r)
	}
	if took := clock.Since(v, start); took != 89*time.Second {
		t.Errorf("Run() took %s of the clock, want 89s", took)
	}
	if looks := s.lists["cmd-1"]; looks != 5 {
		t.Errorf("ListCommandInvocations walks = %d, want 5", looks)
	}

	s = &stubSSM{never: true, clock: v}
	c = newClient(s)
	c.Clock = v
	begin := v.Now()
	got, err = c.Run(t.Context(), "apply", []string{"i-1"}, Options{Wait: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r := got["i-1"]; !errors.Is(r.Err, ErrWaitTimeout) {
		t.Errorf("Run()[i-1] = %+v, want ErrWaitTimeout", r)
	}
	if waited := clock.Since(v, begin); waited != 10*time.Minute {
		t.Errorf("Run() gave up after %s of the clock, want its wait, 10m", waited)
	}
}
