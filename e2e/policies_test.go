package e2e_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestLimits proves the concurrency limits from fleetsim's report: a 20 % limit on a ten-instance
// cluster never has more than two instances out of service, and a global limit of 3 holds across
// both clusters at every moment.
func TestLimits(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/limits.yaml",
		`ROLLWAVE_CLUSTER_POLICIES={"limits-ten": {"maxOutOfService": "20%"}, "limits-five": {"maxOutOfService": "3"}}`,
		"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE=3")
	res := p.newResults()
	p.scan()
	var ids []string
	for _, ins := range p.instances() {
		ids = append(ids, sortedIDs(ins)...)
	}
	ended := res.waitEnded(150*time.Second, ids)
	for _, id := range ids {
		if e := ended[id]; e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %s (%s), want succeeded", id, e.DetailType, e.Message)
		}
	}
	r := p.report()
	for _, c := range r.Clusters {
		if c.Cluster == "limits-ten" && c.MaxOutOfService > 2 {
			t.Errorf("limits-ten had %d instances out of service at once, want at most 2 (20%% of 10)", c.MaxOutOfService)
		}
	}
	if got := maxTotalOutOfService(r.Clusters); got > 3 {
		t.Errorf("%d instances out of service across the clusters at once, want at most the global limit 3", got)
	}
	p.checkNoDeadLetters()
}

// maxTotalOutOfService is the most instances out of service at the same moment across clusters,
// from the clusters' samples (each a count from its T on).
func maxTotalOutOfService(clusters []admin.ClusterReport) int {
	type change struct {
		t       time.Time
		cluster int
		n       int
	}
	var changes []change
	for i, c := range clusters {
		for _, s := range c.Samples {
			changes = append(changes, change{s.T, i, s.OutOfService})
		}
	}
	sort.SliceStable(changes, func(a, b int) bool { return changes[a].t.Before(changes[b].t) })
	now := make([]int, len(clusters))
	most := 0
	for i, ch := range changes {
		now[ch.cluster] = ch.n
		if i+1 < len(changes) && changes[i+1].t.Equal(ch.t) {
			continue // count the moment once all its changes are in
		}
		total := 0
		for _, n := range now {
			total += n
		}
		most = max(most, total)
	}
	return most
}

// TestCapacityWaits proves the capacity check: in a cluster where any drain would leave a
// replacement task unplaceable, rollwave keeps every staged instance in service, looking again
// (no instance returns to service to wake the jobs: each looks again after the backstop), and the
// service never drops below its minimumHealthyPercent.
func TestCapacityWaits(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/capacity.yaml")
	p.scan()
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		st, err := p.fleet.State(t.Context())
		if err != nil {
			return false, err.Error()
		}
		staged := 0
		for _, in := range st.Clusters[0].Instances {
			if in.Attributes["rollwave.stage"] == "staged" {
				staged++
			}
		}
		r, err := p.fleet.Report(t.Context())
		if err != nil {
			return false, err.Error()
		}
		checks := r.APICallsByCaller[workerKey]["ecs:DescribeServices"]
		// Staging is just in time (docs/decisions/lanes.md): at the limit of 1 one host is staged
		// ahead of the drains, the others wait unmarked for it to drain. Every admission attempt
		// past the limits reads the services: 3 reads are three looks, the first and two after
		// the backstop.
		return staged == 1 && checks >= 3, fmt.Sprintf("%d of 3 hosts staged (want the look-ahead's 1), %d admission checks", staged, checks)
	})
	r := p.report()
	for _, c := range r.Clusters {
		if c.MaxOutOfService != 0 {
			t.Errorf("cluster %s had %d instances out of service, want none: no drain fits", c.Cluster, c.MaxOutOfService)
		}
	}
	for _, s := range r.Services {
		if s.BelowFloor || s.MinRunning < s.Floor {
			t.Errorf("service %s ran %d tasks at its lowest, below its floor %d", s.Service, s.MinRunning, s.Floor)
		}
	}
	for _, in := range p.instances()["tight"] {
		if in.Status != "ACTIVE" || in.Version != oldVersion {
			t.Errorf("%s is %s on %s, want ACTIVE on %s: it was never drained", in.EC2InstanceID, in.Status, in.Version, oldVersion)
		}
	}
	p.checkNoDeadLetters()
}

// TestWindow proves maintenance windows: with a window that opens a lead after the workers are
// built (in real time: the drainer's clock is real, fleetsim's virtual), no instance drains before
// it opens, and the rollout completes once it is open. The hold is only exercised if the
// look-ahead's job reached the drainer (its instance staged) before the window opened; on a machine too slow for
// that, the test starts over with twice the lead rather than pass without having proved it.
func TestWindow(t *testing.T) {
	t.Parallel()
	const maxLead = 80 * time.Second
	for lead := 20 * time.Second; ; lead *= 2 {
		held := false
		t.Run("lead "+lead.String(), func(t *testing.T) { held = windowHolds(t, lead) })
		if held || t.Failed() {
			return
		}
		if lead >= maxLead {
			t.Fatalf("no job reached the drainer before its window opened, with leads up to %s", maxLead)
		}
	}
}

// windowHolds runs one rollout under a window that opens lead from now, once the binaries are
// built, and reports whether the look-ahead's instance was staged (its job held by the drainer)
// before it opened; it fails t if any instance got past staged before the window opened, or did not update
// once it was open.
func windowHolds(t *testing.T, lead time.Duration) (held bool) {
	harness.BuildBinary(t, "tools/fleetsim")
	for _, w := range workers {
		harness.BuildBinary(t, "services/"+w)
	}
	opens := time.Now().UTC().Add(lead).Truncate(time.Second)
	closes := opens.Add(time.Hour)
	window := fmt.Sprintf("daily %s-%s UTC", opens.Format("15:04:05"), closes.Format("15:04:05"))
	p := startPipeline(t, "testdata/window.yaml", "ROLLWAVE_MAINTENANCE_WINDOW="+window)
	res := p.newResults()
	p.scan()
	ids := sortedIDs(p.instances()["windowed"])
	// Until the window opens, every instance stays ACTIVE and none gets past staged.
	for time.Now().Before(opens.Add(-time.Second)) {
		staged := 0
		for _, in := range p.instances()["windowed"] {
			stage := in.Attributes["rollwave.stage"]
			if in.Status != "ACTIVE" || (stage != "" && stage != "staging" && stage != "staged") {
				t.Fatalf("%s is %s at stage %q at %s, before the window %q opened", in.EC2InstanceID, in.Status, stage, time.Now().UTC().Format(time.TimeOnly), window)
			}
			if stage == "staged" {
				staged++
			}
		}
		// Staging is just in time: at the limit of 1 the look-ahead is one host, staged and
		// held by the drainer; the others wait unmarked at the patcher for it to drain.
		held = staged == 1
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !held {
		t.Logf("no job reached the drainer before the window %q opened: the hold was not exercised", window)
	}
	ended := res.waitEnded(90*time.Second, ids)
	for _, id := range ids {
		if e := ended[id]; e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %s (%s), want succeeded once the window opened", id, e.DetailType, e.Message)
		}
	}
	p.checkNoDeadLetters()
	return held
}
