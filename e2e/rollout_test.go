package e2e_test

import (
	"fmt"
	"github.com/rollwave/rollwave/shared/update"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// maxCallsPerInstance bounds the AWS API calls (ECS, SSM, EC2) the workers make per updated
// instance: a polling loop gone wild would exceed it.
const maxCallsPerInstance = 400

func TestRollout(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/rollout.yaml")
	res := p.newResults()
	p.scan()
	p.checkRollout(res, 90*time.Second)
}

func TestRolloutSurvivesKilledWorkers(t *testing.T) {
	t.Parallel()
	// A killed worker's message stays invisible for the visibility timeout, and the drain
	// deadline must outlast that.
	const visibility = 10 * time.Second
	p := startPipeline(t, "testdata/crash.yaml", "ROLLWAVE_VISIBILITY_TIMEOUT="+visibility.String(), "ROLLWAVE_DRAIN_TIMEOUT=60s", "ROLLWAVE_REBOOT_TIMEOUT=60s")
	res := p.newResults()
	p.scan()

	var draining string
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		st, err := p.fleet.State(t.Context())
		if err != nil {
			return false, err.Error()
		}
		for _, c := range st.Clusters {
			for _, in := range c.Instances {
				if in.Status == "DRAINING" {
					draining = in.EC2InstanceID
					return true, ""
				}
			}
		}
		return false, "no instance DRAINING yet"
	})
	p.procs["drainer"].Kill()
	p.procs["patcher"].Kill()
	t.Logf("killed the drainer and the patcher with SIGKILL while %s was DRAINING", draining)
	p.procs["drainer"].Restart()
	p.procs["patcher"].Restart()

	// The host whose drain the killed drainer held waits, out of service, until its job message
	// is visible again: the visibility timeout is the price of the crash, in its time beyond.
	p.checkRollout(res, 120*time.Second)
}

// checkRollout waits until every instance's job ended and checks the guarantees of a rollout:
// every instance without a standalone task updated and ACTIVE, the one with it skipped, no
// service below its floor, at most one instance out of service per cluster, one reboot per
// updated instance, each updated instance's timeline in fleetsim's report in order (drained
// before its reboot, ACTIVE only after its agent reconnected), nothing left DRAINING, no dead
// letters. It logs each instance's time out of service beyond its drain and reboot, and the API
// calls per updated instance; how fast is BenchmarkRollout's business (tools/demo), not a test's.
func (p *pipeline) checkRollout(res *results, timeout time.Duration) {
	t := p.t
	t.Helper()
	byCluster := p.instances()
	var all []string
	standalone := map[string]bool{}
	for _, ins := range byCluster {
		for _, in := range ins {
			all = append(all, in.EC2InstanceID)
			standalone[in.EC2InstanceID] = hasStandaloneTask(in)
		}
	}
	got := res.waitEnded(timeout, all)

	for _, id := range all {
		e := got[id]
		if standalone[id] {
			if e.DetailType != notify.InstanceUpdateSkipped || e.Reason != "standalone-task" {
				t.Errorf("instance %s with a standalone task ended %q (%s: %s), want %q with reason standalone-task", id, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSkipped)
			}
			continue
		}
		if e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("instance %s ended %q (%s: %s) to %q, want %q to %s", id, e.DetailType, e.Reason, e.Message, e.ToVersion, notify.InstanceUpdateSucceeded, targetVersion)
		}
	}

	// The verifier publishes after it re-activated and unmarked the instance, but wait rather than
	// rely on the order.
	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		st, err := p.fleet.State(t.Context())
		if err != nil {
			return false, err.Error()
		}
		var wrong []string
		for _, c := range st.Clusters {
			for _, in := range c.Instances {
				want := targetVersion
				if standalone[in.EC2InstanceID] {
					want = oldVersion
				}
				if in.Status != "ACTIVE" || !in.AgentConnected || in.Version != want || marked(in) {
					wrong = append(wrong, fmt.Sprintf("%s %s agent=%t %s %v (want ACTIVE on %s, unmarked)", in.EC2InstanceID, in.Status, in.AgentConnected, in.Version, in.Attributes, want))
				}
			}
		}
		return len(wrong) == 0, strings.Join(wrong, "; ")
	})

	rep := p.report()
	for _, s := range rep.Services {
		if s.Daemon {
			continue
		}
		if s.BelowFloor || s.MinRunning < s.Floor {
			t.Errorf("service %s/%s ran %d tasks at its lowest, below its floor %d (desired %d, minimumHealthyPercent %d): %+v",
				s.Cluster, s.Service, s.MinRunning, s.Floor, s.Desired, s.MinimumHealthyPercent, s.Samples)
		}
	}
	for _, c := range rep.Clusters {
		if c.MaxOutOfService > 1 {
			t.Errorf("cluster %s had %d instances out of service at once, limit 1: %+v", c.Cluster, c.MaxOutOfService, c.Samples)
		}
	}
	updated := 0
	for _, in := range rep.Instances {
		want := 1
		if standalone[in.EC2InstanceID] {
			want = 0
		} else {
			updated++
		}
		if in.Reboots != want {
			t.Errorf("instance %s rebooted %d times, want %d", in.EC2InstanceID, in.Reboots, want)
		}
	}
	if len(rep.LeftDraining) > 0 {
		t.Errorf("instances left DRAINING: %v", rep.LeftDraining)
	}
	p.checkNoDeadLetters()

	p.checkTimelines(rep, standalone)
	p.logCalls(rep, updated)
}

// marked reports whether a job's marks are left on the instance. The verifier's record of the
// last update is not a job's mark: verified-at and rollback-to stay for the next drain's health
// gate, which removes them, and updated-by until the next update.
func marked(in admin.InstanceState) bool {
	for k := range in.Attributes {
		if k == update.AttrVerifiedAt || k == update.AttrRollbackTo || k == update.AttrUpdatedBy {
			continue
		}
		if strings.HasPrefix(k, "rollwave.") {
			return true
		}
	}
	return false
}

// updateTimeline is an updated instance's timeline in fleetsim's report: one drain, finished
// before the reboot, and ACTIVE again only once the agent reconnected.
var updateTimeline = []string{admin.EventDraining, admin.EventDrained, admin.EventHostDown, admin.EventAgentDisconnected,
	admin.EventHostUp, admin.EventAgentConnected, admin.EventActive}

// checkTimelines checks each instance's timeline in the report (updateTimeline for an updated
// one, nothing for one with a standalone task) and logs its time out of service: the drain, the
// reboot and what lies beyond both, which is what the hand-offs between the workers cost.
func (p *pipeline) checkTimelines(rep admin.Report, standalone map[string]bool) {
	t := p.t
	t.Helper()
	var lines []string
	var total, most time.Duration
	updated := 0
	for _, in := range rep.Instances {
		var events []string
		for _, e := range in.Timeline {
			events = append(events, e.Event)
		}
		want := updateTimeline
		if standalone[in.EC2InstanceID] {
			want = nil
		}
		if !slices.Equal(events, want) {
			t.Errorf("instance %s: timeline %v, want %v: %+v", in.EC2InstanceID, events, want, in.Timeline)
		}
		if standalone[in.EC2InstanceID] {
			continue
		}
		updated++
		beyond := in.Beyond.D()
		total += beyond
		most = max(most, beyond)
		lines = append(lines, fmt.Sprintf("%s %s: out of service %v = drain %v + reboot %v + %v beyond (%v real time)",
			in.Cluster, in.EC2InstanceID, in.OutOfService.D().Round(time.Second), in.Drain.D().Round(time.Second),
			in.Reboot.D().Round(time.Second), beyond.Round(time.Second), (beyond/timeScale).Round(10*time.Millisecond)))
	}
	if updated > 0 {
		lines = append(lines, fmt.Sprintf("beyond the drain and reboot: mean %v, max %v", (total/time.Duration(updated)).Round(time.Second), most.Round(time.Second)))
	}
	t.Logf("time out of service (virtual, from fleetsim's report):\n%s", strings.Join(lines, "\n"))
}

// logCalls logs, and bounds, the workers' AWS API calls per updated instance.
func (p *pipeline) logCalls(rep admin.Report, updated int) {
	t := p.t
	t.Helper()
	calls := rep.APICallsByCaller[workerKey]
	if updated == 0 || len(calls) == 0 {
		t.Errorf("no API calls by the workers (access key %s) for %d updated instances: %v", workerKey, updated, rep.APICallsByCaller)
		return
	}
	ops := make([]string, 0, len(calls))
	total := 0
	for op, n := range calls {
		ops = append(ops, op)
		total += n
	}
	slices.Sort(ops)
	var lines []string
	for _, op := range ops {
		lines = append(lines, fmt.Sprintf("%-40s %6.1f", op, float64(calls[op])/float64(updated)))
	}
	per := float64(total) / float64(updated)
	t.Logf("AWS API calls per updated instance (%d updated, %d calls, %.1f each):\n%s", updated, total, per, strings.Join(lines, "\n"))
	if per > maxCallsPerInstance {
		t.Errorf("%.1f API calls per updated instance, want at most %d", per, maxCallsPerInstance)
	}
}
