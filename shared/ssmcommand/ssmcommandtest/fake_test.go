package ssmcommandtest_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
)

func TestFakeContract(t *testing.T) {
	ssmcommandtest.RunContract(t, func(t *testing.T) ssmcommandtest.Env {
		f := ssmcommandtest.NewFake()
		for _, id := range []string{"i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"} {
			f.AddInstance(id, true)
			f.Respond(id, "", ssmcommandtest.Response{Stdout: `{"update_state":"Idle"}`})
		}
		return ssmcommandtest.Env{Adapter: f, Instances: []string{"i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"}, Document: "rollwave-update-check"}
	})
}

func TestFakeRunWaitsForScriptedLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := ssmcommandtest.NewFake()
		f.AddInstance("i-1", true)
		f.AddInstance("i-2", true)
		f.Respond("i-1", "apply", ssmcommandtest.Response{Latency: 40 * time.Second, ExitCode: 1, Stderr: "boom"})
		f.Respond("i-2", "apply", ssmcommandtest.Response{Latency: 2 * time.Hour})
		start := time.Now()
		got, err := f.Run(t.Context(), "apply", []string{"i-1", "i-2"}, ssmcommand.Options{Wait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if r := got["i-1"]; r.Status != ssmcommand.StatusFailed || r.ResponseCode != 1 || r.Stderr != "boom" {
			t.Errorf("Run()[i-1] = %+v, want Failed with code 1", r)
		}
		if r := got["i-2"]; !errors.Is(r.Err, ssmcommand.ErrWaitTimeout) {
			t.Errorf("Run()[i-2] = %+v, want ErrWaitTimeout", r)
		}
		if waited := time.Since(start); waited != time.Minute {
			t.Errorf("Run() waited %v, want the 1m wait", waited)
		}
	})
}

// With Clock set, the fake reads and waits on that clock alone: a virtual clock's latencies and
// wait take no real time.
func TestFakeRunsOnItsClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	clocktest.Run(t, v)

	f := ssmcommandtest.NewFake()
	f.Clock = v
	f.AddInstance("i-1", true)
	f.AddInstance("i-2", true)
	f.Respond("i-1", "apply", ssmcommandtest.Response{Latency: 40 * time.Minute})
	f.Respond("i-2", "apply", ssmcommandtest.Response{Latency: 2 * time.Hour})
	got, err := f.Run(t.Context(), "apply", []string{"i-1", "i-2"}, ssmcommand.Options{Wait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r := got["i-1"]; !r.OK() {
		t.Errorf("Run()[i-1] = %+v, want Success", r)
	}
	if r := got["i-2"]; !errors.Is(r.Err, ssmcommand.ErrWaitTimeout) {
		t.Errorf("Run()[i-2] = %+v, want ErrWaitTimeout", r)
	}
	if waited := clock.Since(v, start); waited != time.Hour {
		t.Errorf("Run() waited %v of the clock, want the 1h wait", waited)
	}
	if sent := f.Commands()[0].SentAt; !sent.Equal(start) {
		t.Errorf("command sent at %s, want the clock's %s", sent, start)
	}
}

func TestFakeHandlerAnswersStatefully(t *testing.T) {
	f := ssmcommandtest.NewFake()
	f.AddInstance("i-1", true)
	rebooted := false
	f.Handler = func(doc, id string) ssmcommandtest.Response {
		switch doc {
		case "reboot":
			rebooted = true
			return ssmcommandtest.Response{Status: ssmcommand.StatusUndeliverable}
		case "check":
			if rebooted {
				return ssmcommandtest.Response{Stdout: "1.20.0"}
			}
		}
		return ssmcommandtest.Response{Stdout: "1.19.0"}
	}
	check := func() string {
		got, err := f.Run(t.Context(), "check", []string{"i-1"}, ssmcommand.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return got["i-1"].Stdout
	}
	if v := check(); v != "1.19.0" {
		t.Errorf("check before reboot = %q, want 1.19.0", v)
	}
	if _, err := f.Send(t.Context(), "reboot", "i-1", "job 01J"); err != nil {
		t.Fatal(err)
	}
	if v := check(); v != "1.20.0" {
		t.Errorf("check after reboot = %q, want 1.20.0", v)
	}
	if n := len(f.Commands()); n != 3 {
		t.Errorf("Commands() = %d commands, want 3", n)
	}
	injected := errors.Join(ssmcommand.ErrThrottled, ssmcommand.ErrTransient)
	f.FailNext("Sent", injected)
	if _, err := f.Sent(t.Context(), "i-1", "reboot", "job 01J"); !ssmcommand.IsTransient(err) {
		t.Errorf("Sent() after FailNext error = %v, want the injected transient error", err)
	}
	if sent, err := f.Sent(t.Context(), "i-1", "reboot", "job 01J"); sent == "" || err != nil {
		t.Errorf("Sent() = %q, %v; want the command, nil", sent, err)
	}
}
