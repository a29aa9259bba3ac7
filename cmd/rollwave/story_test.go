package main

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestOperatorRedrivesAJobThatFailedOnThrottling is an operator's story with the rollwave binary
// and the four workers: ECS throttles PutAttributes for longer than the patcher's retries last,
// so the job that would mark the instance lands in the patcher's dead-letter queue;
// `rollwave dlq show` says why; once the throttling is over, `rollwave dlq redrive` puts the job
// back and it updates the instance.
//
// The patcher's backoff (5 s, 10 s, 20 s, 40 s before the fifth and last receive) makes this
// test take about a minute and a half.
func TestOperatorRedrivesAJobThatFailedOnThrottling(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	ctx := t.Context()
	fleet := admin.New(st.s.FleetsimURL)
	state, err := fleet.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, c := range state.Clusters {
		arns = append(arns, c.ARN)
	}
	// Only this test's cluster's ECS events, so parallel tests' fleets do not wake our workers.
	if _, err := bootstrap.Run(ctx, st.s.AWSConfig(ctx), topology.Default(st.prefix).RestrictToClusters(arns)); err != nil {
		t.Fatal(err)
	}
	env := append(st.s.Env(),
		"ROLLWAVE_PREFIX="+st.prefix, "ROLLWAVE_CLUSTERS=ops-a", "ROLLWAVE_LOG_LEVEL=debug",
		"ROLLWAVE_SSM_POLL_INTERVAL=200ms", "ROLLWAVE_RECHECK_INTERVAL=250ms", "ROLLWAVE_ADMISSION_RETRY=200ms",
		"ROLLWAVE_SHUTDOWN_GRACE=2s", "ROLLWAVE_SSM_TIMEOUT=30s", "ROLLWAVE_APPLY_TIMEOUT=30s",
		"ROLLWAVE_DRAIN_TIMEOUT=60s", "ROLLWAVE_REBOOT_TIMEOUT=60s",
	)
	for _, w := range []string{"scanner", "patcher", "drainer", "verifier"} {
		harness.StartProcess(t, w, harness.BuildBinary(t, "services/"+w), env)
	}
	cli := harness.BuildBinary(t, "cmd/rollwave")
	rollwave := func(args ...string) (string, int) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, cli, args...)
		cmd.Env = append(env, "USER=oncall", "PATH=/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("rollwave %s: %v", strings.Join(args, " "), err)
		}
		t.Logf("$ rollwave %s  (exit %d)\n%s", strings.Join(args, " "), code, out)
		return string(out), code
	}

	// The fault: ECS throttles every PutAttributes, which the CLI never calls and the patcher
	// needs to mark the instance.
	if err := fleet.InjectFaults(ctx, admin.Faults{API: []admin.APIFault{{Operation: "ecs:PutAttributes", ThrottleRate: 1}}}); err != nil {
		t.Fatal(err)
	}
	const instance = "i-0aaaaaaaaaaaaaaa1"
	out, code := rollwave("jobs", "send", "--cluster", "ops-a", "--instance", instance, "--target-version", "1.20.3", "--reason", "story")
	if code != 0 {
		t.Fatalf("jobs send: exit %d", code)
	}
	m := regexp.MustCompile(`sent job (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("jobs send printed no job ID: %q", out)
	}
	jobID := m[1]

	dlq := st.queue(topology.Patcher).DeadLetterURL
	harness.Eventually(t, 3*time.Minute, func() (bool, string) {
		n := st.count(dlq)
		return n == 1, "patcher's dead letters: " + strings.Repeat("|", n)
	})
	out, code = rollwave("dlq", "show", "patcher")
	if code != 0 || !strings.Contains(out, jobID) || !strings.Contains(strings.ToLower(out), "throttl") {
		t.Fatalf("dlq show patcher: exit %d; want job %s and the throttling named as the reason", code, jobID)
	}

	if err := fleet.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if out, code = rollwave("dlq", "redrive", "patcher", "--all"); code != 0 || !strings.Contains(out, jobID) {
		t.Fatalf("dlq redrive: exit %d", code)
	}
	harness.Eventually(t, 3*time.Minute, func() (bool, string) {
		rep, err := fleet.Report(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, in := range rep.Instances {
			if in.EC2InstanceID == instance {
				return in.Version == "1.20.3" && in.Status == "ACTIVE", "instance " + in.Status + " on " + in.Version
			}
		}
		return false, "instance not in the report"
	})
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		out, _ := rollwave("status", "--cluster", "ops-a", "-o", "json")
		return !strings.Contains(out, `"job": "`+jobID), "the instance still carries the job's marks"
	})
	if n := st.count(dlq); n != 0 {
		t.Errorf("%d dead letters left in the patcher's queue, want 0", n)
	}
}
