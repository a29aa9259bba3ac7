package e2e_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestHealthGateHaltsAndRollsBack proves the health gate's halt and rollback (testdata/gate.yaml):
// the first instance updated comes back with a service task that never starts. The next drain
// does not start; once the gate's timeout has passed since the update was verified, the cluster
// halts ("Cluster Rollout Halted", reason health-gate, and the drainer's pause), the instance is
// rolled back to its previous version (fleetsim's report), and no other instance is drained.
func TestHealthGateHaltsAndRollsBack(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/gate.yaml",
		"ROLLWAVE_ROLLBACK=true",
		"ROLLWAVE_HEALTH_GATE_TIMEOUT=4s", // real time, counted from the verifier's verified-at
		"ROLLWAVE_PAUSE_REFRESH=500ms",
		"ROLLWAVE_ERROR_BUDGET_FAILURES=5", // only the gate may halt this cluster
	)
	const first = "i-0e00000000000003a"
	others := []string{"i-0e00000000000003b", "i-0e00000000000003c"}
	ctx := t.Context()
	res := p.newResults()

	// The first update succeeds as far as the pipeline can tell: the host is back, on the target.
	p.send(topology.Patcher, handJob("first", "gate", first))
	if e := res.waitEnded(60*time.Second, []string{first})[first]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
		t.Fatalf("%s ended %q (%s: %s), want updated to %s", first, e.DetailType, e.Reason, e.Message, targetVersion)
	}
	harness.Eventually(t, 15*time.Second, func() (bool, string) {
		for _, in := range p.instances()["gate"] {
			if in.EC2InstanceID == first {
				for _, task := range in.Tasks {
					if task.LastStatus == "PENDING" {
						return true, ""
					}
				}
				return false, fmt.Sprintf("%s runs %d tasks, none PENDING yet", first, len(in.Tasks))
			}
		}
		return false, first + " is not in fleetsim's state"
	})

	// The next jobs: the gate holds their drains, then fails.
	for i, id := range others {
		p.send(topology.Patcher, handJob(fmt.Sprintf("next-%d", i), "gate", id))
	}
	var halt ended
	harness.Eventually(t, 45*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		for _, e := range res.all {
			if e.DetailType == notify.ClusterRolloutHalted {
				halt = e
				return true, ""
			}
		}
		return false, "no Cluster Rollout Halted event yet"
	})
	if halt.Cluster != "gate" || halt.Reason != "health-gate" || !strings.Contains(halt.Message, first) || !strings.Contains(halt.Message, "rolling back "+first+" to "+oldVersion) {
		t.Errorf("halted event = %+v, want cluster gate, reason health-gate, a message naming %s and its rollback to %s", halt, first, oldVersion)
	}
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pause.Read(ctx, p.sqs, drainerQ.URL)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := st.Paused("gate"); !ok || info.Who != "rollwave drainer" || !strings.Contains(info.Reason, "health gate") {
		t.Errorf("pause of cluster gate = %+v, %t; want one by the drainer's health gate", info, ok)
	}

	// The rollback: a job with lockVersion, verified on the previous version.
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		for _, e := range res.all {
			if e.EC2InstanceID == first && e.RequestedBy == "rollwave-drainer" &&
				(e.DetailType == notify.InstanceUpdateSucceeded || e.DetailType == notify.InstanceUpdateFailed || e.DetailType == notify.InstanceUpdateSkipped) {
				if e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != oldVersion {
					t.Errorf("rollback job %s of %s ended %q (%s: %s) on %s, want succeeded on %s", e.JobID, first, e.DetailType, e.Reason, e.Message, e.ToVersion, oldVersion)
				}
				if !regexp.MustCompile(`^j-[0-9a-f]{20}$`).MatchString(e.JobID) {
					t.Errorf("rollback job ID %q, want the one form of every job: j- and 20 hex digits", e.JobID)
				}
				return true, ""
			}
		}
		return false, "the rollback of " + first + " has not ended yet"
	})
	// The others' jobs are held by the halt while the rollback ran: each waits for the resume,
	// and looks again at the latest after the backstop (ROLLWAVE_ADMISSION_BACKSTOP, 5s, plus
	// jitter): give each one more look, held again.
	held := "not admitted: cluster gate paused by rollwave drainer"
	before := strings.Count(p.procs["drainer"].Log(), held)
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		n := strings.Count(p.procs["drainer"].Log(), held)
		return n >= before+len(others), fmt.Sprintf("the drainer held the other jobs %d times, want %d", n, before+len(others))
	})

	rep := p.report()
	in := reportInstance(t, rep, first)
	if in.Version != oldVersion || in.Reboots != 2 || in.Status != "ACTIVE" {
		t.Errorf("%s: %s on %s after %d reboots, want ACTIVE on its previous %s after 2 (the update and the rollback)", first, in.Status, in.Version, in.Reboots, oldVersion)
	}
	for _, id := range others {
		in := reportInstance(t, rep, id)
		if in.Reboots != 0 || in.Version != oldVersion || in.Status != "ACTIVE" || firstEvent(in.Timeline, admin.EventDraining) != (time.Time{}) {
			t.Errorf("%s: %s on %s, %d reboots, timeline %v; want never drained nor rebooted, ACTIVE on %s", id, in.Status, in.Version, in.Reboots, in.Timeline, oldVersion)
		}
	}
	p.checkNoDeadLetters()
}
