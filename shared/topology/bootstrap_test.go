package topology_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rollwave/rollwave/shared/topology"
)

func TestBootstrapOnMoto(t *testing.T) {
	ctx := t.Context()
	cfg := motoConfig(t)
	sqsClient, events, logs := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	top := topology.Default(fmt.Sprintf("rw%d", time.Now().UnixNano()%1e6))
	clients := topology.Clients{SQS: sqsClient, Events: events, Logs: logs}

	first, err := topology.Bootstrap(ctx, clients, top)
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

	// Each event queue gets the container instance changes its waiters need and nothing else:
	// the drainer those of DRAINING and ACTIVE instances with no task pending (a drain that ends,
	// a return to service, a task that started: each wakes a held job), the verifier those of
	// drained ones.
	t.Run("each event queue gets only the ECS events its waiters need", func(t *testing.T) {
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
		instance := func(status string, running, pending int, agent bool) string {
			return fmt.Sprintf(`{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","status":%q,"runningTasksCount":%d,"pendingTasksCount":%d,"agentConnected":%t}`, status, running, pending, agent)
		}
		put("aws.ecs", topology.ECSContainerInstanceStateChange, instance("ACTIVE", 3, 1, true))   // a task placed on a serving host
		put("aws.ecs", topology.ECSContainerInstanceStateChange, instance("ACTIVE", 4, 0, true))   // and started there
		put("aws.ecs", topology.ECSContainerInstanceStateChange, instance("DRAINING", 2, 0, true)) // a drain under way
		put("aws.ecs", topology.ECSContainerInstanceStateChange, instance("DRAINING", 0, 0, false))
		want := map[string][]string{
			topology.DrainerEvents:  {"ACTIVE 4", "DRAINING 2", "DRAINING 0"},
			topology.VerifierEvents: {"DRAINING 0"},
		}
		for _, logical := range []string{topology.DrainerEvents, topology.VerifierEvents} {
			url := first.Queues[logical].URL
			var got []string
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && len(got) < 5 {
				out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					t.Fatalf("ReceiveMessage(%s) = %v", logical, err)
				}
				for _, m := range out.Messages {
					var ev struct {
						DetailType string `json:"detail-type"`
						Detail     struct {
							Status  string `json:"status"`
							Running int    `json:"runningTasksCount"`
						} `json:"detail"`
					}
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
						t.Fatalf("event on %s is not JSON: %v", logical, err)
					}
					if ev.DetailType != topology.ECSContainerInstanceStateChange {
						t.Errorf("event %q reached %s, want only container instance changes", ev.DetailType, logical)
					}
					got = append(got, fmt.Sprint(ev.Detail.Status, " ", ev.Detail.Running))
				}
			}
			if diff := cmp.Diff(want[logical], got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("events on %s (-want +got):\n%s", logical, diff)
			}
		}
	})

	t.Run("the history log group keeps the pipeline events for the retention", func(t *testing.T) {
		out, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(top.History.LogGroup)})
		if err != nil || len(out.LogGroups) != 1 {
			t.Fatalf("DescribeLogGroups(%s) = %d groups, %v; want 1", top.History.LogGroup, len(out.LogGroups), err)
		}
		if got := aws.ToInt32(out.LogGroups[0].RetentionInDays); got != 90 {
			t.Errorf("history retention = %d days, want 90", got)
		}
		if first.HistoryLogGroupARN == "" || strings.HasSuffix(first.HistoryLogGroupARN, ":*") {
			t.Errorf("HistoryLogGroupARN = %q, want the group's ARN without :*", first.HistoryLogGroupARN)
		}
		rule, err := events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(top.History.Rule)})
		if want := topology.PipelineEventPattern(top.Prefix); err != nil || !sameJSON(aws.ToString(rule.EventPattern), want) {
			t.Fatalf("history rule = %v, %v; want pattern %s", rule, err, want)
		}
		targets, err := events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(top.History.Rule)})
		if err != nil || len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != first.HistoryLogGroupARN {
			t.Errorf("history rule targets = %+v, %v; want the log group %s", targets, err, first.HistoryLogGroupARN)
		}
	})

	t.Run("a second Bootstrap changes nothing", func(t *testing.T) {
		second, err := topology.Bootstrap(ctx, clients, top)
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

// sameJSON reports whether two JSON documents are equal whatever their spacing and key order.
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && cmp.Equal(x, y)
}
