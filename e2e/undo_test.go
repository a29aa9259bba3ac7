package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// Hosts of testdata/undo.yaml.
const (
	offlineHost = "i-0e00000000000000a" // ssmAgentOffline
	hungHost    = "i-0e00000000000000b" // applyHangs
	healthyHost = "i-0e00000000000000c"
)

// TestUndoWhenTheUpdateCheckCannotRun: when staging's update check cannot run (the SSM agent
// offline; apply hung, so the check answers 423 Locked), the undo's own check fails the same way.
// The job must still end staging-failed with the underlying error, publish "Instance Update
// Failed", and leave the instance unmarked and ACTIVE, so that a rescan finds it again.
func TestUndoWhenTheUpdateCheckCannotRun(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/undo.yaml", "ROLLWAVE_APPLY_TIMEOUT=5s", "ROLLWAVE_ERROR_BUDGET_FAILURES=3")
	ctx := t.Context()
	res := p.newResults()
	for _, host := range []string{offlineHost, hungHost} {
		p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","cluster":"undo","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"undo"}`,
			host, targetVersion))
	}
	got := res.waitEnded(90*time.Second, []string{offlineHost, hungHost})
	// The message begins with the failure and ends with what the undo could not do.
	wantInMessage := map[string][]string{
		offlineHost: {"update check: ", "did not finish in time", "; undo: update state unknown"},
		hungHost:    {"wait for " + p.prefix + "-update-apply on " + hungHost + " (last status InProgress, ", "did not finish in time", "; undo: update state unknown", "423 Locked"},
	}
	for host, wants := range wantInMessage {
		e := got[host]
		if e.DetailType != notify.InstanceUpdateFailed || e.Reason != "staging-failed" {
			t.Errorf("host %s ended %q (%s: %s), want %q with reason staging-failed", host, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateFailed)
		}
		if !strings.HasPrefix(e.Message, wants[0]) {
			t.Errorf("host %s ended with message %q, want it to begin with %q", host, e.Message, wants[0])
		}
		for _, want := range wants[1:] {
			if !strings.Contains(e.Message, want) {
				t.Errorf("host %s ended with message %q, want it to contain %q", host, e.Message, want)
			}
		}
	}
	endedAt := time.Now()
	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		var wrong []string
		for _, in := range p.instances()["undo"] {
			if in.Status != "ACTIVE" || marked(in) {
				wrong = append(wrong, fmt.Sprintf("%s %s %v", in.EC2InstanceID, in.Status, in.Attributes))
			}
		}
		return len(wrong) == 0, fmt.Sprintf("want every host ACTIVE and unmarked: %v", wrong)
	})
	if dl := p.deadLetters(); len(dl) > 0 {
		t.Errorf("dead-letter queues hold %v, want the jobs ended, not dead-lettered", dl)
		p.dumpDeadLetters()
	}

	// The rescan sees both hosts again. The agent is back: that host is updated. The hung host
	// still holds its update lock (until it reboots), but the scan checks it again. The agent
	// comes back once SSM gave up delivering the staging's check: delivered with the scan's own,
	// it would hold the update lock as the scan's check arrives, which then answers 423 Locked.
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		n := p.commandsWaiting(offlineHost)
		return n == 0, fmt.Sprintf("%d commands still waiting for %s's agent", n, offlineHost)
	})
	if err := p.fleet.ClearFaults(ctx); err != nil {
		t.Fatalf("clear faults: %v", err)
	}
	checksBefore := p.checksSince(hungHost, endedAt)
	res.byEC2 = map[string]ended{}
	p.scan()
	again := res.waitEnded(90*time.Second, []string{offlineHost, healthyHost})
	for _, host := range []string{offlineHost, healthyHost} {
		if e := again[host]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("host %s after the rescan ended %q (%s: %s), want %q to %s", host, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded, targetVersion)
		}
	}
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		n := p.checksSince(hungHost, endedAt)
		return n > checksBefore, fmt.Sprintf("%d update checks sent to %s since its job ended, want the rescan's too", n, hungHost)
	})
	for _, in := range p.report().Instances {
		if in.EC2InstanceID == hungHost && slices.ContainsFunc(in.Timeline, func(e admin.InstanceEvent) bool { return e.Event == admin.EventDraining }) {
			t.Errorf("host %s whose staging failed was drained: %+v", hungHost, in.Timeline)
		}
	}
	p.checkNoDeadLetters()
}

// commandsWaiting counts the commands to instance that are still pending or in progress.
func (p *pipeline) commandsWaiting(instance string) int {
	p.t.Helper()
	client := ssm.NewFromConfig(p.stack.AWSConfig(p.t.Context()))
	n := 0
	pages := ssm.NewListCommandsPaginator(client, &ssm.ListCommandsInput{InstanceId: aws.String(instance)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(p.t.Context())
		if err != nil {
			p.t.Fatalf("list commands of %s: %v", instance, err)
		}
		for _, c := range out.Commands {
			if c.Status == ssmtypes.CommandStatusPending || c.Status == ssmtypes.CommandStatusInProgress {
				n++
			}
		}
	}
	return n
}

// checksSince counts the update-check commands sent to instance since t.
func (p *pipeline) checksSince(instance string, since time.Time) int {
	p.t.Helper()
	client := ssm.NewFromConfig(p.stack.AWSConfig(p.t.Context()))
	doc := ssmdoc.Name(p.prefix, ssmdoc.Check)
	n := 0
	pages := ssm.NewListCommandsPaginator(client, &ssm.ListCommandsInput{InstanceId: aws.String(instance)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(p.t.Context())
		if err != nil {
			p.t.Fatalf("list commands of %s: %v", instance, err)
		}
		for _, c := range out.Commands {
			if aws.ToString(c.DocumentName) == doc && c.RequestedDateTime != nil && c.RequestedDateTime.After(since) {
				n++
			}
		}
	}
	return n
}

// TestRefusedMessagesReachTheDeadLetterQueues: a job whose ID the reboot's SSM comment cannot
// carry, an empty scan request and a body at the queue's maximum size each end in their queue's
// dead-letter queue with the reason, before any worker changed anything.
func TestRefusedMessagesReachTheDeadLetterQueues(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/undo.yaml")
	longID := strings.Repeat("j", 88)
	p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","id":%q,"cluster":"undo","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"long id"}`,
		longID, healthyHost, targetVersion))
	p.send(topology.Scanner, " \n ")
	p.send(topology.Scanner, "{}")
	head := `{"schema":"rollwave.job/v1","cluster":"undo","instance":"` + healthyHost + `","requestedBy":"e2e","reason":"`
	huge := head + strings.Repeat("x", topology.MaxMessageBytes-len(head)-2) + `"}`
	p.send(topology.Patcher, huge)

	patcher := p.deadLettered(topology.Patcher, 2)
	byBody := map[bool]deadLetter{}
	for _, m := range patcher {
		byBody[strings.Contains(m.body, longID)] = m
	}
	if r := byBody[true].attrs[queue.AttrReason]; !strings.Contains(r, `id: "`+longID+`" is 88 characters, at most 87`) {
		t.Errorf("the long-ID job's reason = %q, want it to name the ID and the limit", r)
	}
	big := byBody[false]
	sum := sha256.Sum256([]byte(huge))
	want := map[string]string{queue.AttrOriginalBytes: strconv.Itoa(len(huge)), queue.AttrOriginalSHA256: hex.EncodeToString(sum[:])}
	for k, v := range want {
		if big.attrs[k] != v {
			t.Errorf("dead-letter copy of the %d-byte body: %s = %q, want %q", len(huge), k, big.attrs[k], v)
		}
	}
	if r := big.attrs[queue.AttrReason]; !strings.Contains(r, "the message is 1048576 bytes, a job at most 65536") {
		t.Errorf("the huge body's reason = %q, want its size and the limit", r)
	}
	if !strings.HasPrefix(huge, big.body) || len(big.body) >= len(huge) {
		t.Errorf("the copy of the huge body is %d bytes, want a truncated prefix of the %d-byte original", len(big.body), len(huge))
	}

	scans := p.deadLettered(topology.Scanner, 2)
	for _, m := range scans {
		if r := m.attrs[queue.AttrReason]; !strings.HasPrefix(r, "invalid scan request: ") {
			t.Errorf("scan request %q dead-lettered with reason %q, want \"invalid scan request: ...\"", m.body, r)
		}
	}
	for _, in := range p.instances()["undo"] {
		if in.Status != "ACTIVE" || marked(in) {
			t.Errorf("host %s is %s with %v, want it untouched", in.EC2InstanceID, in.Status, in.Attributes)
		}
	}
	for _, logical := range []string{topology.Scanner, topology.Patcher, topology.Drainer} {
		if n := p.visible(logical); n != 0 {
			t.Errorf("queue %s holds %d messages, want none: nothing was forwarded", logical, n)
		}
	}
	if n := p.report().APICallsByCaller[workerKey]["ssm:SendCommand"]; n != 0 {
		t.Errorf("the workers sent %d SSM commands, want none: no scan, no staging", n)
	}
}

// deadLetter is one message of a dead-letter queue.
type deadLetter struct {
	body  string
	attrs map[string]string
}

// deadLettered waits until the dead-letter queue of logical holds n messages and returns them,
// taking them out of the queue.
func (p *pipeline) deadLettered(logical string, n int) []deadLetter {
	p.t.Helper()
	q, err := p.topo.Queue(logical)
	if err != nil {
		p.t.Fatal(err)
	}
	var got []deadLetter
	harness.Eventually(p.t, 60*time.Second, func() (bool, string) {
		out, err := p.sqs.ReceiveMessage(p.t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.DeadLetterURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return false, err.Error()
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			got = append(got, deadLetter{body: aws.ToString(m.Body), attrs: attrs})
			if _, err := p.sqs.DeleteMessage(p.t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.DeadLetterURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return false, err.Error()
			}
		}
		return len(got) >= n, fmt.Sprintf("%s holds %d of %d messages", q.DeadLetterName, len(got), n)
	})
	if len(got) != n {
		p.t.Errorf("%s held %d messages, want %d", q.DeadLetterName, len(got), n)
	}
	return got
}

// visible returns how many messages the queue logical holds, visible or in flight.
func (p *pipeline) visible(logical string) int {
	p.t.Helper()
	q, err := p.topo.Queue(logical)
	if err != nil {
		p.t.Fatal(err)
	}
	a, err := p.sqs.GetQueueAttributes(p.t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.URL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		p.t.Fatalf("attributes of %s: %v", q.Name, err)
	}
	n := 0
	for _, v := range a.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}
