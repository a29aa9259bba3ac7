package queue_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
	"github.com/rollwave/rollwave/shared/queue"
)

var virtualStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// virtualSQS is a queue of one message whose every answer is timed on a virtual clock: an
// empty receive long-polls for its wait on the clock, as SQS does, and each call records when,
// by the clock, it came. Nothing in it waits on real time, so a worker that did would hang.
type virtualSQS struct {
	queue.Client // unused calls panic
	clock        *clock.Virtual

	mu           sync.Mutex
	failReceives int // the next receives that fail
	message      bool
	receives     []time.Duration
	visibilities []time.Duration
	visibleAgain []time.Duration // ChangeMessageVisibility to 0: returned to the queue
	deletedAt    time.Duration
	deleted      chan struct{}
}

func newVirtualSQS(v *clock.Virtual) *virtualSQS {
	return &virtualSQS{clock: v, message: true, deleted: make(chan struct{})}
}

func (s *virtualSQS) since() time.Duration { return clock.Since(s.clock, virtualStart) }

func (s *virtualSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.mu.Lock()
	s.receives = append(s.receives, s.since())
	fail := s.failReceives > 0
	if fail {
		s.failReceives--
	}
	give := !fail && s.message
	s.message = s.message && !give
	s.mu.Unlock()
	switch {
	case fail:
		return nil, errors.New("receive: connection reset")
	case give:
		return &sqs.ReceiveMessageOutput{Messages: []types.Message{{
			MessageId: ptr("m-1"), Body: ptr("job"), ReceiptHandle: ptr("r-1"),
			Attributes: map[string]string{string(types.MessageSystemAttributeNameApproximateReceiveCount): "1"},
		}}}, nil
	}
	if err := clock.Sleep(ctx, s.clock, time.Duration(in.WaitTimeSeconds)*time.Second); err != nil {
		return nil, err
	}
	return &sqs.ReceiveMessageOutput{}, nil
}

func (s *virtualSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.VisibilityTimeout == 0 {
		s.visibleAgain = append(s.visibleAgain, s.since())
	} else {
		s.visibilities = append(s.visibilities, s.since())
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (s *virtualSQS) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletedAt = s.since()
	close(s.deleted)
	return &sqs.DeleteMessageOutput{}, nil
}

// await waits for ch, failing the test if the virtual clock stalls first.
func await(t *testing.T, ch <-chan struct{}, stalled <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-stalled:
		t.Fatalf("the virtual clock stalled before %s", what)
	}
}

func virtualConfig(v *clock.Virtual) queue.Config {
	return queue.Config{
		QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/rollwave-patcher", DeadLetterURL: "https://sqs.us-east-1.amazonaws.com/123456789012/rollwave-patcher-dlq",
		MaxReceiveCount: 3, VisibilityTimeout: 30 * time.Second, WaitTime: 20 * time.Second, Concurrency: 1,
		ShutdownGrace: 10 * time.Second, DeleteWait: 50 * time.Millisecond, Backoff: queue.DefaultBackoff,
		Clock: v,
	}
}

// A handler that takes five virtual minutes has its message's visibility extended every third of
// the visibility timeout of the worker's clock, and its message deleted after the batching wait on
// that clock: the worker keeps no real timer.
func TestWorkerExtendsVisibilityOnItsClock(t *testing.T) {
	v := clock.NewVirtual(virtualStart)
	stalled := clocktest.Run(t, v)
	s := newVirtualSQS(v)
	const work = 5*time.Minute + 5*time.Second
	w, err := queue.NewWorker(s, virtualConfig(v), func(ctx context.Context, _ queue.Message) queue.Outcome {
		if err := clock.Sleep(ctx, v, work); err != nil {
			return queue.Retry(err)
		}
		return queue.Done()
	}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- w.Run(ctx) }()
	await(t, s.deleted, stalled, "the delete")
	cancel()
	if err := <-result; err != nil {
		t.Errorf("Run() = %v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var want []time.Duration
	for at := 10 * time.Second; at <= work; at += 10 * time.Second {
		want = append(want, at)
	}
	if !slices.Equal(s.visibilities, want) {
		t.Errorf("visibility extended at %v, want every 10 s of the clock: %v", s.visibilities, want)
	}
	if want := work + 50*time.Millisecond; s.deletedAt != want {
		t.Errorf("deleted at %s, want %s (the handler's end and the delete wait)", s.deletedAt, want)
	}
}

// The worker waits on its clock before it receives again after a failed receive (1 s, 2 s, 4 s),
// and gives a handler that ignores its cancelled context the shutdown grace twice on that clock
// before it returns the message itself.
func TestWorkerWaitsOnItsClock(t *testing.T) {
	v := clock.NewVirtual(virtualStart)
	stalled := clocktest.Run(t, v)
	s := newVirtualSQS(v)
	s.failReceives = 3
	started, stuck := make(chan struct{}), make(chan struct{})
	defer close(stuck)
	w, err := queue.NewWorker(s, virtualConfig(v), func(context.Context, queue.Message) queue.Outcome {
		close(started)
		<-stuck
		return queue.Done()
	}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- w.Run(ctx) }()
	await(t, started, stalled, "the handler started")
	s.mu.Lock()
	receives := slices.Clone(s.receives)
	s.mu.Unlock()
	if want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}; !slices.Equal(receives, want) {
		t.Errorf("received at %v, want %v (backoff 1 s, 2 s, 4 s on the clock)", receives, want)
	}

	stopping := clock.Since(v, virtualStart)
	cancel()
	var runErr error
	returned := make(chan struct{})
	go func() { runErr = <-result; close(returned) }()
	await(t, returned, stalled, "Run returned")
	if runErr == nil {
		t.Error("Run() = nil, want the error of a handler that did not return")
	}
	stopped := clock.Since(v, virtualStart)
	if took, want := stopped-stopping, 20*time.Second; took != want {
		t.Errorf("Run returned %s after its context was cancelled, want %s (twice the grace)", took, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := []time.Duration{stopped}; !slices.Equal(s.visibleAgain, want) {
		t.Errorf("message returned to the queue at %v, want %v", s.visibleAgain, want)
	}
}
