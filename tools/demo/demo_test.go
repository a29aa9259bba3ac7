package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/tools/harness"
)

// TestDemoRollsOutTheDefaultScenario runs bin/demo as `make demo` does, on binaries built from
// this repository, and expects the default scenario's rollout to succeed: exit 0 and a summary
// that names every instance. It runs again with --quick-moto, the benchmarks' moto
// (quickmoto/moto_quick.py), which must answer as the released one does.
func TestDemoRollsOutTheDefaultScenario(t *testing.T) {
	bin := t.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/demo"} {
		if err := os.Symlink(harness.BuildBinary(t, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{name: "moto as released"},
		{name: "quick moto", flags: []string{"-quick-moto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "demo"), append([]string{"-root", harness.RepoRoot(t), "-bin", bin,
				"-logs", t.TempDir(), "-deadline", "90s"}, tc.flags...)...)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // the demo stops its children
			cmd.WaitDelay = 15 * time.Second
			err := cmd.Run()
			t.Log(out.String())
			if err != nil {
				t.Fatalf("bin/demo: %v, want exit 0", err)
			}
			_, summary, ok := strings.Cut(out.String(), "\nSummary")
			if !ok {
				t.Fatalf("bin/demo printed no summary")
			}
			// The default scenario's instances, prod's five then staging's three.
			for i := 1; i <= 8; i++ {
				id := fmt.Sprintf("i-00f%014d", i)
				if !strings.Contains(summary, id+": updated") && !strings.Contains(summary, id+": skipped: ") {
					t.Errorf("summary does not report %s updated or skipped with a reason:\n%s", id, summary)
				}
			}
			if !strings.Contains(summary, "Rollout succeeded.") {
				t.Errorf("summary does not say the rollout succeeded:\n%s", summary)
			}
		})
	}
}

// TestDemoAgainstARunningEmulator points the demo at an emulator that is already running (as
// -emulator or ROLLWAVE_TEST_EMULATOR point it at LocalStack): it starts no moto of its own and
// the rollout succeeds; an emulator that does not answer is one clear error.
func TestDemoAgainstARunningEmulator(t *testing.T) {
	s := harness.Start(t, harness.WithoutFleetsim())
	bin := t.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/demo"} {
		if err := os.Symlink(harness.BuildBinary(t, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			t.Fatal(err)
		}
	}
	logs := t.TempDir()
	run := func(emulator string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "demo"), "-root", harness.RepoRoot(t), "-bin", bin,
			"-logs", logs, "-deadline", "90s", "-emulator", emulator)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 15 * time.Second
		err := cmd.Run()
		t.Log(out.String())
		return out.String(), err
	}
	if out, err := run("http://127.0.0.1:1"); err == nil || !strings.Contains(out, "reach the emulator at http://127.0.0.1:1") {
		t.Errorf("demo -emulator of nothing = %v, want an error naming the emulator it could not reach", err)
	}
	out, err := run(s.EmulatorURL)
	if err != nil || !strings.Contains(out, "Rollout succeeded.") {
		t.Fatalf("demo -emulator %s = %v, want exit 0 and a rollout that succeeded", s.EmulatorURL, err)
	}
	if matches, _ := filepath.Glob(filepath.Join(logs, "moto-*.log")); len(matches) > 0 {
		t.Errorf("the demo started moto (%v) although an emulator was given", matches)
	}
}
