package e2e_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// intrinsic is the virtual time a host of rollout.yaml and crash.yaml is out of service because of
// the drain and the reboot themselves: replacements start (taskStart), the old tasks stop
// (taskStop), then the host shuts down, boots and its agent reconnects. Whatever an instance
// spends out of service beyond this is rollwave's overhead.
func intrinsic(taskStop time.Duration) time.Duration {
	const taskStart, shutdown, boot, agentReconnect = 5 * time.Second, 5 * time.Second, 45 * time.Second, 15 * time.Second
	return taskStart + taskStop + shutdown + boot + agentReconnect
}

// maxOverheadWall bounds an instance's time out of service beyond the drain and reboot, in real
// time: event delivery, the re-check interval, SQS hand-offs between the workers and the SSM
// polls. A missed ECS event caught only by a slow backstop would exceed it.
const maxOverheadWall = 10 * time.Second

// maxCallsPerInstance bounds the AWS API calls (ECS, SSM, EC2) the workers make per updated
// instance: a polling loop gone wild would exceed it.
const maxCallsPerInstance = 400

func TestRollout(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/rollout.yaml")
	res := p.newResults()
	p.scan()
	p.checkRollout(res, 90*time.Second, intrinsic(10*time.Second), nil)
}

func TestRolloutSurvivesKilledWorkers(t *testing.T) {
	t.Parallel()
	// A killed worker's message stays invisible for the visibility timeout, and the drain
	// deadline must outlast that.
	const visibility = 10 * time.Second
	p := startPipeline(t, "testdata/crash.yaml", "ROLLWAVE_VISIBILITY_TIMEOUT=10s", "ROLLWAVE_DRAIN_TIMEOUT=60s", "ROLLWAVE_REBOOT_TIMEOUT=60s")
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
	// is visible again: the visibility timeout is the price of the crash.
	p.checkRollout(res, 120*time.Second, intrinsic(30*time.Second), map[string]time.Duration{draining: visibility})
}

// checkRollout waits until every instance's job ended and checks the guarantees of a rollout:
// every instance without a standalone task updated and ACTIVE, the one with it skipped, no
// service below its floor, at most one instance out of service per cluster, one reboot per
// updated instance, nothing left DRAINING, no dead letters. It logs each instance's time out of
// service beyond its drain and reboot, and the API calls per updated instance. allow adds to
// maxOverheadWall for the instances it names.
func (p *pipeline) checkRollout(res *results, timeout, intrinsic time.Duration, allow map[string]time.Duration) {
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

	p.logOverhead(rep, got, intrinsic, allow)
	p.logCalls(rep, updated)
}

// marked reports whether any rollwave attribute is left on the instance.
func marked(in admin.InstanceState) bool {
	for k := range in.Attributes {
		if strings.HasPrefix(k, "rollwave.") {
			return true
		}
	}
	return false
}

// logOverhead logs, and bounds, each updated instance's time out of service beyond its drain and
// reboot. fleetsim's report has each cluster's out-of-service count over time; with a limit of
// one, each interval in which the count is above zero is one instance's, and the k-th interval of
// a cluster belongs to the k-th instance of that cluster whose update succeeded.
func (p *pipeline) logOverhead(rep admin.Report, got map[string]ended, intrinsic time.Duration, allow map[string]time.Duration) {
	t := p.t
	t.Helper()
	succeeded := map[string][]ended{}
	for _, in := range rep.Instances {
		if e := got[in.EC2InstanceID]; e.DetailType == notify.InstanceUpdateSucceeded {
			succeeded[in.Cluster] = append(succeeded[in.Cluster], e)
		}
	}
	var lines []string
	for _, c := range rep.Clusters {
		intervals := outOfServiceIntervals(c.Samples, rep.Now)
		done := succeeded[c.Cluster]
		sort.Slice(done, func(i, j int) bool { return done[i].At.Before(done[j].At) })
		if len(intervals) != len(done) {
			t.Errorf("cluster %s: %d out-of-service intervals for %d updated instances: %+v", c.Cluster, len(intervals), len(done), c.Samples)
			continue
		}
		for i, d := range intervals {
			beyond := d - intrinsic
			wall := time.Duration(float64(beyond) / timeScale)
			lines = append(lines, fmt.Sprintf("%s %s: out of service %v, %v beyond the drain and reboot (%v real time)",
				c.Cluster, done[i].EC2InstanceID, d.Round(time.Second), beyond.Round(time.Second), wall.Round(10*time.Millisecond)))
			if limit := maxOverheadWall + allow[done[i].EC2InstanceID]; wall > limit {
				t.Errorf("instance %s was out of service %v (real time) beyond its drain and reboot, want at most %v", done[i].EC2InstanceID, wall, limit)
			}
		}
	}
	t.Logf("time out of service (virtual; drain and reboot take %v):\n%s", intrinsic, strings.Join(lines, "\n"))
}

// outOfServiceIntervals returns the lengths of the periods in which the count was above zero.
func outOfServiceIntervals(samples []admin.ClusterSample, now time.Time) []time.Duration {
	var out []time.Duration
	var start time.Time
	in := false
	for _, s := range samples {
		switch {
		case s.OutOfService > 0 && !in:
			start, in = s.T, true
		case s.OutOfService == 0 && in:
			out = append(out, s.T.Sub(start))
			in = false
		}
	}
	if in {
		out = append(out, now.Sub(start))
	}
	return out
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
