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

// TestPauseHoldsDrains pauses a cluster by tagging the drainer's queue, as `rollwave pause` and
// the aws CLI recipe do: a job reaches the drainer and is held, its instance staged and in
// service, while the pause lasts; within seconds of the resume it is drained and updated.
func TestPauseHoldsDrains(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/pause.yaml", "ROLLWAVE_PAUSE_REFRESH=500ms")
	ctx := t.Context()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	if err := pause.Set(ctx, p.sqs, drainerQ.URL, "paused", "e2e", "hold the rollout"); err != nil {
		t.Fatal(err)
	}
	res := p.newResults()
	const host = "i-0f00000000000000a"
	p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","id":"paused-1","cluster":"paused","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"pause"}`, host, targetVersion))

	const held = "not admitted: cluster paused paused by e2e: hold the rollout"
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		n := strings.Count(p.procs["drainer"].Log(), held)
		return n >= 3, fmt.Sprintf("the drainer held the job %d times, want 3", n)
	})
	st, err := p.fleet.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range st.Clusters[0].Instances {
		if in.Status != "ACTIVE" || in.Reboots != 0 {
			t.Errorf("%s while the cluster is paused: %s, %d reboots; want ACTIVE, none", in.EC2InstanceID, in.Status, in.Reboots)
		}
		if in.EC2InstanceID == host && in.Attributes[update.AttrStage] != string(update.StageStaged) {
			t.Errorf("%s while the cluster is paused: stage %q, want staged (held before admission)", host, in.Attributes[update.AttrStage])
		}
	}

	resumed := time.Now()
	if err := pause.Clear(ctx, p.sqs, drainerQ.URL, "paused"); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 15*time.Second, func() (bool, string) {
		st, err := p.fleet.State(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, in := range st.Clusters[0].Instances {
			if in.EC2InstanceID == host {
				return in.Status == "DRAINING" || in.Reboots > 0, fmt.Sprintf("%s is %s, %d reboots", host, in.Status, in.Reboots)
			}
		}
		return false, host + " not found"
	})
	t.Logf("drained %s after the resume", time.Since(resumed).Round(10*time.Millisecond))
	if e := res.waitEnded(60*time.Second, []string{host})[host]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("job ended %q (%s: %s), want %q", e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded)
	}
	p.checkNoDeadLetters()
}
