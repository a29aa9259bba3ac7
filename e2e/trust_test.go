package e2e_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// writeOps are the API operations that change a cluster or its hosts.
var writeOps = []string{
	"ecs:PutAttributes", "ecs:DeleteAttributes", "ecs:UpdateContainerInstancesState", "ecs:StopTask", "ssm:SendCommand",
}

// stepJob is a job written by hand at a later step: no history, so no worker ever accepted it.
func stepJob(id, cluster, instance, step string) string {
	return fmt.Sprintf(`{"schema":"rollwave.job/v1","id":%q,"cluster":%q,"instance":%q,"targetVersion":%q,"requestedBy":"mallory","reason":"forged","step":%q}`,
		id, cluster, instance, targetVersion, step)
}

// deadLetterReasons waits until the dead-letter queue of logical holds n messages and returns
// their rollwave.reason attributes, sorted. It leaves the messages visible.
func (p *pipeline) deadLetterReasons(logical string, n int) []string {
	p.t.Helper()
	q, err := p.topo.Queue(logical)
	if err != nil {
		p.t.Fatal(err)
	}
	seen := map[string]string{} // message ID -> reason
	harness.Eventually(p.t, 60*time.Second, func() (bool, string) {
		out, err := p.sqs.ReceiveMessage(p.t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.DeadLetterURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, VisibilityTimeout: 0,
		})
		if err != nil {
			return false, err.Error()
		}
		for _, m := range out.Messages {
			seen[aws.ToString(m.MessageId)] = aws.ToString(m.MessageAttributes[queue.AttrReason].StringValue)
		}
		return len(seen) >= n, fmt.Sprintf("%d of %d messages in %s", len(seen), n, q.DeadLetterName)
	})
	var reasons []string
	for _, r := range seen {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	return reasons
}

// waitIdle waits until the queues of logicals hold no message, visible, in flight or delayed:
// every message sent to them was handled and deleted.
func (p *pipeline) waitIdle(logicals ...string) {
	p.t.Helper()
	for _, logical := range logicals {
		q, err := p.topo.Queue(logical)
		if err != nil {
			p.t.Fatal(err)
		}
		harness.Eventually(p.t, 60*time.Second, func() (bool, string) {
			a, err := p.sqs.GetQueueAttributes(p.t.Context(), &sqs.GetQueueAttributesInput{
				QueueUrl: aws.String(q.URL),
				AttributeNames: []sqstypes.QueueAttributeName{
					sqstypes.QueueAttributeNameApproximateNumberOfMessages,
					sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
					sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
				},
			})
			if err != nil {
				return false, err.Error()
			}
			for _, v := range a.Attributes {
				if v != "0" {
					return false, fmt.Sprintf("queue %s still holds messages: %v", q.Name, a.Attributes)
				}
			}
			return true, ""
		})
	}
}

// checkNotHalted fails the test when a cluster is paused or has failures counted against its
// error budget.
func (p *pipeline) checkNotHalted(cluster string) {
	p.t.Helper()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		p.t.Fatal(err)
	}
	st, err := pause.Read(p.t.Context(), p.sqs, drainerQ.URL)
	if err != nil {
		p.t.Fatal(err)
	}
	if info, paused := st.Paused(cluster); paused {
		p.t.Errorf("cluster %s is paused: %s", cluster, info)
	}
	tags, err := p.sqs.ListQueueTags(p.t.Context(), &sqs.ListQueueTagsInput{QueueUrl: aws.String(drainerQ.URL)})
	if err != nil {
		p.t.Fatal(err)
	}
	if v, ok := tags.Tags[budget.KeyPrefix+cluster]; ok {
		p.t.Errorf("cluster %s has failures counted against its error budget: %q", cluster, v)
	}
}

// TestTrustBoundary: with ROLLWAVE_CLUSTERS=managed, a job for a host of the cluster beside it
// (by name and by ARN, at every worker's step) and a scan request naming that cluster all end in
// their dead-letter queues with the reason cluster-not-managed, and the workers write nothing:
// no attribute, no state change, no SSM command, on any cluster. Then a scan of the managed
// cluster still updates its hosts and leaves the other cluster's host as it was.
func TestTrustBoundary(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/trust.yaml", "ROLLWAVE_CLUSTERS=managed")
	const foreign = "i-0f00000000000000a"
	res := p.newResults()

	p.send(topology.Patcher, handJob("foreign-by-name", "foreign", foreign))
	p.send(topology.Patcher, handJob("foreign-by-arn", p.clusters["foreign"], foreign))
	p.send(topology.Drainer, stepJob("foreign-drain", "foreign", foreign, "drain"))
	p.send(topology.Verifier, stepJob("foreign-verify", "foreign", foreign, "verify"))
	p.send(topology.Scanner, `{"schema":"rollwave.scan/v1","clusters":["foreign"],"requestedBy":"mallory","reason":"not ours"}`)

	for logical, n := range map[string]int{topology.Patcher: 2, topology.Drainer: 1, topology.Verifier: 1, topology.Scanner: 1} {
		for _, reason := range p.deadLetterReasons(logical, n) {
			if !strings.HasPrefix(reason, managed.Reason+": ") || !strings.Contains(reason, "foreign") {
				t.Errorf("dead letter of %s: reason %q, want %q naming the cluster", logical, reason, managed.Reason+": ...")
			}
		}
	}
	rep := p.report()
	for _, op := range writeOps {
		if n := rep.APICallsByCaller[workerKey][op]; n > 0 {
			t.Errorf("the workers called %s %d times; want no write at all", op, n)
		}
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	if len(res.all) != 0 {
		t.Errorf("pipeline events %+v, want none: no job was carried out", res.all)
	}

	// The boundary keeps the managed cluster working.
	p.scan()
	managedIDs := sortedIDs(p.instances()["managed"])
	for id, e := range res.waitEnded(120*time.Second, managedIDs) {
		if e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %s (%s), want updated", id, e.DetailType, e.Reason)
		}
	}
	in := reportInstance(t, p.report(), foreign)
	if in.Reboots != 0 || in.Version != oldVersion || len(in.Timeline) != 0 {
		t.Errorf("foreign host: %d reboots, version %s, timeline %v; want untouched on %s", in.Reboots, in.Version, in.Timeline, oldVersion)
	}
	for _, st := range p.instances()["foreign"] {
		if marked(st) || st.Status != "ACTIVE" {
			t.Errorf("foreign host %s is %s with attributes %v, want ACTIVE and unmarked", st.EC2InstanceID, st.Status, st.Attributes)
		}
	}
}

// TestForgedJobsDoNotHaltAHealthyCluster: drain, reboot and verify jobs written by hand for hosts
// that no job owns end without a write and without counting against the error budget (which
// two failures would spend), so the cluster is not halted and a rollout sent after them updates
// every host.
func TestForgedJobsDoNotHaltAHealthyCluster(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/trust.yaml", "ROLLWAVE_CLUSTERS=managed")
	res := p.newResults()
	const a, b, c = "i-0a00000000000000a", "i-0a00000000000000b", "i-0a00000000000000c"
	p.send(topology.Drainer, stepJob("forged-1", "managed", a, "drain"))
	p.send(topology.Drainer, stepJob("forged-2", "managed", b, "drain"))
	p.send(topology.Reboot, stepJob("forged-3", "managed", c, "reboot"))
	p.send(topology.Verifier, stepJob("forged-4", "managed", a, "verify"))
	p.waitIdle(topology.Drainer, topology.Patcher, topology.Reboot, topology.Verifier)

	rep := p.report()
	for _, op := range writeOps {
		if n := rep.APICallsByCaller[workerKey][op]; n > 0 {
			t.Errorf("the workers called %s %d times for forged jobs; want no write", op, n)
		}
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	if len(res.all) != 0 {
		t.Errorf("pipeline events for forged jobs: %+v; want none", res.all)
	}
	p.checkNotHalted("managed")
	p.checkNoDeadLetters()

	p.scan()
	for id, e := range res.waitEnded(120*time.Second, []string{a, b, c}) {
		if e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %s (%s: %s), want updated", id, e.DetailType, e.Reason, e.Message)
		}
	}
	p.checkNotHalted("managed")
}

// TestRedrivenEndedJobIsStale: once a job has updated its host, copies of its messages sent
// again (as `rollwave dlq redrive` of a message whose job already ended does) end as stale-job:
// nothing is written, no event is published, the error budget is not spent, and the host is not
// rebooted again.
func TestRedrivenEndedJobIsStale(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/trust.yaml", "ROLLWAVE_CLUSTERS=managed")
	res := p.newResults()
	const host = "i-0a00000000000000b"
	p.send(topology.Patcher, handJob("ended-1", "managed", host))
	if e := res.waitEnded(120*time.Second, []string{host})[host]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Fatalf("job ended-1 ended %s (%s), want updated", e.DetailType, e.Reason)
	}
	before := p.report().APICallsByCaller[workerKey]
	events := len(res.all)

	// The job's messages at its later steps, as the workers sent them: accepted by the patcher.
	accepted := `"history":[{"step":"stage","at":"2026-01-01T00:00:00Z","by":"patcher","note":"accepted; rollwave.job set"}]`
	for step, logical := range map[string]string{"drain": topology.Drainer, "reboot": topology.Reboot, "verify": topology.Verifier} {
		body := strings.TrimSuffix(stepJob("ended-1", "managed", host, step), "}") + "," + accepted + "}"
		p.send(logical, body)
	}
	p.waitIdle(topology.Drainer, topology.Patcher, topology.Reboot, topology.Verifier)

	after := p.report()
	for _, op := range writeOps {
		if n := after.APICallsByCaller[workerKey][op] - before[op]; n > 0 {
			t.Errorf("the workers called %s %d times for the stale copies; want no write", op, n)
		}
	}
	if err := res.poll(); err != nil {
		t.Fatal(err)
	}
	if extra := res.all[events:]; len(extra) != 0 {
		t.Errorf("pipeline events for the stale copies: %+v; want none", extra)
	}
	if in := reportInstance(t, after, host); in.Reboots != 1 || in.Version != targetVersion || in.Status != "ACTIVE" {
		t.Errorf("host %s: %d reboots, version %s, %s; want 1 reboot, %s, ACTIVE", host, in.Reboots, in.Version, in.Status, targetVersion)
	}
	p.checkNotHalted("managed")
	p.checkNoDeadLetters()
}

// TestPolicyOverrideByNameAppliesToAJobNamingTheClusterByARN: ROLLWAVE_CLUSTER_POLICIES keys
// the cluster arnpolicy by name and opts it into the standalone policy stop; a job that names the
// cluster by its ARN gets that policy (the host's standalone task is stopped and the host
// updated), where the default policy, skip, would have skipped it.
func TestPolicyOverrideByNameAppliesToAJobNamingTheClusterByARN(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/arnpolicy.yaml",
		`ROLLWAVE_CLUSTER_POLICIES={"arnpolicy": {"standaloneTasks": "stop", "standaloneGrace": "2s"}}`)
	res := p.newResults()
	const host = "i-0c00000000000000a"
	p.send(topology.Patcher, handJob("by-arn", p.clusters["arnpolicy"], host))
	if e := res.waitEnded(120*time.Second, []string{host})[host]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("job by-arn ended %s (%s: %s), want updated under the cluster's policy stop", e.DetailType, e.Reason, e.Message)
	}
	if n := p.report().APICallsByCaller[workerKey]["ecs:StopTask"]; n == 0 {
		t.Error("no ecs:StopTask: the standalone task was not stopped under the cluster's policy")
	}
	p.checkNoDeadLetters()
}
