package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/queue"
)

// ContractClient is what the contract suite drives: what the worker uses, plus creating queues
// and reading their attributes. *sqs.Client and *SQS satisfy it.
type ContractClient interface {
	queue.Client
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// RunContract checks that a Worker and a Publisher on the SQS behind newClient behave as package
// queue promises: delivery and delete, visibility extension, RetryAfter, Poison and Retry ending
// in the dead-letter queue with their reason, prompt return of in-flight messages at shutdown,
// and the concurrency bound. It runs in real time (SQS counts in seconds), its subtests in
// parallel, each on queues of its own.
func RunContract(t *testing.T, newClient func(t *testing.T) ContractClient) {
	t.Run("SendReceiveDelete", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		got := make(chan queue.Message, 1)
		run(t, c, cfg, func(_ context.Context, m queue.Message) queue.Outcome {
			got <- m
			return queue.Done()
		})
		before := time.Now().Add(-time.Minute)
		if _, err := queue.NewPublisher(c).Send(t.Context(), cfg.QueueURL, []byte(`{"job":"j1"}`), 0, map[string]string{"rollwave.job": "j1"}); err != nil {
			t.Fatalf("Send() = %v", err)
		}
		m := await(t, got, 10*time.Second, "the handler to receive the message")
		if string(m.Body) != `{"job":"j1"}` || m.Attributes["rollwave.job"] != "j1" || m.ReceiveCount != 1 || m.SentAt.Before(before) || m.ID == "" {
			t.Errorf("received %+v, want body {\"job\":\"j1\"}, attribute rollwave.job=j1, receive count 1, sent recently, an ID", m)
		}
		waitUntil(t, 10*time.Second, "the queue to be empty", func() bool { return total(t, c, cfg.QueueURL) == 0 })
	})

	t.Run("HeartbeatKeepsMessageHidden", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		cfg.VisibilityTimeout = 2 * time.Second
		started, release := make(chan struct{}), make(chan struct{})
		run(t, c, cfg, func(ctx context.Context, _ queue.Message) queue.Outcome {
			close(started)
			select {
			case <-release:
				return queue.Done()
			case <-ctx.Done():
				return queue.Retry(ctx.Err())
			}
		})
		send(t, c, cfg.QueueURL, "long step")
		await(t, started, 10*time.Second, "the handler to start")
		// Look for the message for well over twice the visibility timeout.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if m, ok := receiveRaw(t, c, cfg.QueueURL, 1); ok {
				t.Fatalf("message %s became visible while its handler ran", deref(m.MessageId))
			}
		}
		close(release)
		waitUntil(t, 10*time.Second, "the queue to be empty", func() bool { return total(t, c, cfg.QueueURL) == 0 })
	})

	t.Run("RetryAfterHidesForTheDelay", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		type receipt struct {
			at    time.Time
			count int
		}
		got := make(chan receipt, 2)
		run(t, c, cfg, func(_ context.Context, m queue.Message) queue.Outcome {
			got <- receipt{time.Now(), m.ReceiveCount}
			if m.ReceiveCount == 1 {
				return queue.RetryAfter(2*time.Second, "drain in progress")
			}
			return queue.Done()
		})
		send(t, c, cfg.QueueURL, "wait")
		first := await(t, got, 10*time.Second, "the first receive")
		second := await(t, got, 10*time.Second, "the second receive")
		if gap := second.at.Sub(first.at); gap < 1500*time.Millisecond || second.count != 2 {
			t.Errorf("second receive %s after the first with receive count %d, want >= 2s later with count 2", gap, second.count)
		}
		waitUntil(t, 10*time.Second, "the queue to be empty", func() bool { return total(t, c, cfg.QueueURL) == 0 })
		if n := total(t, c, cfg.DeadLetterURL); n != 0 {
			t.Errorf("dead-letter queue holds %d messages, want 0", n)
		}
	})

	t.Run("PoisonGoesToDeadLetterAfterOneReceive", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		var calls atomic.Int32
		run(t, c, cfg, func(context.Context, queue.Message) queue.Outcome {
			calls.Add(1)
			return queue.Poison("decode job: unexpected end of JSON input")
		})
		send(t, c, cfg.QueueURL, "{not json")
		m := receiveWithin(t, c, cfg.DeadLetterURL, 10*time.Second)
		checkDeadLetter(t, m, "{not json", "decode job: unexpected end of JSON input", cfg.QueueURL, "1")
		if n := calls.Load(); n != 1 {
			t.Errorf("handler called %d times, want 1", n)
		}
		waitUntil(t, 10*time.Second, "the queue to be empty", func() bool { return total(t, c, cfg.QueueURL) == 0 })
	})

	t.Run("RetryGivesUpAtMaxReceiveCount", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		cfg.Backoff = queue.Backoff{} // retry at once
		var calls atomic.Int32
		run(t, c, cfg, func(context.Context, queue.Message) queue.Outcome {
			calls.Add(1)
			return queue.Retry(errors.New("describe instance: throttled"))
		})
		send(t, c, cfg.QueueURL, "flaky")
		m := receiveWithin(t, c, cfg.DeadLetterURL, 20*time.Second)
		checkDeadLetter(t, m, "flaky", "describe instance: throttled", cfg.QueueURL, "3")
		if n := calls.Load(); n != 3 {
			t.Errorf("handler called %d times, want 3", n)
		}
	})

	t.Run("ShutdownReturnsInFlightMessages", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		cfg.VisibilityTimeout = 30 * time.Second
		cfg.ShutdownGrace = 200 * time.Millisecond
		started := make(chan struct{})
		stop := run(t, c, cfg, func(ctx context.Context, _ queue.Message) queue.Outcome {
			close(started)
			<-ctx.Done()
			return queue.Retry(ctx.Err())
		})
		send(t, c, cfg.QueueURL, "interrupted")
		await(t, started, 10*time.Second, "the handler to start")
		if err := stop(); err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
		// Well before the 30 s visibility timeout.
		m := receiveWithin(t, c, cfg.QueueURL, 5*time.Second)
		if got := m.Attributes["ApproximateReceiveCount"]; got != "2" {
			t.Errorf("receive count after shutdown = %s, want 2", got)
		}
	})

	t.Run("ConcurrencyBound", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		cfg.Concurrency = 2
		const messages = 5
		var (
			mu          sync.Mutex
			active, top int
			done        = make(chan struct{}, messages)
			gate        = make(chan struct{})
		)
		run(t, c, cfg, func(ctx context.Context, _ queue.Message) queue.Outcome {
			mu.Lock()
			active++
			top = max(top, active)
			mu.Unlock()
			defer func() {
				mu.Lock()
				active--
				mu.Unlock()
				done <- struct{}{}
			}()
			select {
			case <-gate:
				return queue.Done()
			case <-ctx.Done():
				return queue.Retry(ctx.Err())
			}
		})
		for i := range messages {
			send(t, c, cfg.QueueURL, fmt.Sprint("m", i))
		}
		waitUntil(t, 10*time.Second, "two handlers to run", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return active == 2
		})
		if _, hidden := counts(t, c, cfg.QueueURL); hidden != 2 {
			t.Errorf("%d messages in flight while 2 handlers run, want 2", hidden)
		}
		close(gate)
		for range messages {
			await(t, done, 10*time.Second, "every handler to finish")
		}
		if top != 2 {
			t.Errorf("at most %d handlers ran at once, want 2", top)
		}
	})

	// A batch send delivers every valid entry and names the one it refused; the worker deletes
	// what it handled in batches (setup's DeleteWait), leaving the queue empty.
	t.Run("SendBatchDeliversEveryValidEntry", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		cfg := setup(t, c, 3)
		cfg.Concurrency = 10
		const messages, refused = 23, 12
		msgs := make([]queue.Outgoing, messages)
		want := map[string]bool{}
		for i := range msgs {
			msgs[i] = queue.Outgoing{Body: []byte(fmt.Sprint("m", i)), Attributes: map[string]string{"rollwave.job": fmt.Sprint("j", i)}}
			if i == refused {
				for k := range 11 { // one more than SQS allows
					msgs[i].Attributes[fmt.Sprint("a", k)] = "x"
				}
				continue
			}
			want[fmt.Sprint("m", i)] = true
		}
		ids, err := queue.NewPublisher(c).SendBatch(t.Context(), cfg.QueueURL, msgs)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("message %d of %d", refused+1, messages)) {
			t.Errorf("SendBatch() error = %v, want one naming message %d of %d", err, refused+1, messages)
		}
		for i, id := range ids {
			if (id == "") != (i == refused) {
				t.Errorf("SendBatch() ID of message %d = %q, want one for every message but %d", i, id, refused)
			}
		}
		var mu sync.Mutex
		got := map[string]bool{}
		run(t, c, cfg, func(_ context.Context, m queue.Message) queue.Outcome {
			mu.Lock()
			defer mu.Unlock()
			if m.Attributes["rollwave.job"] != "j"+strings.TrimPrefix(string(m.Body), "m") {
				t.Errorf("message %q has attributes %v, want its own job", m.Body, m.Attributes)
			}
			got[string(m.Body)] = true
			return queue.Done()
		})
		waitUntil(t, 20*time.Second, "every sent message to be handled and deleted", func() bool {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			return n == len(want) && total(t, c, cfg.QueueURL) == 0
		})
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("messages handled (-want +got):\n%s", diff)
		}
	})
}

var queueSeq atomic.Int64

// setup creates a queue and its dead-letter queue, and returns a worker configuration for them.
func setup(t *testing.T, c ContractClient, maxReceive int) queue.Config {
	t.Helper()
	ctx := t.Context()
	base := fmt.Sprintf("contract-%d-%d", time.Now().UnixNano()%1e9, queueSeq.Add(1))
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: ptr(base + "-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue(dlq) = %v", err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes(dlq) = %v", err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: ptr(base), Attributes: map[string]string{
		"VisibilityTimeout": "30",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, attrs.Attributes["QueueArn"], maxReceive),
	}})
	if err != nil {
		t.Fatalf("CreateQueue() = %v", err)
	}
	return queue.Config{
		QueueURL: deref(q.QueueUrl), DeadLetterURL: deref(dlq.QueueUrl), MaxReceiveCount: maxReceive,
		VisibilityTimeout: 5 * time.Second, WaitTime: time.Second, Concurrency: 2,
		DeleteWait: 100 * time.Millisecond, ShutdownGrace: 2 * time.Second, Backoff: queue.Backoff{Initial: time.Second, Max: 2 * time.Second},
	}
}

// run starts a worker and returns stop, which cancels it and returns Run's error; the test's
// cleanup stops it too.
func run(t *testing.T, c queue.Client, cfg queue.Config, h queue.Handler) (stop func() error) {
	t.Helper()
	w, err := queue.NewWorker(c, cfg, h, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("NewWorker() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-result:
			case <-time.After(30 * time.Second):
				runErr = errors.New("the worker's Run did not return within 30s of its context being cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop worker: %v", err)
		}
	})
	return stop
}

func send(t *testing.T, c queue.Sender, url, body string) {
	t.Helper()
	if _, err := queue.NewPublisher(c).Send(t.Context(), url, []byte(body), 0, nil); err != nil {
		t.Fatalf("Send(%q) = %v", body, err)
	}
}

// receiveRaw receives one message bypassing the worker, hiding it for 30 s.
func receiveRaw(t *testing.T, c queue.Client, url string, wait int32) (types.Message, bool) {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: &url, WaitTimeSeconds: wait, VisibilityTimeout: 30, MaxNumberOfMessages: 1,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage(%s) = %v", url, err)
	}
	if len(out.Messages) == 0 {
		return types.Message{}, false
	}
	return out.Messages[0], true
}

func receiveWithin(t *testing.T, c queue.Client, url string, within time.Duration) types.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m, ok := receiveRaw(t, c, url, 1); ok {
			return m
		}
	}
	t.Fatalf("no message on %s within %s", url, within)
	return types.Message{}
}

func checkDeadLetter(t *testing.T, m types.Message, body, reason, sourceURL, receiveCount string) {
	t.Helper()
	attr := func(k string) string { return deref(m.MessageAttributes[k].StringValue) }
	source := sourceURL[strings.LastIndex(sourceURL, "/")+1:]
	if deref(m.Body) != body || !strings.Contains(attr(queue.AttrReason), reason) ||
		attr(queue.AttrSourceQueue) != source || attr(queue.AttrReceiveCount) != receiveCount {
		t.Errorf("dead letter: body %q, reason %q, source %q, receive count %q; want %q, a reason containing %q, %q, %q",
			deref(m.Body), attr(queue.AttrReason), attr(queue.AttrSourceQueue), attr(queue.AttrReceiveCount),
			body, reason, source, receiveCount)
	}
	if _, err := time.Parse(time.RFC3339Nano, attr(queue.AttrFailedAt)); err != nil {
		t.Errorf("dead letter %s = %q, want an RFC 3339 time", queue.AttrFailedAt, attr(queue.AttrFailedAt))
	}
}

func counts(t *testing.T, c ContractClient, url string) (visible, hidden int) {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s) = %v", url, err)
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	hidden, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, hidden
}

func total(t *testing.T, c ContractClient, url string) int {
	v, h := counts(t, c, url)
	return v + h
}

func await[T any](t *testing.T, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("timed out after %s waiting for %s", within, what)
		var zero T
		return zero
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-tick.C:
		}
	}
}
