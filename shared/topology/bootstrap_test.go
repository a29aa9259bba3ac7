package topology_test

import (
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
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/topology"
)

func TestBootstrapOnMoto(t *testing.T) {
	ctx := t.Context()
	cfg := motoConfig(t)
	sqsClient, events := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	top := topology.Default(fmt.Sprintf("rw%d", time.Now().UnixNano()%1e6))

	first, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqsClient, Events: events}, top)
	if err != nil {
		t.Fatalf("Bootstrap() = %v", err)
	}
	if len(first.Changes) == 0 {
		t.Errorf("first Bootstrap() changed nothing")
	}

	t.Run("every queue has its redrive policy", func(t *testing.T) {
		for _, q := range top.Queues {
			rq := first.Queues[q.Logical]
			out, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &rq.URL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
			if err != nil {
				t.Fatalf("GetQueueAttributes(%s) = %v", q.Name, err)
			}
			var rp struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
				MaxReceiveCount     any    `json:"maxReceiveCount"`
			}
			if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &rp); err != nil {
				t.Fatalf("%s RedrivePolicy %q: %v", q.Name, out.Attributes["RedrivePolicy"], err)
			}
			if rp.DeadLetterTargetArn != rq.DeadLetterARN || fmt.Sprint(rp.MaxReceiveCount) != fmt.Sprint(q.MaxReceiveCount) {
				t.Errorf("%s RedrivePolicy = %+v, want %s after %d receives", q.Name, rp, rq.DeadLetterARN, q.MaxReceiveCount)
			}
			if got, want := out.Attributes["VisibilityTimeout"], fmt.Sprint(int(q.VisibilityTimeout.Seconds())); got != want {
				t.Errorf("%s VisibilityTimeout = %s, want %s", q.Name, got, want)
			}
			dlq, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &rq.DeadLetterURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameMaximumMessageSize}})
			if err != nil {
				t.Fatalf("GetQueueAttributes(%s) = %v", q.DeadLetter.Name, err)
			}
			for name, got := range map[string]string{q.Name: out.Attributes["MaximumMessageSize"], q.DeadLetter.Name: dlq.Attributes["MaximumMessageSize"]} {
				if want := fmt.Sprint(q.MaxMessageBytes); got != want {
					t.Errorf("%s MaximumMessageSize = %s, want %s", name, got, want)
				}
			}
		}
	})

	t.Run("an ECS container instance event reaches both event queues and nothing else does", func(t *testing.T) {
		put := func(source, detailType, detail string) {
			out, err := events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(detail),
			}}})
			if err != nil || out.FailedEntryCount != 0 {
				t.Fatalf("PutEvents(%s) = %+v, %v", source, out, err)
			}
		}
		put("rollwave", "Instance Updated", `{"job":"j-1"}`)
		put("aws.ecs", "ECS Task State Change", `{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod"}`)
		put("aws.ecs", topology.ECSContainerInstanceStateChange, `{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","status":"DRAINING"}`)
		for _, logical := range []string{topology.DrainerEvents, topology.VerifierEvents} {
			url := first.Queues[logical].URL
			var got []string
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && len(got) < 3 {
				out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					t.Fatalf("ReceiveMessage(%s) = %v", logical, err)
				}
				for _, m := range out.Messages {
					var ev struct {
						DetailType string `json:"detail-type"`
					}
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
						t.Fatalf("event on %s is not JSON: %v", logical, err)
					}
					got = append(got, ev.DetailType)
				}
			}
			if diff := cmp.Diff([]string{topology.ECSContainerInstanceStateChange}, got); diff != "" {
				t.Errorf("events on %s (-want +got):\n%s", logical, diff)
			}
		}
	})

	t.Run("a second Bootstrap changes nothing", func(t *testing.T) {
		second, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqsClient, Events: events}, top)
		if err != nil {
			t.Fatalf("second Bootstrap() = %v", err)
		}
		if len(second.Changes) != 0 {
			t.Errorf("second Bootstrap() changes = %s, want none", strings.Join(second.Changes, "; "))
		}
		if diff := cmp.Diff(first.Queues, second.Queues); diff != "" {
			t.Errorf("second Bootstrap() queues (-first +second):\n%s", diff)
		}
	})

	t.Run("Resolve finds the same queues", func(t *testing.T) {
		got, err := topology.Resolve(ctx, sqsClient, top)
		if err != nil {
			t.Fatalf("Resolve() = %v", err)
		}
		for logical, want := range first.Queues {
			if g := got.Queues[logical]; g.URL != want.URL || g.DeadLetterURL != want.DeadLetterURL {
				t.Errorf("Resolve() %s = %+v, want URLs %s and %s", logical, g, want.URL, want.DeadLetterURL)
			}
		}
		if _, err := topology.Resolve(ctx, sqsClient, topology.Default("missing")); err == nil {
			t.Errorf("Resolve() of a topology that was never bootstrapped = nil, want an error")
		}
	})

	t.Run("restricting to clusters updates the rules", func(t *testing.T) {
		restricted := top.RestrictToClusters([]string{"arn:aws:ecs:us-east-1:123456789012:cluster/prod"})
		got, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqsClient, Events: events}, restricted)
		if err != nil {
			t.Fatalf("Bootstrap() = %v", err)
		}
		want := []string{"put rule " + top.Rules[0].Name, "put rule " + top.Rules[1].Name}
		if diff := cmp.Diff(want, got.Changes); diff != "" {
			t.Errorf("Bootstrap() changes (-want +got):\n%s", diff)
		}
	})
}
