package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

func TestMalformedMessagesGoToDeadLetterQueues(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/poison.yaml")
	ctx := t.Context()
	queues := []string{topology.Scanner, topology.Patcher, topology.Reboot, topology.Drainer, topology.Verifier, topology.DrainerEvents, topology.VerifierEvents}
	for _, q := range queues {
		p.send(q, `{"schema": "rollwave.job/v1", "cluster": `) // truncated JSON: no worker can decode it
	}

	for _, logical := range queues {
		q, err := p.topo.Queue(logical)
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]string
		var receives string
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(q.DeadLetterURL), MaxNumberOfMessages: 1, MessageAttributeNames: []string{"All"},
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
			})
			if err != nil {
				return false, err.Error()
			}
			if len(out.Messages) == 0 {
				return false, "dead-letter queue " + q.DeadLetterName + " is empty"
			}
			m := out.Messages[0]
			attrs = map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			receives = m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]
			return true, ""
		})
		t.Logf("%s: %v (ApproximateReceiveCount of the copy %s)", q.DeadLetterName, attrs, receives)
		if attrs[queue.AttrReason] == "" {
			t.Errorf("message in %s has no %s attribute: %v", q.DeadLetterName, queue.AttrReason, attrs)
		}
		// The worker sends a copy with the receive count of the original; SQS's own redrive would
		// keep the message, whose ApproximateReceiveCount then counts the receives on the source.
		if n := attrs[queue.AttrReceiveCount]; n != "1" && !(n == "" && receives == "1") {
			t.Errorf("message in %s was received %s times (%s=%q), want it dead-lettered after a single receive",
				q.DeadLetterName, receives, queue.AttrReceiveCount, n)
		}
		if src := attrs[queue.AttrSourceQueue]; src != "" && !strings.HasSuffix(src, q.Name) {
			t.Errorf("message in %s names source queue %q, want %s", q.DeadLetterName, src, q.Name)
		}
	}
	// The worker deletes the original right after sending the copy.
	for _, logical := range queues {
		q, _ := p.topo.Queue(logical)
		harness.Eventually(t, 10*time.Second, func() (bool, string) {
			a, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
				QueueUrl: aws.String(q.URL),
				AttributeNames: []sqstypes.QueueAttributeName{
					sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				},
			})
			if err != nil {
				return false, err.Error()
			}
			want := map[string]string{"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
			return fmt.Sprint(a.Attributes) == fmt.Sprint(want), fmt.Sprintf("queue %s still holds the malformed message: %v", q.Name, a.Attributes)
		})
	}
}
