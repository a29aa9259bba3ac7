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
		for _, l := range []string{"scanner", "patcher", "reboot", "drainer", "verifier", "drainer-events", "verifier-events"} {
			want = append(want, [2]string{p + "-" + l, p + "-" + l + "-dlq"})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Default(%q) queue names (-want +got):\n%s", prefix, diff)
		}
	}
}

// Each queue has one consumer, and the patcher takes reboots from a queue of their own, so that a
// reboot never waits behind staging (docs/decisions/lanes.md).
func TestEachWorkerConsumesItsQueues(t *testing.T) {
	top := topology.Default("rollwave")
	got := map[string][]string{}
	for _, w := range []string{topology.ScannerWorker, topology.PatcherWorker, topology.DrainerWorker, topology.VerifierWorker} {
		for _, q := range top.ConsumedBy(w) {
			got[w] = append(got[w], q.Logical)
		}
	}
	want := map[string][]string{
		"scanner":  {"scanner"},
		"patcher":  {"patcher", "reboot"},
		"drainer":  {"drainer", "drainer-events"},
		"verifier": {"verifier", "verifier-events"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConsumedBy (-want +got):\n%s", diff)
	}
	for _, q := range top.Queues {
		if q.Consumer == "" {
			t.Errorf("%s has no consumer", q.Name)
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

func TestECSRulesRouteWhatEachWaiterNeeds(t *testing.T) {
	top := topology.Default("rollwave")
	const (
		drainer  = `{"detail":{"pendingTasksCount":[0],"status":["DRAINING","ACTIVE"]},"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`
		verifier = `{"detail":{"runningTasksCount":[0],"status":["DRAINING"]},"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`
	)
	want := []topology.Rule{
		{Name: "rollwave-ecs-instance-to-drainer-events", Description: "ECS container instance state changes for the drainer-events queue", EventPattern: drainer, Target: "drainer-events", TargetID: "sqs-rollwave-drainer-events"},
		{Name: "rollwave-ecs-instance-to-verifier-events", Description: "ECS container instance state changes for the verifier-events queue", EventPattern: verifier, Target: "verifier-events", TargetID: "sqs-rollwave-verifier-events"},
	}
	if diff := cmp.Diff(want, top.Rules); diff != "" {
		t.Errorf("Default rules (-want +got):\n%s", diff)
	}
	restricted := top.RestrictToClusters([]string{"arn:aws:ecs:us-east-1:123456789012:cluster/prod"})
	wantRestricted := map[string]string{
		"drainer-events":  `{"detail":{"clusterArn":["arn:aws:ecs:us-east-1:123456789012:cluster/prod"],"pendingTasksCount":[0],"status":["DRAINING","ACTIVE"]},"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`,
		"verifier-events": `{"detail":{"clusterArn":["arn:aws:ecs:us-east-1:123456789012:cluster/prod"],"runningTasksCount":[0],"status":["DRAINING"]},"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`,
	}
	for _, r := range restricted.Rules {
		if r.EventPattern != wantRestricted[r.Target] {
			t.Errorf("RestrictToClusters rule %s pattern = %s, want %s", r.Name, r.EventPattern, wantRestricted[r.Target])
		}
	}
	if top.Rules[0].EventPattern != drainer {
		t.Errorf("RestrictToClusters changed the original topology")
	}
	const all = `{"detail-type":["ECS Container Instance State Change"],"source":["aws.ecs"]}`
	if got := topology.ECSContainerInstancePattern(nil); got != all {
		t.Errorf("ECSContainerInstancePattern(nil) = %s, want every change: %s", got, all)
	}
	const own = `{"detail":{"deployment":["rollwave"]},"source":["rollwave"]}`
	if got, pattern := top.PipelineRuleName(), topology.PipelineEventPattern(top.Prefix); got != "rollwave-pipeline-events" || pattern != own || top.History.Pattern != own {
		t.Errorf("pipeline rule = %s %s, history %s; want rollwave-pipeline-events and the deployment's own events %s", got, pattern, top.History.Pattern, own)
	}
}

func TestQueuePolicyLetsOnlyTheRulesSend(t *testing.T) {
	got := topology.QueuePolicy("arn:aws:sqs:us-east-1:1:q", []string{"r"}, []string{"arn:aws:events:us-east-1:1:rule/r"}).JSON()
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"AllowEventBridge-r","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:1:q","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:events:us-east-1:1:rule/r"}}}]}`
	if got != want {
		t.Errorf("QueuePolicy() = %s, want %s", got, want)
	}
}
