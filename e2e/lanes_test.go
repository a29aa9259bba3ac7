package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

// stages returns the rollwave.stage of each instance of cluster, by EC2 instance ID ("" when
// unmarked).
func (p *pipeline) stages(cluster string) map[string]string {
	p.t.Helper()
	st, err := p.fleet.State(p.t.Context())
	if err != nil {
		p.t.Fatalf("fleetsim state: %v", err)
	}
	out := map[string]string{}
	for _, c := range st.Clusters {
		if c.Name != cluster {
			continue
		}
		for _, in := range c.Instances {
			out[in.EC2InstanceID] = in.Attributes[update.AttrStage]
		}
	}
	return out
}

// TestRebootsDoNotWaitBehindStaging: while four stagings hang in apiclient update apply, holding
// every one of the patcher's staging slots, a drained instance is rebooted, verified and back in
// service all the same: its reboot goes to the reboot lane, which never waits behind staging.
// A hung apply ends at its SSM document's timeout (30 simulated minutes, 36 s at ×50), freeing
// its slot: through one lane the reboot would wait for that, and the hung hosts would be unmarked
// (staging-failed) before the drained one is updated; through its own lane, it is updated within
// a few simulated minutes of the resume, long before.
func TestRebootsDoNotWaitBehindStaging(t *testing.T) {
	t.Parallel()
	// A look-ahead of all five; the patcher's own apply timeout never ends a hung apply first
	// (its SSM document's timeout does).
	p := startPipeline(t, "testdata/lanes.yaml",
		`ROLLWAVE_CLUSTER_POLICIES={"reboots":{"maxOutOfService":"5"}}`,
		"ROLLWAVE_APPLY_TIMEOUT=5m",
		"ROLLWAVE_PAUSE_REFRESH=500ms")
	ctx := t.Context()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	const fast = "i-0c000000000000001"
	hung := []string{"i-0c000000000000002", "i-0c000000000000003", "i-0c000000000000004", "i-0c000000000000005"}

	// Hold the drains until every staging slot hangs.
	if err := pause.Set(ctx, p.sqs, drainerQ.URL, "reboots", "e2e", "stage first"); err != nil {
		t.Fatal(err)
	}
	res := p.newResults()
	p.send(topology.Patcher, handJob("fast", "reboots", fast))
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		s := p.stages("reboots")
		return s[fast] == string(update.StageStaged), fmt.Sprintf("%s is at stage %q, want staged", fast, s[fast])
	})
	for i, id := range hung {
		p.send(topology.Patcher, handJob(fmt.Sprintf("hung-%d", i), "reboots", id))
	}
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		s := p.stages("reboots")
		for _, id := range hung {
			if s[id] != string(update.StageStaging) {
				return false, fmt.Sprintf("%s is at stage %q, want staging (apply hung)", id, s[id])
			}
		}
		return true, ""
	})

	if err := pause.Clear(ctx, p.sqs, drainerQ.URL, "reboots"); err != nil {
		t.Fatal(err)
	}
	if e := res.waitEnded(150*time.Second, []string{fast})[fast]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Fatalf("%s ended %q (%s: %s), want %q", fast, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded)
	}
	s := p.stages("reboots")
	for _, id := range hung {
		if s[id] != string(update.StageStaging) {
			t.Errorf("%s at stage %q when %s was updated, want still staging: the reboot did not overtake staging", id, s[id], fast)
		}
	}
	p.checkNoDeadLetters()
}

// TestStagingKeepsALookAhead: with a limit of one, a cluster held by a pause gets one instance
// staged ahead of its drain, not all three; the other jobs wait unmarked, their instances in
// service, and once the pause ends each is staged in turn as the one before it is drained, until
// every instance is updated.
func TestStagingKeepsALookAhead(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/lanes.yaml", "ROLLWAVE_PAUSE_REFRESH=500ms")
	ctx := t.Context()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	if err := pause.Set(ctx, p.sqs, drainerQ.URL, "ahead", "e2e", "look-ahead"); err != nil {
		t.Fatal(err)
	}
	res := p.newResults()
	hosts := []string{"i-0d000000000000001", "i-0d000000000000002", "i-0d000000000000003"}
	for i, id := range hosts {
		p.send(topology.Patcher, handJob(fmt.Sprintf("ahead-%d", i), "ahead", id))
	}

	// Each of the two jobs beyond the look-ahead logs its wait once, then waits.
	const held = "look-ahead full: staging waits for a drain"
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		n := strings.Count(p.procs["patcher"].Log(), held)
		s := p.stages("ahead")
		staged := 0
		for _, id := range hosts {
			if s[id] == string(update.StageStaged) {
				staged++
			}
		}
		return n >= 2 && staged == 1, fmt.Sprintf("the patcher held staging %d times, want at least 2; %d staged, want 1", n, staged)
	})
	marked := 0
	for _, id := range hosts {
		if p.stages("ahead")[id] != "" {
			marked++
		}
	}
	if marked != 1 {
		t.Errorf("%d instances marked while the look-ahead is full, want 1: %v", marked, p.stages("ahead"))
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	// One job started (the staged instance's), with its decisions (staged, held by the pause);
	// the jobs beyond the look-ahead published nothing.
	started, others := 0, 0
	for _, e := range res.all {
		switch {
		case e.DetailType == notify.InstanceUpdateStarted:
			started++
		case e.DetailType != notify.InstanceUpdateProgressed:
			others++
		}
	}
	if started != 1 || others != 0 {
		t.Errorf("pipeline events while held: %+v, want the one Instance Update Started of the staged instance and its progress", res.all)
	}

	if err := pause.Clear(ctx, p.sqs, drainerQ.URL, "ahead"); err != nil {
		t.Fatal(err)
	}
	for id, e := range res.waitEnded(240*time.Second, hosts) {
		if e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %q (%s: %s), want %q", id, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded)
		}
	}
	p.checkNoDeadLetters()
}
