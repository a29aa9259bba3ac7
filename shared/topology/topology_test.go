package topology_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

func TestDefaultNamesEveryQueueAndItsDeadLetterQueue(t *testing.T) {
	for _, prefix := range []string{"", "staging"} {
		top := topology.Default(prefix)
		p := prefix
		if p == "" {
			p = topology.DefaultPrefix
		}
		var got [][2]string
		for _, q := range top.Queues {
			got = append(got, [2]string{q.Name, q.DeadLetter.Name})
			if q.DeadLetter.MessageRetention != 14*24*time.Hour {
				t.Errorf("Default(%q) %s dead-letter retention = %s, want 14 days", prefix, q.Name, q.DeadLetter.MessageRetention)
			}
			if q.MaxMessageBytes != 1048576 {
				t.Errorf("Default(%q) %s MaxMessageBytes = %d, want 1048576 (1 MiB, the SQS maximum)", prefix, q.Name, q.MaxMessageBytes)
			}
			if q.MaxReceiveCount < 1 || q.VisibilityTimeout < time.Second || q.ReceiveWait != 20*time.Second {
				t.Errorf("Default(%q) %s = %+v, want a redrive limit, a visibility timeout and a 20 s long poll", prefix, q.Name, q)
			}
		}
		var want [][2]string
		for _, l := range []string{"scanner", "patcher", "drainer", "verifier", "drainer-events", "verifier-events"} {
			want = append(want, [2]string{p + "-" + l, p + "-" + l + "-dlq"})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Default(%q) queue names (-want +got):\n%s", prefix, diff)
		}
	}
}

// A job that waits for its maintenance window waits in its queue: the queue must keep it longer
// than the longest a window stays closed. Only the ECS event queues, whose messages are hints
// that nothing waits in, keep theirs for less.
func TestJobQueuesOutliveTheLongestWaitAPolicyAllows(t *testing.T) {
	for _, q := range topology.Default("rollwave").Queues {
		hint := q.Logical == topology.DrainerEvents || q.Logical == topology.VerifierEvents
		if !hint && q.MessageRetention <= update.LongestWindowWait {
			t.Errorf("%s keeps a message %s, want longer than the %s a window may stay closed", q.Name, q.MessageRetention, update.LongestWindowWait)
		}
		if q.MessageRetention > 14*24*time.Hour {
			t.Errorf("%s keeps a message %s, more than SQS allows (14 days)", q.Name, q.MessageRetention)
		}
	}
}

func TestECSRulesRouteToBothEventQueues(t *testing.T) {
	top := topology.Default("rollwave")
	const all = `{"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`
	want := []topology.Rule{
		{Name: "rollwave-ecs-instance-to-drainer-events", Description: "ECS container instance state changes for the drainer-events queue", EventPattern: all, Target: "drainer-events", TargetID: "sqs-rollwave-drainer-events"},
		{Name: "rollwave-ecs-instance-to-verifier-events", Description: "ECS container instance state changes for the verifier-events queue", EventPattern: all, Target: "verifier-events", TargetID: "sqs-rollwave-verifier-events"},
	}
	if diff := cmp.Diff(want, top.Rules); diff != "" {
		t.Errorf("Default rules (-want +got):\n%s", diff)
	}
	restricted := top.RestrictToClusters([]string{"arn:aws:ecs:us-east-1:123456789012:cluster/prod"})
	const one = `{"detail":{"clusterArn":["arn:aws:ecs:us-east-1:123456789012:cluster/prod"]},"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`
	for _, r := range restricted.Rules {
		if r.EventPattern != one {
			t.Errorf("RestrictToClusters rule %s pattern = %s, want %s", r.Name, r.EventPattern, one)
		}
	}
	if top.Rules[0].EventPattern != all {
		t.Errorf("RestrictToClusters changed the original topology")
	}
	if got := top.PipelineRuleName(); got != "rollwave-pipeline-events" || topology.PipelineEventPattern != `{"source":["rollwave"]}` {
		t.Errorf("pipeline rule = %s %s, want rollwave-pipeline-events {\"source\":[\"rollwave\"]}", got, topology.PipelineEventPattern)
	}
}

func TestQueuePolicyLetsOnlyTheRulesSend(t *testing.T) {
	got := topology.QueuePolicy("arn:aws:sqs:us-east-1:1:q", []string{"r"}, []string{"arn:aws:events:us-east-1:1:rule/r"}).JSON()
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"AllowEventBridge-r","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:1:q","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:events:us-east-1:1:rule/r"}}}]}`
	if got != want {
		t.Errorf("QueuePolicy() = %s, want %s", got, want)
	}
}
