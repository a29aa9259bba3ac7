package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

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
	p := startPipeline(t)
	st, ctx := p.stack, t.Context()
	fleet := admin.New(st.s.FleetsimURL)
	rollwave := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := p.rollwave(args...)
		return out + errOut, code
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
