package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// stackEnv reads the environment file of make up: `export KEY="value"` lines.
func stackEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("make up wrote no environment: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		uv, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("%s: %q is not a quoted value: %v", path, line, err)
		}
		env[k] = uv
	}
	return env
}

// command runs bin with args in the environment env (and PATH, HOME), bounded by timeout.
func command(t *testing.T, env map[string]string, timeout time.Duration, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s -> %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	return string(out), err
}

// TestUpScanStatusDown is make up and make down as a person uses them: the stack comes up and
// stays up after the command returns, a scan through the rollwave CLI updates an instance,
// status and the aws CLI wrapper see the stack, and down leaves nothing running.
func TestUpScanStatusDown(t *testing.T) {
	bin := t.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier", "tools/demo", "cmd/rollwave"} {
		if err := os.Symlink(harness.BuildBinary(t, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	demo := filepath.Join(bin, "demo")
	args := []string{"-root", harness.RepoRoot(t), "-bin", bin, "-state", state}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(state, pidsFile)); err == nil { // the test stopped before down
			_, _ = command(t, nil, time.Minute, demo, append([]string{"down"}, args...)...)
		}
	})
	out, err := command(t, nil, 2*time.Minute, demo, append([]string{"up"}, args...)...)
	if err != nil {
		t.Fatalf("demo up: %v", err)
	}
	for _, want := range []string{"rollwave stack up", filepath.Join(state, envFile), "--endpoint-url", "make down"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo up did not print %q", want)
		}
	}
	pids, err := readPids(state)
	if err != nil || len(alive(pids)) != 6 {
		t.Fatalf("after up returned, %d of the processes of %v run (%v), want 6: moto, fleetsim, four workers", len(alive(pids)), pids, err)
	}
	if out, err := command(t, nil, time.Minute, demo, append([]string{"up"}, args...)...); err == nil || !strings.Contains(out, "already up") {
		t.Errorf("a second up = %v, %q; want an error saying the stack is already up", err, out)
	}

	env := stackEnv(t, filepath.Join(state, envFile))
	rollwave := filepath.Join(bin, "rollwave")
	if _, err := command(t, env, time.Minute, rollwave, "scan", "--reason", "make up test"); err != nil {
		t.Fatalf("rollwave scan: %v", err)
	}
	fleet := admin.New(env["ROLLWAVE_FLEETSIM_URL"])
	harness.Eventually(t, 3*time.Minute, func() (bool, string) {
		rep, err := fleet.Report(t.Context())
		if err != nil {
			return false, err.Error()
		}
		for _, in := range rep.Instances {
			if in.Version != in.InitialVersion && in.Status == "ACTIVE" {
				return true, ""
			}
		}
		return false, "no instance updated and back in service yet"
	})
	// The page of the stack: fleetsim's steps, the history's outcomes (the skip, in words).
	page := filepath.Join(t.TempDir(), "rollout.html")
	harness.Eventually(t, 3*time.Minute, func() (bool, string) {
		if _, err := command(t, env, time.Minute, rollwave, "report", "--fleetsim", env["ROLLWAVE_FLEETSIM_URL"], "--history", "--out", page); err != nil {
			return false, err.Error()
		}
		b, err := os.ReadFile(page)
		return err == nil && strings.Contains(string(b), "skipped: a task that no service started runs there (standalone-task)") &&
			strings.Contains(string(b), `class="bar drain"`), "the page has no skip in words or no drain yet"
	})
	out, err = command(t, env, time.Minute, rollwave, "status", "-o", "json")
	if err != nil {
		t.Fatalf("rollwave status: %v", err)
	}
	var status struct {
		Clusters []struct {
			Cluster string `json:"cluster"`
			Total   int    `json:"total"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status.Clusters) != 2 || status.Clusters[0].Total != 5 {
		t.Errorf("rollwave status -o json = %+v, %v; want prod's 5 instances and staging", status, err)
	}
	if out, err := command(t, nil, time.Minute, filepath.Join(state, awsFile), "sqs", "list-queues"); err != nil || !strings.Contains(out, "rollwave-patcher") {
		t.Errorf("the aws wrapper's sqs list-queues = %v, want rollwave's queues", err)
	}
	if out, err := command(t, nil, time.Minute, filepath.Join(state, awsFile), "ecs", "list-clusters"); err != nil || !strings.Contains(out, "cluster/prod") {
		t.Errorf("the aws wrapper's ecs list-clusters = %v, want fleetsim's clusters", err)
	}

	out, err = command(t, nil, 2*time.Minute, demo, append([]string{"down"}, args...)...)
	if err != nil || !strings.Contains(out, "6 processes stopped") {
		t.Fatalf("demo down = %v, %q; want 6 processes stopped", err, out)
	}
	if left := alive(pids); len(left) > 0 {
		t.Errorf("after down, still running: %v", left)
	}
	if out, err := command(t, nil, time.Minute, demo, append([]string{"down"}, args...)...); err != nil || !strings.Contains(out, "nothing is up") {
		t.Errorf("a second down = %v, %q; want exit 0 and nothing is up", err, out)
	}
}
