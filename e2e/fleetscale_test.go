package e2e_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// handJob is a job written by hand for instance of cluster.
func handJob(id, cluster, instance string) string {
	return fmt.Sprintf(`{"schema":"rollwave.job/v1","id":%q,"cluster":%q,"instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"fleet scale"}`,
		id, cluster, instance, targetVersion)
}

// hasLineWith reports whether a line of log holds every one of subs.
func hasLineWith(log string, subs ...string) bool {
	for line := range strings.Lines(log) {
		if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(line, s) }) {
			return true
		}
	}
	return false
}

// reportInstance returns the fleetsim report's line for an instance.
func reportInstance(t *testing.T, r admin.Report, id string) admin.InstanceReport {
	t.Helper()
	for _, in := range r.Instances {
		if in.EC2InstanceID == id {
			return in
		}
	}
	t.Fatalf("instance %s is not in the fleetsim report", id)
	return admin.InstanceReport{}
}

// TestErrorBudgetHaltsTheCluster: two boot failures spend the default error budget (2 within 1h):
// the cluster is paused by the budget with a Cluster Rollout Halted event, and the jobs of the
// three other instances are held with their instances untouched (no drain, no reboot in the
// fleetsim report). Clearing the pause as `rollwave resume` does (which resets the count) lets
// the rollout go on, and it is not halted again.
func TestErrorBudgetHaltsTheCluster(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/budget.yaml",
		"ROLLWAVE_PAUSE_REFRESH=500ms",
		"ROLLWAVE_ON_VERIFY_FAILURE=return", // the failed hosts return to service, so only the halt holds the others
		"ROLLWAVE_HEALTH_GATE=false", "ROLLWAVE_CAPACITY_CHECK=false",
	)
	ctx := t.Context()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	// Every ECS event of the cluster, to tell whether a host was DRAINING while the cluster was halted.
	ecsEvents := p.routeToQueue(ctx, eventbridge.NewFromConfig(p.stack.AWSConfig(ctx)), "default", p.prefix+"-ecs-watch",
		topology.ECSContainerInstancePattern([]string{p.clusters["budget"]}))
	res := p.newResults()
	failing := []string{"i-0b00000000000000a", "i-0b00000000000000b"}
	healthy := []string{"i-0b00000000000000c", "i-0b00000000000000d", "i-0b00000000000000e"}
	for i, id := range failing {
		p.send(topology.Patcher, handJob(fmt.Sprintf("fail-%d", i), "budget", id))
	}
	got := res.waitEnded(90*time.Second, failing)
	for _, id := range failing {
		if e := got[id]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != "boot-failed-rolled-back" {
			t.Errorf("%s ended %q (%s: %s), want failed boot-failed-rolled-back", id, e.DetailType, e.Reason, e.Message)
		}
	}

	// The halt: an event and the budget's pause.
	var halted []ended
	harness.Eventually(t, 15*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		halted = halted[:0]
		for _, e := range res.all {
			if e.DetailType == notify.ClusterRolloutHalted {
				halted = append(halted, e)
			}
		}
		return len(halted) > 0, "no Cluster Rollout Halted event yet"
	})
	if h := halted[0]; h.Cluster != "budget" || h.Reason != budget.HaltReason ||
		!strings.Contains(h.Message, "2 failed updates within 1h") || !strings.Contains(h.Message, "boot-failed-rolled-back") {
		t.Errorf("halted event = %+v, want cluster budget, reason error-budget, a message naming the failures", h)
	}
	st, err := pause.Read(ctx, p.sqs, drainerQ.URL)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := st.Paused("budget")
	if !ok || info.Who != budget.HaltedBy || !strings.Contains(info.Reason, failing[0]) || !strings.Contains(info.Reason, failing[1]) {
		t.Fatalf("pause of cluster budget = %+v, %t; want one by %q naming both failed instances", info, ok, budget.HaltedBy)
	}
	t.Logf("halted: %s", info)
	p.drainingEvents(ecsEvents) // the failed hosts' drains, before the halt; proves the watch works

	// The others' jobs are held while the cluster is halted: those staged within the look-ahead
	// (the cluster's limit, 1) by the drainer before admission, again at its next look; the rest
	// by the patcher's look-ahead before staging, since a staged instance does not drain.
	for i, id := range healthy {
		p.send(topology.Patcher, handJob(fmt.Sprintf("held-%d", i), "budget", id))
	}
	held := "not admitted: cluster budget paused by " + budget.HaltedBy
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		drainerLog, patcherLog := p.procs["drainer"].Log(), p.procs["patcher"].Log()
		holds := strings.Count(drainerLog, held)
		var free []string
		for i := range healthy {
			job := fmt.Sprintf(`"job":"held-%d"`, i)
			if !hasLineWith(drainerLog, job, held) && !hasLineWith(patcherLog, job, "look-ahead full") {
				free = append(free, fmt.Sprintf("held-%d", i))
			}
		}
		return holds >= 2 && len(free) == 0, fmt.Sprintf("the drainer held a job %d times (want 2: its first look and the next); not held yet by the drainer or the look-ahead: %v", holds, free)
	})
	rep := p.report()
	for _, id := range healthy {
		if in := reportInstance(t, rep, id); in.Reboots != 0 || in.Status != "ACTIVE" || in.Version != oldVersion {
			t.Errorf("%s while the cluster is halted: %s, %d reboots, %s; want ACTIVE, no reboot, %s", id, in.Status, in.Reboots, in.Version, oldVersion)
		}
	}
	for _, l := range rep.LeftDraining {
		t.Errorf("%s left DRAINING while the cluster is halted", l)
	}
	for _, id := range drainingIn(t, p, ecsEvents) {
		t.Errorf("%s was drained while the cluster is halted (an ECS event shows it DRAINING)", id)
	}

	// A person resumes: rollwave resume --cluster budget calls pause.Clear.
	if err := pause.Clear(ctx, p.sqs, drainerQ.URL, "budget"); err != nil {
		t.Fatal(err)
	}
	tags, err := p.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(drainerQ.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := tags.Tags[budget.KeyPrefix+"budget"]; ok {
		t.Errorf("failures tag after the resume = %q, want it removed", v)
	}
	got = res.waitEnded(90*time.Second, append(append([]string{}, failing...), healthy...))
	for _, id := range healthy {
		if e := got[id]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("%s ended %q (%s: %s) after the resume, want updated to %s", id, e.DetailType, e.Reason, e.Message, targetVersion)
		}
	}
	n := 0
	for _, e := range res.all {
		if e.DetailType == notify.ClusterRolloutHalted {
			n++
		}
	}
	if n > 2 { // two workers seeing the spent budget at once may both announce it
		t.Errorf("%d Cluster Rollout Halted events, want the one halt", n)
	}
	if st, err := pause.Read(ctx, p.sqs, drainerQ.URL); err != nil || len(st.All()) != 0 {
		t.Errorf("pauses after the rollout = %+v, %v; want none (not halted again)", st.All(), err)
	}
	p.checkNoDeadLetters()
}

// TestOptedOutInstanceIsNeverTouched: the scanner leaves the instance with rollwave.optout out,
// a job sent for it by hand ends skipped/opted-out, and fleetsim shows it never drained or
// rebooted, while the other instance is updated.
func TestOptedOutInstanceIsNeverTouched(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/optout.yaml")
	const optedOut, other = "i-0c00000000000000a", "i-0c00000000000000b"
	res := p.newResults()
	p.scan()
	p.send(topology.Patcher, handJob("by-hand", "optout", optedOut))
	got := res.waitEnded(60*time.Second, []string{optedOut, other})
	if e := got[other]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("%s ended %q (%s: %s), want updated", other, e.DetailType, e.Reason, e.Message)
	}
	if e := got[optedOut]; e.DetailType != notify.InstanceUpdateSkipped || e.Reason != "opted-out" || e.JobID != "by-hand" {
		t.Errorf("%s ended %q (%s: %s) by job %s, want the hand-written job skipped with reason opted-out", optedOut, e.DetailType, e.Reason, e.Message, e.JobID)
	}
	for _, e := range res.all {
		if e.EC2InstanceID == optedOut && e.JobID != "by-hand" {
			t.Errorf("the scanner sent a job for the opted-out %s: %+v", optedOut, e)
		}
	}
	in := reportInstance(t, p.report(), optedOut)
	if in.Reboots != 0 || in.Status != "ACTIVE" || in.Version != oldVersion {
		t.Errorf("opted-out %s: %s, %d reboots, %s; want ACTIVE, never rebooted, %s", optedOut, in.Status, in.Reboots, in.Version, oldVersion)
	}
	for _, c := range p.instances()["optout"] {
		if c.EC2InstanceID == optedOut && (c.Attributes["rollwave.job"] != "" || c.Attributes["rollwave.stage"] != "") {
			t.Errorf("opted-out %s carries rollwave marks: %v", optedOut, c.Attributes)
		}
	}
	p.checkNoDeadLetters()
}

// TestClusterTagSelectsClusters: with ROLLWAVE_CLUSTER_TAG=rollwave=on and no cluster list, a
// scan updates the host of the tagged cluster and leaves the untagged cluster alone.
func TestClusterTagSelectsClusters(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/tagged.yaml", "ROLLWAVE_CLUSTERS=", "ROLLWAVE_CLUSTER_TAG=rollwave=on")
	const tagged, untagged = "i-0d00000000000000a", "i-0d00000000000000b"
	res := p.newResults()
	p.scan()
	got := res.waitEnded(60*time.Second, []string{tagged})
	if e := got[tagged]; e.DetailType != notify.InstanceUpdateSucceeded || e.Cluster != "tagged" {
		t.Errorf("%s ended %q (%s: %s) in %s, want updated in cluster tagged", tagged, e.DetailType, e.Reason, e.Message, e.Cluster)
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	for _, e := range res.all {
		if e.Cluster == "untagged" {
			t.Errorf("a job ran in the untagged cluster: %+v", e)
		}
	}
	log := p.procs["scanner"].Log()
	if !strings.Contains(log, `"cluster_tag":"rollwave=on"`) {
		t.Error("the scanner did not log its cluster tag at start")
	}
	if !strings.Contains(log, "scan finished") {
		t.Error("the scanner never logged a finished scan")
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "scan finished") && !strings.Contains(l, `"clusters":1,`) {
			t.Errorf("the scan covered other than the one tagged cluster: %s", l)
		}
		if strings.Contains(l, `"cluster":"untagged"`) {
			t.Errorf("the scanner looked at the untagged cluster: %s", l)
		}
	}
	in := reportInstance(t, p.report(), untagged)
	if in.Reboots != 0 || in.Version != oldVersion || in.Status != "ACTIVE" {
		t.Errorf("untagged %s: %s, %d reboots, %s; want untouched on %s", untagged, in.Status, in.Reboots, in.Version, oldVersion)
	}
	p.checkNoDeadLetters()
}

// drainingIn returns the EC2 instance IDs that the ECS events in the queue show DRAINING, reading
// the queue until it is empty. Unlike drainingEvents, none is a valid answer.
func drainingIn(t *testing.T, p *pipeline, url string) []string {
	t.Helper()
	var ids []string
	for {
		out, err := p.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive ECS events: %v", err)
		}
		if len(out.Messages) == 0 {
			return ids
		}
		for _, m := range out.Messages {
			var ev struct {
				Detail struct {
					EC2InstanceID string `json:"ec2InstanceId"`
					Status        string `json:"status"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("decode ECS event: %v", err)
			}
			if ev.Detail.Status == "DRAINING" {
				ids = append(ids, ev.Detail.EC2InstanceID)
			}
			if _, err := p.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete ECS event: %v", err)
			}
		}
	}
}
