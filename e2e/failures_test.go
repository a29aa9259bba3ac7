package e2e_test

import (
	"encoding/json"
	"fmt"
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

func TestFailures(t *testing.T) {
	t.Parallel()
	// Two independent failures here would spend the default error budget and halt the cluster
	// (TestErrorBudgetHaltsTheCluster): this test is about the others going on.
	p := startPipeline(t, "testdata/failures.yaml", "ROLLWAVE_ERROR_BUDGET_FAILURES=3")
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
	if e := got[bootFailHost]; e.DetailType != notify.InstanceUpdateFailed || e.Reason != "boot-failed-rolled-back" {
		t.Errorf("host %s ended %q (%s: %s), want %q with reason boot-failed-rolled-back", bootFailHost, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateFailed)
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
				if in.Status == "ACTIVE" || in.Attributes["rollwave.stage"] != "failed" || in.Version != oldVersion {
					wrong = append(wrong, fmt.Sprintf("%s %s %s %v (want out of service on %s, rollwave.stage=failed)", in.EC2InstanceID, in.Status, in.Version, in.Attributes, oldVersion))
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
