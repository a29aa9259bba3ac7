package service

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
)

// countingURLs answers GetQueueUrl for any queue and counts the calls by queue name.
type countingURLs struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingURLs) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[aws.ToString(in.QueueName)]++
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.test/1/" + aws.ToString(in.QueueName))}, nil
}

// A worker process looks up the queues it consumes and forwards to, each once, as the drainer
// does at start: its two workers, and the URLs of the queues it forwards to and reads tags of.
func TestWorkersResolveOnlyTheirQueuesOnce(t *testing.T) {
	urls := &countingURLs{calls: map[string]int{}}
	c := Common{Prefix: "rw", ShutdownGrace: queue.DefaultShutdownGrace}
	queues := c.Queues(urls)
	ctx := t.Context()
	done := func(context.Context, queue.Message) queue.Outcome { return queue.Done() }
	for _, logical := range []string{topology.Drainer, topology.DrainerEvents} {
		if _, err := c.NewWorker(ctx, queuetest.NewSQS(), queues, logical, 4, done, zerolog.Nop()); err != nil {
			t.Fatalf("NewWorker(%s) = %v", logical, err)
		}
	}
	for _, logical := range []string{topology.Patcher, topology.Drainer, topology.Patcher} {
		if _, err := queues.URL(ctx, logical); err != nil {
			t.Fatalf("URL(%s) = %v", logical, err)
		}
	}
	want := map[string]int{"rw-drainer": 1, "rw-drainer-dlq": 1, "rw-drainer-events": 1, "rw-drainer-events-dlq": 1, "rw-patcher": 1}
	if diff := cmp.Diff(want, urls.calls); diff != "" {
		t.Errorf("GetQueueUrl calls by queue (-want +got):\n%s", diff)
	}
}
