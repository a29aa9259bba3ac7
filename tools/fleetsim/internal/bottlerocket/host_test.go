package bottlerocket

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// timings are distinct so a test can tell which step it is in.
var timings = Timings{
	Refresh:  2 * time.Second,
	Prepare:  60 * time.Second,
	Activate: 3 * time.Second,
	Cancel:   time.Second,
	Shutdown: 10 * time.Second,
	Boot:     40 * time.Second,
}

// hookLog records hook calls with their virtual time.
type hookLog struct {
	clock  *fakeClock
	events []string
}

func (l *hookLog) HostDown(h *Host) {
	l.events = append(l.events, "down@"+l.clock.Now().Sub(epoch).String()+" up="+boolStr(h.Up()))
}

func (l *hookLog) HostUp(h *Host) {
	l.events = append(l.events, "up@"+l.clock.Now().Sub(epoch).String()+" "+h.Version())
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

type fixture struct {
	t     *testing.T
	clock *fakeClock
	hooks *hookLog
	repo  *Repo
	host  *Host
}

// newFixture builds a host on 1.19.5 offered 1.20.3, 1.20.2 and 1.19.5.
func newFixture(t *testing.T, mod func(*HostConfig)) *fixture {
	t.Helper()
	clock := newFakeClock()
	repo := NewRepo(
		Release{Variant: "aws-ecs-2", Version: "1.19.5", Released: epoch.Add(-30 * 24 * time.Hour)},
		Release{Variant: "aws-ecs-2", Version: "1.20.3", Released: epoch.Add(-24 * time.Hour)},
		Release{Variant: "aws-ecs-2", Arch: "x86_64", Version: "1.20.2", Released: epoch.Add(-48 * time.Hour)},
		Release{Variant: "aws-ecs-1", Version: "1.21.0", Released: epoch},
		Release{Variant: "aws-ecs-2", Arch: "aarch64", Version: "1.20.4", Released: epoch},
	)
	cfg := HostConfig{
		ID: "i-0123456789abcdef0", Arch: "x86_64", Variant: "aws-ecs-2", Version: "1.19.5",
		Repo: repo, Timings: timings, Seed: 1000,
	}
	if mod != nil {
		mod(&cfg)
	}
	hooks := &hookLog{clock: clock}
	return &fixture{t: t, clock: clock, hooks: hooks, repo: repo, host: NewHost(cfg, clock, hooks)}
}

// start runs line and returns a pointer that is filled when done is called.
func (f *fixture) start(line string) **Result {
	var got *Result
	calls := 0
	f.host.Run(line, func(r Result) {
		calls++
		if calls > 1 {
			f.t.Fatalf("Run(%q): done called %d times, want once", line, calls)
		}
		got = &r
	})
	return &got
}

// run runs line to completion (advancing virtual time at most an hour) and
// fails the test if it never completes.
func (f *fixture) run(line string) Result {
	f.t.Helper()
	got := f.start(line)
	for i := 0; i < 3600 && *got == nil; i++ {
		f.clock.Advance(time.Second)
	}
	if *got == nil {
		f.t.Fatalf("Run(%q) never completed", line)
	}
	return **got
}

// mustRun runs line and fails the test unless it exits 0.
func (f *fixture) mustRun(line string) Result {
	f.t.Helper()
	r := f.run(line)
	if r.ExitCode != 0 {
		f.t.Fatalf("Run(%q) exit = %d, want 0; stderr:\n%s", line, r.ExitCode, r.Stderr)
	}
	return r
}

// Ways to bring a fresh host to each state before the command under test.
var setups = map[string][]string{
	"fresh":     nil,
	"Idle":      {"apiclient set updates.version-lock=1.19.5", "apiclient update check"},
	"Available": {"apiclient update check"},
	"Staged":    {"apiclient update check", "apiclient update apply", "apiclient update cancel"},
	"Ready":     {"apiclient update check", "apiclient update apply"},
}

func TestTransitions(t *testing.T) {
	const (
		hint       = "Running 'apiclient update check' will help you find out."
		disallowed = "Status 409 when POSTing /actions/prepare-update: Update action not allowed according to update state"
		noCancel   = "Failed to cancel update: Failed to make deactivate request: Status 409 when POSTing /actions/deactivate-update: Update action not allowed according to update state"
	)
	tests := []struct {
		name       string
		from       string
		faults     Faults
		cmd        string
		wantState  string
		wantExit   int
		wantStdout bool   // stdout carries the status JSON
		wantStderr string // substring of stderr
	}{
		{"check initialises a fresh status and finds an update", "fresh", Faults{}, "apiclient update check", StateAvailable, 0, true, "Refreshing updates..."},
		{"check with nothing chosen stays Idle", "Idle", Faults{}, "apiclient update check", StateIdle, 0, true, "Refreshing updates..."},
		{"check keeps Available", "Available", Faults{}, "apiclient update check", StateAvailable, 0, true, ""},
		{"check keeps Staged", "Staged", Faults{}, "apiclient update check", StateStaged, 0, true, ""},
		{"check keeps Ready", "Ready", Faults{}, "apiclient update check", StateReady, 0, true, ""},
		{"failed check drops Available to Idle", "Available", Faults{CheckFails: true}, "apiclient update check", StateIdle, 1, false, "Failed to check for updates: refresh attempt failed with status 'Failed' (1)"},
		{"failed check on a fresh host", "fresh", Faults{CheckFails: true}, "apiclient update check", StateIdle, 1, false, "refresh attempt failed"},
		{"failed check keeps Staged", "Staged", Faults{CheckFails: true}, "apiclient update check", StateStaged, 1, false, "refresh attempt failed"},
		{"failed check keeps Ready", "Ready", Faults{CheckFails: true}, "apiclient update check", StateReady, 1, false, "refresh attempt failed"},

		{"apply from Available", "Available", Faults{}, "apiclient update apply", StateReady, 0, false, "Update has been applied and will take effect on next reboot."},
		{"apply from Staged prepares again", "Staged", Faults{}, "apiclient update apply", StateReady, 0, false, "Setting the update active"},
		{"apply refused on a fresh host", "fresh", Faults{}, "apiclient update apply", StateIdle, 1, false, disallowed},
		{"apply refused from Idle", "Idle", Faults{}, "apiclient update apply", StateIdle, 1, false, hint},
		{"apply refused from Ready", "Ready", Faults{}, "apiclient update apply", StateReady, 1, false, disallowed},
		{"failed prepare from Available stays Available", "Available", Faults{ApplyFails: true}, "apiclient update apply", StateAvailable, 1, false, "Detail: prepare attempt failed with status 'Failed' (1)"},
		{"failed prepare from Staged reverts to Available", "Staged", Faults{ApplyFails: true}, "apiclient update apply", StateAvailable, 1, false, "prepare attempt failed"},

		{"apply --check applies what it finds", "fresh", Faults{}, "apiclient update apply --check", StateReady, 0, true, "Update has been applied"},
		{"apply --check with nothing to do exits 0", "Idle", Faults{}, "apiclient update apply --check", StateIdle, 0, true, "No updates available."},
		{"apply --check when Ready exits 0", "Ready", Faults{}, "apiclient update apply -c", StateReady, 0, true, "Update already applied; reboot for it to take effect, or request a cancel."},
		{"apply --check stops on a failed check", "fresh", Faults{CheckFails: true}, "apiclient update apply --check", StateIdle, 1, false, "Failed to check for updates"},

		{"cancel from Ready", "Ready", Faults{}, "apiclient update cancel", StateStaged, 0, false, "Canceling update..."},
		{"cancel refused from Staged", "Staged", Faults{}, "apiclient update cancel", StateStaged, 1, false, noCancel},
		{"cancel refused from Available", "Available", Faults{}, "apiclient update cancel", StateAvailable, 1, false, noCancel},
		{"cancel refused from Idle", "Idle", Faults{}, "apiclient update cancel", StateIdle, 1, false, noCancel},
		{"cancel refused on a fresh host", "fresh", Faults{}, "apiclient update cancel", StateIdle, 1, false, noCancel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			for _, line := range setups[tt.from] {
				f.mustRun(line)
			}
			if tt.from != "fresh" && f.host.UpdateState() != tt.from {
				t.Fatalf("setup reached %s, want %s", f.host.UpdateState(), tt.from)
			}
			f.host.SetFaults(tt.faults)
			got := f.run(tt.cmd)
			if got.ExitCode != tt.wantExit {
				t.Errorf("Run(%q) exit = %d, want %d; stderr:\n%s", tt.cmd, got.ExitCode, tt.wantExit, got.Stderr)
			}
			if has := strings.Contains(got.Stdout, `"update_state"`); has != tt.wantStdout {
				t.Errorf("Run(%q) stdout = %q, want status JSON: %v", tt.cmd, got.Stdout, tt.wantStdout)
			}
			if !strings.Contains(got.Stderr, tt.wantStderr) {
				t.Errorf("Run(%q) stderr = %q, want it to contain %q", tt.cmd, got.Stderr, tt.wantStderr)
			}
			if s := f.host.UpdateState(); s != tt.wantState {
				t.Errorf("UpdateState() after %q = %s, want %s", tt.cmd, s, tt.wantState)
			}
		})
	}
}

func TestUpdateCheckGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"available", []string{"apiclient update check"}},
		{"ready", []string{"apiclient update check", "apiclient update apply", "apiclient update check"}},
		{"idle_locked", []string{"apiclient set settings.updates.version-lock=v1.19.5", "apiclient update check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var got Result
			for _, line := range tt.lines {
				got = f.mustRun(line)
			}
			text := "# stdout\n" + got.Stdout + "# stderr\n" + got.Stderr
			golden(t, "update_check_"+tt.name+".golden", text)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
