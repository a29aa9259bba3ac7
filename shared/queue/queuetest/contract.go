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
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/queue"
)

// ContractClient is what the contract suite drives: what the workers use (the queue worker's
// calls, finding a queue by name, and the queue tags that hold the pause state and the error
// budget), plus creating queues and reading and setting their attributes, as a deployment's
// bootstrap does. *sqs.Client and *SQS satisfy it.
type ContractClient interface {
	queue.Client
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	TagQueue(ctx context.Context, in *sqs.TagQueueInput, optFns ...func(*sqs.Options)) (*sqs.TagQueueOutput, error)
	UntagQueue(ctx context.Context, in *sqs.UntagQueueInput, optFns ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error)
	ListQueueTags(ctx context.Context, in *sqs.ListQueueTagsInput, optFns ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
}

// RunContract checks that a Worker and a Publisher on the SQS behind newClient behave as package
// queue promises: delivery and delete, visibility extension, RetryAfter, Poison and Retry ending
// in the dead-letter queue with their reason, prompt return of in-flight messages at shutdown,
// and the concurrency bound. It checks too the calls around them that the workers and a
// deployment's bootstrap make: a queue found by name, attributes set on a queue and honoured,
// queue tags, and the error of every call on a queue that does not exist. It runs in real time
// (SQS counts in seconds), its subtests in parallel, each on queues of its own.
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
		if _, inFlight, _ := counts(t, c, cfg.QueueURL); inFlight != 2 {
			t.Errorf("%d messages in flight while 2 handlers run, want 2", inFlight)
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

	// A worker finds its queues by name (topology.Resolver), and a bootstrap creates a queue
	// when GetQueueUrl says it does not exist.
	t.Run("GetQueueUrlFindsAQueueByName", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		url, name := newQueue(t, c, nil, nil)
		got, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: &name})
		if err != nil || deref(got.QueueUrl) != url {
			t.Errorf("GetQueueUrl(%s) = %v, %v; want %s", name, got, err, url)
		}
		_, err = c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: ptr(name + "-never-created")})
		checkQueueMissing(t, "GetQueueUrl", err)
	})

	// CreateQueue of a name that exists is the queue's URL when the attributes match, and an
	// error when they do not: a bootstrap reads before it writes.
	t.Run("CreateQueueOfAnExistingName", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		url, name := newQueue(t, c, map[string]string{"VisibilityTimeout": "45"}, nil)
		again, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: &name, Attributes: map[string]string{"VisibilityTimeout": "45"}})
		if err != nil || deref(again.QueueUrl) != url {
			t.Errorf("CreateQueue(%s) again with the same attributes = %v, %v; want %s", name, again, err, url)
		}
		_, err = c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: &name, Attributes: map[string]string{"VisibilityTimeout": "46"}})
		var exists *types.QueueNameExists
		if !errors.As(err, &exists) || exists.ErrorCode() != "QueueAlreadyExists" {
			t.Errorf("CreateQueue(%s) again with another visibility timeout = %v, want QueueNameExists (QueueAlreadyExists)", name, err)
		}
	})

	// Attributes set on a queue read back as set, and a send and a receive that give no delay
	// or visibility timeout of their own get the queue's.
	t.Run("QueueAttributesApplyToSendAndReceive", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		ctx := t.Context()
		url, _ := newQueue(t, c, nil, nil)
		set := map[string]string{"VisibilityTimeout": "1", "DelaySeconds": "3", "MessageRetentionPeriod": "3600"}
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: set}); err != nil {
			t.Fatalf("SetQueueAttributes() = %v", err)
		}
		got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatalf("GetQueueAttributes() = %v", err)
		}
		for k, v := range set {
			if got.Attributes[k] != v {
				t.Errorf("attribute %s = %q after setting it, want %q", k, got.Attributes[k], v)
			}
		}
		sent := time.Now()
		send(t, c, url, "delayed by the queue")
		if v, f, d := counts(t, c, url); v != 0 || f != 0 || d != 1 {
			t.Errorf("counts after a send = %d visible, %d in flight, %d delayed; want 0, 0, 1", v, f, d)
		}
		first := receiveDefault(t, c, url, 10*time.Second)
		if gap := time.Since(sent); gap < 2*time.Second {
			t.Errorf("message received %s after its send, want after the queue's 3s delay", gap)
		}
		// Not deleted: the queue's 1s visibility timeout shows it again well before 30s.
		second := receiveDefault(t, c, url, 10*time.Second)
		if deref(second.MessageId) != deref(first.MessageId) || second.Attributes["ApproximateReceiveCount"] != "2" {
			t.Errorf("second receive = %s with receive count %s, want %s again with count 2",
				deref(second.MessageId), second.Attributes["ApproximateReceiveCount"], deref(first.MessageId))
		}
	})

	// The pause state and the error budget live in queue tags (shared/pause, shared/budget).
	t.Run("TagsRoundTrip", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		ctx := t.Context()
		url, _ := newQueue(t, c, nil, map[string]string{"team": "ops"})
		tags := func() map[string]string {
			t.Helper()
			out, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
			if err != nil {
				t.Fatalf("ListQueueTags() = %v", err)
			}
			return out.Tags
		}
		check := func(what string, want map[string]string) {
			t.Helper()
			if diff := cmp.Diff(want, tags(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("tags %s (-want +got):\n%s", what, diff)
			}
		}
		check("of a queue created with tags", map[string]string{"team": "ops"})
		if _, err := c.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &url, Tags: map[string]string{
			"rollwave:paused:prod": "alice: freeze", "team": "dev",
		}}); err != nil {
			t.Fatalf("TagQueue() = %v", err)
		}
		check("after TagQueue", map[string]string{"rollwave:paused:prod": "alice: freeze", "team": "dev"})
		if _, err := c.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &url, TagKeys: []string{"rollwave:paused:prod", "never-set"}}); err != nil {
			t.Fatalf("UntagQueue() = %v", err)
		}
		check("after UntagQueue of a key set and one never set", map[string]string{"team": "dev"})
		if _, err := c.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &url, TagKeys: []string{"team"}}); err != nil {
			t.Fatalf("UntagQueue() = %v", err)
		}
		check("after untagging every key", nil)
	})

	// Every call on a queue that does not exist fails as SQS says so, which is what
	// shared/topology and the CLI look for.
	t.Run("EveryCallOnAMissingQueueSaysSo", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		ctx := t.Context()
		existing, _ := newQueue(t, c, nil, nil)
		url := existing + "-gone"
		calls := map[string]func() error{
			"SendMessage": func() error {
				_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: ptr("x")})
				return err
			},
			"SendMessageBatch": func() error {
				_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{{Id: ptr("0"), MessageBody: ptr("x")}}})
				return err
			},
			"ReceiveMessage": func() error {
				_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url})
				return err
			},
			"DeleteMessage": func() error {
				_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: ptr("handle")})
				return err
			},
			"DeleteMessageBatch": func() error {
				_, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []types.DeleteMessageBatchRequestEntry{{Id: ptr("0"), ReceiptHandle: ptr("handle")}}})
				return err
			},
			"ChangeMessageVisibility": func() error {
				_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: ptr("handle"), VisibilityTimeout: 5})
				return err
			},
			"GetQueueAttributes": func() error {
				_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
				return err
			},
			"SetQueueAttributes": func() error {
				_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"VisibilityTimeout": "5"}})
				return err
			},
			"TagQueue": func() error {
				_, err := c.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &url, Tags: map[string]string{"k": "v"}})
				return err
			},
			"UntagQueue": func() error {
				_, err := c.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &url, TagKeys: []string{"k"}})
				return err
			},
			"ListQueueTags": func() error {
				_, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
				return err
			},
		}
		for name, call := range calls {
			checkQueueMissing(t, name, call())
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

// newQueue creates a queue of a name of its own, with attrs and tags, and returns its URL and
// name.
func newQueue(t *testing.T, c ContractClient, attrs, tags map[string]string) (url, name string) {
	t.Helper()
	name = fmt.Sprintf("contract-%d-%d", time.Now().UnixNano()%1e9, queueSeq.Add(1))
	out, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs, Tags: tags})
	if err != nil {
		t.Fatalf("CreateQueue(%s) = %v", name, err)
	}
	return deref(out.QueueUrl), name
}

// checkQueueMissing checks that err is SQS's answer about a queue that does not exist, as the
// SDK surfaces it: a *types.QueueDoesNotExist with the query protocol's code.
func checkQueueMissing(t *testing.T, call string, err error) {
	t.Helper()
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) || missing.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("%s on a missing queue = %v, want QueueDoesNotExist with code AWS.SimpleQueueService.NonExistentQueue", call, err)
	}
}

// receiveDefault receives one message with the queue's own visibility timeout, waiting at most
// within for it.
func receiveDefault(t *testing.T, c queue.Client, url string, within time.Duration) types.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, WaitTimeSeconds: 1, MaxNumberOfMessages: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage(%s) = %v", url, err)
		}
		if len(out.Messages) > 0 {
			return out.Messages[0]
		}
	}
	t.Fatalf("no message on %s within %s", url, within)
	return types.Message{}
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

// counts returns the queue's approximate numbers of messages: visible, in flight (received and
// hidden), and delayed (sent and not yet visible).
func counts(t *testing.T, c ContractClient, url string) (visible, inFlight, delayed int) {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s) = %v", url, err)
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	delayed, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesDelayed"])
	return visible, inFlight, delayed
}

func total(t *testing.T, c ContractClient, url string) int {
	v, f, d := counts(t, c, url)
	return v + f + d
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
