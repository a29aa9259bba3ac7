package pause_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestPauseOnMoto runs the whole contract against a real SQS API: set, read, clear, and the
// queue's other tags left alone.
func TestPauseOnMoto(t *testing.T) {
	stack := harness.Start(t, harness.WithoutFleetsim())
	ctx := t.Context()
	client := sqs.NewFromConfig(stack.AWSConfig(ctx))
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(stack.Name("rollwave-drainer")), Tags: map[string]string{"team": "ops"},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(q.QueueUrl)

	read := func() pause.State {
		t.Helper()
		s, err := pause.Read(ctx, client, url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := read().All(); len(got) != 0 {
		t.Fatalf("pauses of a new queue = %v, want none", got)
	}
	if err := pause.Set(ctx, client, url, "prod", "alice", "CVE triage, OPS-1"); err != nil {
		t.Fatal(err)
	}
	if err := pause.Set(ctx, client, url, "", "bob", "freeze"); err != nil {
		t.Fatal(err)
	}
	want := []pause.Info{{All: true, Who: "bob", Reason: "freeze"}, {Cluster: "prod", Who: "alice", Reason: "CVE triage OPS-1"}}
	if diff := cmp.Diff(want, read().All()); diff != "" {
		t.Errorf("pauses after two Sets (-want +got):\n%s", diff)
	}
	if err := pause.Clear(ctx, client, url, ""); err != nil {
		t.Fatal(err)
	}
	s := read()
	if _, ok := s.Paused("staging"); ok {
		t.Error("staging paused after the global pause was cleared")
	}
	if i, ok := s.Paused("prod"); !ok || i.Who != "alice" {
		t.Errorf("Paused(prod) = %+v, %v after clearing the global pause, want alice's pause", i, ok)
	}
	if err := pause.Clear(ctx, client, url, "prod"); err != nil {
		t.Fatal(err)
	}
	if err := pause.Clear(ctx, client, url, "prod"); err != nil {
		t.Errorf("Clear of a pause that is not set = %v, want nil", err)
	}
	out, err := client.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "ops"}, out.Tags); diff != "" {
		t.Errorf("tags after resuming everything (-want +got):\n%s", diff)
	}
}
