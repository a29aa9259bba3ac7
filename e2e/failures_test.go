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

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// Hosts of testdata/failures.yaml.
const (
	goodHost1     = "i-0f00000000000000a"
	bootFailHost  = "i-0f00000000000000b" // newVersionFailsToBoot
	applyFailHost = "i-0f00000000000000c" // applyFails
	goodHost2     = "i-0f00000000000000d"
)

// TestFailures: under the default limit of 1, with the cluster's onVerifyFailure policy "return",
// the host that cannot boot the new version is returned to service pinned to its previous version
// (ACTIVE, settings.updates.version-lock, still marked failed), so it holds no slot and the rollout
// goes on: the good hosts are updated, the one whose apply fails is never drained.
func TestFailures(t *testing.T) {
	t.Parallel()
	// Two independent failures here would spend the default error budget and halt the cluster
	// (TestErrorBudgetHaltsTheCluster): this test is about the others going on. The policy is set
	// for the cluster by name, as an operator would, to prove that the verifier reads it so.
	p := startPipeline(t, "testdata/failures.yaml", "ROLLWAVE_ERROR_BUDGET_FAILURES=3",
		`ROLLWAVE_CLUSTER_POLICIES={"failures": {"onVerifyFailure": "return"}}`)
	ctx := t.Context()
	// Every ECS event of the cluster, to tell whether a host was ever DRAINING.
	ecsEvents := p.routeToQueue(ctx, eventbridge.NewFromConfig(p.stack.AWSConfig(ctx)), "default", p.prefix+"-ecs-watch",
		topology.ECSContainerInstancePattern([]string{p.clusters["failures"]}))
	res := p.newResults()

	// The host that cannot boot the new version goes first, by a job written by hand, so that the
	// others are updated after its failure.
	p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","cluster":"failures","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"boot failure"}`,
		bootFailHost, targetVersion))
	got := res.waitEnded(60*time.Second, []string{bootFailHost})
	if e := got[bootFailHost]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != "boot-failed-rolled-back" ||
		!strings.Contains(e.Message, "returned to service on "+oldVersion+", pinned by settings.updates.version-lock") {
		t.Errorf("host %s ended %q (%s: %s), want %q with reason boot-failed-rolled-back, returned to service pinned to %s",
			bootFailHost, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateFailed, oldVersion)
	}

	// The scan finds the three others (the failed host keeps its job mark).
	p.scan()
	got = res.waitEnded(90*time.Second, []string{goodHost1, applyFailHost, goodHost2})
	for _, id := range []string{goodHost1, goodHost2} {
		if e := got[id]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("host %s ended %q (%s: %s), want %q to %s", id, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded, targetVersion)
		}
	}
	if e := got[applyFailHost]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != "staging-failed" {
		t.Errorf("host %s ended %q (%s: %s), want %q with reason staging-failed", applyFailHost, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateFailed)
	}
	if e, ok := res.byEC2[bootFailHost]; !ok || e.Reason != "boot-failed-rolled-back" {
		t.Errorf("host %s got another ending after its failure: %+v", bootFailHost, e)
	}

	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		st, err := p.fleet.State(ctx)
		if err != nil {
			return false, err.Error()
		}
		var wrong []string
		for _, in := range st.Clusters[0].Instances {
			switch in.EC2InstanceID {
			case bootFailHost:
				if in.Status != "ACTIVE" || !in.AgentConnected || in.Version != oldVersion || in.VersionLock != oldVersion ||
					in.Attributes["rollwave.stage"] != "failed" || in.Attributes["rollwave.failure"] != "boot-failed-rolled-back" || in.Attributes["rollwave.job"] == "" {
					wrong = append(wrong, fmt.Sprintf("%s %s %s lock %s %v (want ACTIVE on %s, version-lock %s, rollwave.stage=failed, rollwave.failure=boot-failed-rolled-back, its job mark kept)",
						in.EC2InstanceID, in.Status, in.Version, in.VersionLock, in.Attributes, oldVersion, oldVersion))
				}
			case applyFailHost:
				if in.Status != "ACTIVE" || in.Version != oldVersion || marked(in) {
					wrong = append(wrong, fmt.Sprintf("%s %s %s %v (want ACTIVE on %s, unmarked)", in.EC2InstanceID, in.Status, in.Version, in.Attributes, oldVersion))
				}
			default:
				if in.Status != "ACTIVE" || in.Version != targetVersion || marked(in) {
					wrong = append(wrong, fmt.Sprintf("%s %s %s %v (want ACTIVE on %s, unmarked)", in.EC2InstanceID, in.Status, in.Version, in.Attributes, targetVersion))
				}
			}
		}
		return len(wrong) == 0, fmt.Sprint(wrong)
	})

	rep := p.report()
	for _, in := range rep.Instances {
		if in.EC2InstanceID == applyFailHost && in.Reboots != 0 {
			t.Errorf("host %s whose staging failed rebooted %d times", applyFailHost, in.Reboots)
		}
		if in.EC2InstanceID == bootFailHost && in.Reboots != 1 {
			t.Errorf("host %s returned to service rebooted %d times, want once: the scan did not take it again", bootFailHost, in.Reboots)
		}
	}
	for _, c := range rep.Clusters {
		if c.MaxOutOfService > 1 {
			t.Errorf("cluster %s had %d instances out of service at once, want at most the limit 1", c.Cluster, c.MaxOutOfService)
		}
	}
	for _, s := range rep.Services {
		if s.BelowFloor {
			t.Errorf("service %s/%s went below its floor %d: %+v", s.Cluster, s.Service, s.Floor, s.Samples)
		}
	}
	for _, d := range p.drainingEvents(ecsEvents) {
		if d == applyFailHost {
			t.Errorf("host %s whose staging failed was drained (an ECS event shows it DRAINING)", applyFailHost)
		}
	}
	p.checkNoDeadLetters()
}

// Hosts of testdata/parked.yaml.
const (
	neverBackHost = "i-0facade00000000a1" // rebootNeverReturns
	besideHost    = "i-0facade00000000b1"
)

// TestParkedInstanceHoldsTheLimit: under the default limit of 1 and the default onVerifyFailure
// policy (park), a host that never comes back from its reboot ends failed (never-came-back) and
// stays out of service for a person. It holds the cluster's only slot: the other host's job is
// staged and then held before admission, again and again, saying that the parked host fills the
// limit, and fleetsim's report shows never a second instance out of service.
func TestParkedInstanceHoldsTheLimit(t *testing.T) {
	t.Parallel()
	// The health gate and the capacity check would hold the second drain too; off, only the limit
	// can, so the held job proves the count. The reboot timeout is real time; the host never
	// comes back whatever it is, so a short one only ends the first job sooner.
	p := startPipeline(t, "testdata/parked.yaml",
		"ROLLWAVE_HEALTH_GATE=false", "ROLLWAVE_CAPACITY_CHECK=false", "ROLLWAVE_REBOOT_TIMEOUT=15s")
	res := p.newResults()
	p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","id":"never-back","cluster":"parked","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"parked host"}`,
		neverBackHost, targetVersion))
	got := res.waitEnded(90*time.Second, []string{neverBackHost})
	if e := got[neverBackHost]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != "never-came-back" {
		t.Fatalf("host %s ended %q (%s: %s), want %q with reason never-came-back", neverBackHost, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateFailed)
	}

	// The scan finds the other host (the parked one keeps its job mark); its job waits visibly:
	// each look logs the reason it is held.
	p.scan()
	held := fmt.Sprintf("cluster parked: 2 of at most 1 instances out of service with this claim, over the limit 1 (%s failed, draining, agent disconnected)", neverBackHost)
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		n := strings.Count(p.procs["drainer"].Log(), held)
		return n >= 5, fmt.Sprintf("the drainer held %s's job %d times for the parked host, want 5", besideHost, n)
	})
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	if e, ok := res.byEC2[besideHost]; ok {
		t.Errorf("host %s's job ended %q (%s: %s) while the parked host holds the limit, want it held", besideHost, e.DetailType, e.Reason, e.Message)
	}
	for _, in := range p.instances()["parked"] {
		switch in.EC2InstanceID {
		case neverBackHost:
			if in.Status != "DRAINING" || in.Attributes["rollwave.stage"] != "failed" || in.Attributes["rollwave.failure"] != "never-came-back" {
				t.Errorf("parked %s: %s %v, want DRAINING, rollwave.stage=failed, rollwave.failure=never-came-back", in.EC2InstanceID, in.Status, in.Attributes)
			}
		case besideHost:
			if in.Status != "ACTIVE" || in.Attributes["rollwave.stage"] != "staged" {
				t.Errorf("%s: %s %v, want ACTIVE and staged, held before admission", in.EC2InstanceID, in.Status, in.Attributes)
			}
		}
	}
	rep := p.report()
	for _, c := range rep.Clusters {
		if c.MaxOutOfService != 1 {
			t.Errorf("cluster %s had at most %d instances out of service at once, want 1: the parked host alone", c.Cluster, c.MaxOutOfService)
		}
	}
	if in := reportInstance(t, rep, besideHost); in.Status != "ACTIVE" || in.Reboots != 0 || in.OutOfService != 0 {
		t.Errorf("%s beside the parked host: %s, %d reboots, out of service %s; want ACTIVE, never out of service", besideHost, in.Status, in.Reboots, in.OutOfService.D())
	}
	if !slices.Equal(rep.LeftDraining, []string{neverBackHost}) {
		t.Errorf("left DRAINING: %v, want only the parked %s", rep.LeftDraining, neverBackHost)
	}
	p.checkNoDeadLetters()
}

// drainingEvents returns the EC2 instance IDs of the ECS Container Instance State Change events
// in the queue that show an instance DRAINING. The queue is read until it is empty.
func (p *pipeline) drainingEvents(url string) []string {
	p.t.Helper()
	var ids []string
	seen := 0
	for {
		out, err := p.sqs.ReceiveMessage(p.t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			p.t.Fatalf("receive ECS events: %v", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			seen++
			var ev struct {
				Detail struct {
					EC2InstanceID string `json:"ec2InstanceId"`
					Status        string `json:"status"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				p.t.Fatalf("decode ECS event: %v", err)
			}
			if ev.Detail.Status == "DRAINING" {
				ids = append(ids, ev.Detail.EC2InstanceID)
			}
			if _, err := p.sqs.DeleteMessage(p.t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				p.t.Fatalf("delete ECS event: %v", err)
			}
		}
	}
	if len(ids) == 0 {
		// The good hosts were drained: seeing no DRAINING event at all means the watch is broken,
		// not that the failed host was spared.
		p.t.Errorf("no ECS event showed any instance DRAINING among %d events", seen)
	}
	return ids
}
