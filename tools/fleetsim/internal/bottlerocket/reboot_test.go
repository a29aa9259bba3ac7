package bottlerocket

import (
	"strings"
	"testing"
	"time"
)

func TestRebootBootsTheActivatedVersion(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	f.mustRun("apiclient update apply")

	got := f.mustRun("apiclient reboot")
	if got.Stdout != "" || got.Stderr != "Rebooting, goodbye...\n" {
		t.Errorf("reboot = %+v, want empty stdout and %q", got, "Rebooting, goodbye...\n")
	}
	if !f.host.Up() {
		t.Fatalf("Up() right after the reboot request = false, want true until Shutdown passes")
	}
	f.clock.Advance(timings.Shutdown)
	if f.host.Up() {
		t.Fatalf("Up() after Shutdown = true, want false")
	}
	down := f.start("apiclient update check")
	if *down == nil || (*down).ExitCode != ExitHostDown {
		t.Fatalf("Run on a down host = %+v, want an immediate result with exit %d", *down, ExitHostDown)
	}
	f.clock.Advance(timings.Boot)
	if !f.host.Up() {
		t.Fatalf("Up() after Boot = false, want true")
	}
	if v := f.host.Version(); v != "1.20.3" {
		t.Errorf("Version() after reboot = %s, want 1.20.3", v)
	}
	if n := f.host.Reboots(); n != 1 {
		t.Errorf("Reboots() = %d, want 1", n)
	}
	wantEvents := "down@1m15s up=false,up@1m55s 1.20.3" // check 2s + apply 63s, then Shutdown 10s, Boot 40s
	if e := strings.Join(f.hooks.events, ","); e != wantEvents {
		t.Errorf("hooks = %s, want %s", e, wantEvents)
	}

	// status.json lived on tmpfs: the first read after boot finds nothing.
	raw := f.run("apiclient -u /updates/status")
	wantErr := "Failed GET request to '/updates/status': Status 404 when GETing /updates/status: Update status is uninitialized, refresh-updates to initialize it\n"
	if raw.ExitCode != 1 || raw.Stderr != wantErr {
		t.Errorf("first status read after boot = %+v, want exit 1 and %q", raw, wantErr)
	}
	if s := f.host.UpdateState(); s != StateIdle {
		t.Errorf("UpdateState() after boot = %s, want Idle", s)
	}
	check := f.mustRun("apiclient update check")
	if !strings.Contains(check.Stdout, `"update_state": "Idle"`) || !strings.Contains(check.Stdout, `"chosen_update": null`) {
		t.Errorf("check after updating to the newest = %s, want Idle with no chosen update", check.Stdout)
	}
	if !strings.Contains(f.mustRun("apiclient -u /updates/status").Stdout, `"update_state":"Idle"`) {
		t.Errorf("status read after check is not initialised")
	}
}

func TestRebootWithoutActivationKeepsVersion(t *testing.T) {
	for _, from := range []string{"Available", "Staged"} {
		t.Run(from, func(t *testing.T) {
			f := newFixture(t, nil)
			for _, line := range setups[from] {
				f.mustRun(line)
			}
			f.mustRun("apiclient reboot")
			f.clock.Advance(timings.Shutdown + timings.Boot)
			if !f.host.Up() || f.host.Version() != "1.19.5" {
				t.Errorf("after reboot from %s: Up() = %v, Version() = %s, want true, 1.19.5", from, f.host.Up(), f.host.Version())
			}
		})
	}
}

func TestFailedBootTryRollsBack(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	f.mustRun("apiclient update apply")
	f.host.SetFaults(Faults{NewVersionFailsToBoot: true})
	f.mustRun("apiclient reboot")
	f.clock.Advance(timings.Shutdown + timings.Boot)
	if f.host.Up() {
		t.Fatalf("Up() after one Boot = true, want false: the failed try and the fallback take two")
	}
	f.clock.Advance(timings.Boot)
	if !f.host.Up() {
		t.Fatalf("Up() after the fallback boot = false, want true")
	}
	if v := f.host.Version(); v != "1.19.5" {
		t.Errorf("Version() after a failed boot try = %s, want the old 1.19.5", v)
	}
	if n := f.host.Reboots(); n != 1 {
		t.Errorf("Reboots() = %d, want 1", n)
	}
	// The failed set is no longer next to boot: another reboot stays put,
	// even once the fault is gone.
	f.host.SetFaults(Faults{})
	f.mustRun("apiclient reboot")
	f.clock.Advance(timings.Shutdown + timings.Boot)
	if v := f.host.Version(); v != "1.19.5" {
		t.Errorf("Version() after a second reboot = %s, want 1.19.5", v)
	}
	// Updating again works.
	f.mustRun("apiclient update apply --check")
	f.mustRun("apiclient reboot")
	f.clock.Advance(timings.Shutdown + timings.Boot)
	if v := f.host.Version(); v != "1.20.3" {
		t.Errorf("Version() after a clean retry = %s, want 1.20.3", v)
	}
}

func TestRebootNeverReturns(t *testing.T) {
	f := newFixture(t, func(c *HostConfig) { c.Faults.RebootNeverReturns = true })
	f.mustRun("apiclient reboot")
	f.clock.Advance(24 * time.Hour)
	if f.host.Up() {
		t.Errorf("Up() = true, want the host to stay down")
	}
	if e := strings.Join(f.hooks.events, ","); e != "down@10s up=false" {
		t.Errorf("hooks = %s, want only the HostDown", e)
	}
	if f.host.UpdateState() != "" {
		t.Errorf("UpdateState() of a down host = %q, want empty", f.host.UpdateState())
	}
}

func TestApplyReboot(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	got := f.start("apiclient update apply --reboot")
	f.clock.Advance(timings.Prepare + timings.Activate)
	if *got == nil {
		t.Fatalf("apply --reboot did not answer before the host went down")
	}
	wantErr := "Downloading and applying update to disk...\nSetting the update active so it will apply on the next reboot...\nRebooting, goodbye...\n"
	if r := **got; r.ExitCode != 0 || r.Stderr != wantErr {
		t.Errorf("apply --reboot = %+v, want exit 0 and stderr %q", r, wantErr)
	}
	f.clock.Advance(timings.Shutdown + timings.Boot)
	if v := f.host.Version(); !f.host.Up() || v != "1.20.3" {
		t.Errorf("after apply --reboot: Up() = %v, Version() = %s, want true, 1.20.3", f.host.Up(), v)
	}
}

func TestHostDownCutsOffRunningCommands(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	apply := f.start("apiclient update apply")
	f.mustRun("apiclient reboot") // reboot does not take the update lock
	f.clock.Advance(time.Hour)
	if *apply != nil {
		t.Errorf("apply answered %+v, want no answer: the host went down mid-prepare", **apply)
	}
	if v := f.host.Version(); v != "1.19.5" {
		t.Errorf("Version() = %s, want 1.19.5: the update was never activated", v)
	}
	if n := f.clock.pending(); n != 0 {
		t.Errorf("%d timers still pending, want 0", n)
	}
}

func TestUpdateLock(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	apply := f.start("apiclient update apply")
	f.clock.Advance(time.Second) // mid-prepare

	locked := "got code '423 Locked': Unable to obtain shared lock for reading update status"
	for _, line := range []string{"apiclient update check", "apiclient update apply", "apiclient update cancel", "apiclient update apply --check"} {
		got := f.run(line)
		if got.ExitCode != 1 || got.Stdout != "" || !strings.Contains(got.Stderr, locked) {
			t.Errorf("Run(%q) during apply = %+v, want exit 1 with %q", line, got, locked)
		}
	}
	raw := f.run("apiclient raw -u /updates/status")
	if raw.ExitCode != 1 || !strings.Contains(raw.Stderr, "Status 423 when GETing /updates/status") {
		t.Errorf("status read during apply = %+v, want a 423", raw)
	}
	if os := f.run("apiclient get os"); os.ExitCode != 0 {
		t.Errorf("get os during apply exit = %d, want 0: reads of /os take no update lock", os.ExitCode)
	}
	f.clock.Advance(timings.Prepare + timings.Activate)
	if *apply == nil || (*apply).ExitCode != 0 {
		t.Fatalf("apply = %+v, want success despite the refused calls", *apply)
	}
	f.mustRun("apiclient update check") // lock released
}

func TestApplyHangsHoldsTheLockUntilReboot(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRun("apiclient update check")
	f.host.SetFaults(Faults{ApplyHangs: true})
	apply := f.start("apiclient update apply")
	f.clock.Advance(24 * time.Hour)
	if *apply != nil {
		t.Fatalf("hanging apply answered %+v", **apply)
	}
	if got := f.run("apiclient update check"); got.ExitCode != 1 || !strings.Contains(got.Stderr, "423 Locked") {
		t.Errorf("check while apply hangs = %+v, want 423", got)
	}
	f.host.SetFaults(Faults{})
	f.mustRun("apiclient reboot")
	f.clock.Advance(timings.Shutdown + timings.Boot)
	f.mustRun("apiclient update check")
	if *apply != nil {
		t.Errorf("hanging apply answered after reboot: %+v", **apply)
	}
}
