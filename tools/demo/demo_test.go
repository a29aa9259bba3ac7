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
// that names every instance.
func TestDemoRollsOutTheDefaultScenario(t *testing.T) {
	bin := t.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/demo"} {
		if err := os.Symlink(harness.BuildBinary(t, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "demo"), "-root", harness.RepoRoot(t), "-bin", bin,
		"-logs", t.TempDir(), "-deadline", "90s")
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
}
