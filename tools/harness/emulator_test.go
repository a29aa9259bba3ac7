package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/tools/harness"
)

const (
	ecsSource              = "aws.ecs"
	containerInstanceEvent = "ECS Container Instance State Change"
)

// createQueue creates a standard queue and returns its URL and ARN.
func createQueue(t *testing.T, ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (url, arn string) {
	t.Helper()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s): %v", name, err)
	}
	return *out.QueueUrl, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// routeECSEvents creates a queue behind an EventBridge rule on the default bus that matches
// the ECS container instance state change events, and returns the queue's URL.
func routeECSEvents(t *testing.T, ctx context.Context, s *harness.Stack, cfg aws.Config) string {
	t.Helper()
	sqsClient, ebClient := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	queueName, ruleName := s.Name("ecs-events"), s.Name("ecs-ci")
	// The queue policy is what real EventBridge (and LocalStack) needs to deliver; moto ignores it.
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
		`"Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:%s:*:%s"}]}`,
		s.Region, queueName)
	url, arn := createQueue(t, ctx, sqsClient, queueName, map[string]string{"Policy": policy})

	pattern, err := json.Marshal(map[string][]string{"source": {ecsSource}, "detail-type": {containerInstanceEvent}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ebClient.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         aws.String(ruleName),
		EventPattern: aws.String(string(pattern)),
	}); err != nil {
		t.Fatalf("PutRule: %v", err)
	}
	if _, err := ebClient.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:    aws.String(ruleName),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(arn)}},
	}); err != nil {
		t.Fatalf("PutTargets: %v", err)
	}
	return url
}

// event is the part of an EventBridge envelope the tests look at.
type event struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// receiveEvents receives from url until done reports true for the events received so far, or
// the deadline passes. Each receive long-polls for a second: delivery may be asynchronous.
func receiveEvents(t *testing.T, ctx context.Context, client *sqs.Client, url string, timeout time.Duration, done func([]event) bool) []event {
	t.Helper()
	var got []event
	harness.Eventually(t, timeout, func() (bool, string) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(url),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     1,
		})
		if err != nil {
			return false, fmt.Sprintf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			var e event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Errorf("message %q is not an EventBridge event: %v", aws.ToString(m.Body), err)
			}
			got = append(got, e)
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return false, fmt.Sprintf("DeleteMessage: %v", err)
			}
		}
		return done(got), fmt.Sprintf("%d events received", len(got))
	})
	return got
}

func TestEventBridgeRuleDeliversECSEventsToSQS(t *testing.T) {
	s := harness.Start(t, harness.WithoutFleetsim())
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	url := routeECSEvents(t, ctx, s, cfg)

	entry := func(detailType, detail string) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{
			Source:     aws.String(ecsSource),
			DetailType: aws.String(detailType),
			Detail:     aws.String(detail),
			Resources:  []string{"arn:aws:ecs:us-east-1:123456789012:container-instance/c1/abc"},
		}
	}
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		entry("ECS Task State Change", `{"lastStatus":"RUNNING"}`), // not matched by the rule
		entry(containerInstanceEvent, `{"agentConnected":false,"version":7}`),
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %d failed entries: %+v", out.FailedEntryCount, out.Entries)
	}

	got := receiveEvents(t, ctx, sqs.NewFromConfig(cfg), url, 20*time.Second, func(es []event) bool { return len(es) >= 1 })
	for _, e := range got {
		if e.Source != ecsSource || e.DetailType != containerInstanceEvent {
			t.Errorf("queue received %s/%s, want only %s/%s", e.Source, e.DetailType, ecsSource, containerInstanceEvent)
		}
	}
	var detail struct {
		AgentConnected bool `json:"agentConnected"`
		Version        int  `json:"version"`
	}
	if err := json.Unmarshal(got[0].Detail, &detail); err != nil {
		t.Fatalf("decode detail %s: %v", got[0].Detail, err)
	}
	if detail.AgentConnected || detail.Version != 7 {
		t.Errorf("detail = %s, want agentConnected false and version 7", got[0].Detail)
	}
}

func TestRedrivePolicyMovesMessageToDLQ(t *testing.T) {
	s := harness.Start(t, harness.WithoutFleetsim())
	ctx := t.Context()
	client := sqs.NewFromConfig(s.AWSConfig(ctx))

	const maxReceiveCount = 2
	dlqURL, dlqARN := createQueue(t, ctx, client, s.Name("jobs-dlq"), nil)
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, dlqARN, maxReceiveCount)
	url, _ := createQueue(t, ctx, client, s.Name("jobs"), map[string]string{"RedrivePolicy": redrive})

	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("poison")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}

	// A consumer that never deletes: it returns each message to the queue at once until the
	// queue gives up on it.
	receives := 0
	var inDLQ []string
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
		if err != nil {
			return false, fmt.Sprintf("ReceiveMessage(jobs): %v", err)
		}
		for _, m := range out.Messages {
			receives++
			// A zero VisibilityTimeout in ReceiveMessage is not sent at all; release explicitly.
			if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				return false, fmt.Sprintf("ChangeMessageVisibility: %v", err)
			}
		}
		dlq, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 1})
		if err != nil {
			return false, fmt.Sprintf("ReceiveMessage(jobs-dlq): %v", err)
		}
		for _, m := range dlq.Messages {
			inDLQ = append(inDLQ, aws.ToString(m.Body))
		}
		return len(inDLQ) > 0, fmt.Sprintf("received %d times from the queue, nothing in the DLQ", receives)
	})
	if len(inDLQ) != 1 || inDLQ[0] != "poison" {
		t.Errorf("DLQ messages = %q, want [poison]", inDLQ)
	}
	if receives != maxReceiveCount {
		t.Errorf("queue delivered the message %d times before moving it, want maxReceiveCount = %d", receives, maxReceiveCount)
	}
}

func TestExternalEmulatorIsShared(t *testing.T) {
	owner := harness.Start(t, harness.WithoutFleetsim())
	ctx := t.Context()
	name := owner.Name("shared")
	if _, err := sqs.NewFromConfig(owner.AWSConfig(ctx)).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}

	// A Stack on an emulator it does not own neither starts nor resets one.
	ext := harness.Start(t, harness.WithoutFleetsim(), harness.WithEmulatorEndpoint(owner.EmulatorURL))
	if ext.EmulatorURL != owner.EmulatorURL {
		t.Fatalf("EmulatorURL = %s, want %s", ext.EmulatorURL, owner.EmulatorURL)
	}
	if ext.Name("shared") == name {
		t.Errorf("two Stacks gave the same Name(shared) = %s", name)
	}
	out, err := sqs.NewFromConfig(ext.AWSConfig(ctx)).ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(name)})
	if err != nil {
		t.Fatalf("ListQueues: %v", err)
	}
	if len(out.QueueUrls) != 1 || !strings.HasSuffix(out.QueueUrls[0], "/"+name) {
		t.Errorf("ListQueues(%s) = %q, want the queue created through the owner", name, out.QueueUrls)
	}
}
