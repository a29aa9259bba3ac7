package harness_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rollwave/rollwave/tools/harness"
)

// helperEnv makes the test binary act as a small long-running program for the process tests.
const helperEnv = "HARNESS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "serve" {
		os.Exit(serveUntilTerm())
	}
	os.Exit(m.Run())
}

// serveUntilTerm prints "ready", blocks until SIGTERM and exits 0, like a worker.
func serveUntilTerm() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Println("ready", os.Getenv("HELPER_GREETING"))
	<-ctx.Done()
	fmt.Println("stopping")
	return 0
}

func startHelper(t *testing.T) *harness.Process {
	t.Helper()
	return harness.StartProcess(t, "helper", os.Args[0], []string{helperEnv + "=serve", "HELPER_GREETING=hello", "GORACE=atexit_sleep_ms=0"}, "-test.run=^$")
}

// waitLog waits until the process's log contains want n times.
func waitLog(t *testing.T, p *harness.Process, want string, n int) {
	t.Helper()
	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		got := strings.Count(p.Log(), want)
		return got >= n, fmt.Sprintf("log has %q %d times, want %d:\n%s", want, got, n, p.Log())
	})
}

func TestProcessKillRestartStop(t *testing.T) {
	p := startHelper(t)
	waitLog(t, p, "ready hello", 1)

	p.Kill()
	var exitErr *exec.ExitError
	if err := p.Wait(t.Context()); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("Wait after Kill = %v, want killed by SIGKILL", err)
	}
	if p.Running() {
		t.Fatal("Running() after Kill = true, want false")
	}

	p.Restart()
	waitLog(t, p, "ready hello", 2)
	if !p.Running() {
		t.Fatal("Running() after Restart = false, want true")
	}

	if err := p.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want a clean exit on SIGTERM", err)
	}
	if !strings.Contains(p.Log(), "stopping") {
		t.Errorf("log after Stop lacks the helper's shutdown line:\n%s", p.Log())
	}
}

func TestProcessWaitHonoursContext(t *testing.T) {
	p := startHelper(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a running process = %v, want context.DeadlineExceeded", err)
	}
}

func TestProcessEnvDropsCallersAWSSettings(t *testing.T) {
	t.Setenv("AWS_PROFILE", "developer")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
	p := harness.StartProcess(t, "env", "/usr/bin/env", []string{"AWS_REGION=us-east-1"})
	if err := p.Wait(t.Context()); err != nil {
		t.Fatalf("env: %v", err)
	}
	log := p.Log()
	if strings.Contains(log, "developer") || strings.Contains(log, "real-secret") {
		t.Errorf("child saw the test process's AWS settings:\n%s", log)
	}
	if !strings.Contains(log, "AWS_REGION=us-east-1") {
		t.Errorf("child lacks the env it was given:\n%s", log)
	}
}

func TestBuildBinaryBuildsOnce(t *testing.T) {
	dir := "tools/harness/testdata/tiny" // relative to the repository root
	first := harness.BuildBinary(t, dir)
	info, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	second := harness.BuildBinary(t, dir)
	info2, err := os.Stat(second)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || !info.ModTime().Equal(info2.ModTime()) {
		t.Errorf("BuildBinary built twice: %s (%v), %s (%v)", first, info.ModTime(), second, info2.ModTime())
	}
	p := harness.StartProcess(t, "tiny", first, nil)
	if err := p.Wait(t.Context()); err != nil {
		t.Fatalf("run built binary: %v", err)
	}
	if !strings.Contains(p.Log(), "built") {
		t.Errorf("built binary printed %q, want it to contain built", p.Log())
	}
}
