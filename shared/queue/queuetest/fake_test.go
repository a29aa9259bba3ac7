package queuetest_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// received is what a ReceiveMessage returned.
type received struct {
	msgs []types.Message
	err  error
}

// receive calls ReceiveMessage in its own goroutine; its answer arrives on the channel.
func receive(ctx context.Context, s *queuetest.SQS, url string, wait int32) <-chan received {
	ch := make(chan received, 1)
	go func() {
		out, err := s.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: wait, MaxNumberOfMessages: 10})
		if err != nil {
			ch <- received{err: err}
			return
		}
		ch <- received{msgs: out.Messages}
	}()
	return ch
}

// awaitReceive returns the answer of a receive, failing the test when there is none within
// 10 s of real time.
func awaitReceive(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("ReceiveMessage did not return within 10s")
		return received{}
	}
}

// awaitTimer waits (in real time, 10 s at most) until the earliest timer of v falls due at
// when: a long poll is then blocked on the clock.
func awaitTimer(t *testing.T, v *clock.Virtual, when time.Time) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if next, ok := v.Next(); ok && next.Equal(when) {
			return
		}
		select {
		case <-deadline:
			next, ok := v.Next()
			t.Fatalf("no timer of the virtual clock falls due at %s (earliest: %s, %v)", when, next, ok)
		case <-tick.C:
		}
	}
}

func newQueue(t *testing.T, s *queuetest.SQS, name string, attrs map[string]string) string {
	t.Helper()
	out, err := s.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue(%s) = %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func sendMessage(t *testing.T, s *queuetest.SQS, url, body string, delay int32) {
	t.Helper()
	if _, err := s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, DelaySeconds: delay}); err != nil {
		t.Fatalf("SendMessage(%s) = %v", body, err)
	}
}

// On a virtual clock, a message stays hidden for its visibility timeout of virtual time, and a
// long poll ends when the clock reaches its wait or the next message shows, whatever the real
// time.
func TestVirtualClockVisibilityAndLongPoll(t *testing.T) {
	v := clock.NewVirtual(start)
	s := queuetest.NewSQSOn(v)
	url := newQueue(t, s, "jobs", map[string]string{"VisibilityTimeout": "30"})
	sendMessage(t, s, url, "job", 0)

	first := awaitReceive(t, receive(t.Context(), s, url, 0))
	if first.err != nil || len(first.msgs) != 1 {
		t.Fatalf("first receive = %d messages, %v; want the message", len(first.msgs), first.err)
	}
	if got, want := first.msgs[0].Attributes["SentTimestamp"], strconv.FormatInt(start.UnixMilli(), 10); got != want {
		t.Errorf("SentTimestamp = %s, want the virtual clock's %s", got, want)
	}

	// Hidden until start+30s: a 20 s long poll ends empty at start+20s, and not before.
	poll := receive(t.Context(), s, url, 20)
	awaitTimer(t, v, start.Add(20*time.Second))
	select {
	case r := <-poll:
		t.Fatalf("long poll returned %d messages, %v before the virtual clock moved", len(r.msgs), r.err)
	default:
	}
	v.AdvanceTo(start.Add(20 * time.Second))
	if r := awaitReceive(t, poll); r.err != nil || len(r.msgs) != 0 {
		t.Fatalf("long poll at start+20s = %d messages, %v; want none", len(r.msgs), r.err)
	}

	// The next long poll wakes when the message shows at start+30s, before its own deadline.
	poll = receive(t.Context(), s, url, 20)
	awaitTimer(t, v, start.Add(30*time.Second))
	v.AdvanceTo(start.Add(30 * time.Second))
	r := awaitReceive(t, poll)
	if r.err != nil || len(r.msgs) != 1 || r.msgs[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("long poll at start+30s = %+v, %v; want the message with receive count 2", r.msgs, r.err)
	}
	if got := s.Messages(url)[0].VisibleAt; !got.Equal(start.Add(60 * time.Second)) {
		t.Errorf("message visible at %s, want start+60s", got)
	}
	if got := v.Now(); !got.Equal(start.Add(30 * time.Second)) {
		t.Errorf("virtual clock at %s, want start+30s", got)
	}
}

// A long poll on a virtual clock ends at a send without the clock moving, and at its context's
// end; either way it leaves no timer behind.
func TestVirtualClockLongPollWakesOnSendAndContext(t *testing.T) {
	v := clock.NewVirtual(start)
	s := queuetest.NewSQSOn(v)
	url := newQueue(t, s, "jobs", nil)

	poll := receive(t.Context(), s, url, 20)
	awaitTimer(t, v, start.Add(20*time.Second))
	sendMessage(t, s, url, "job", 0)
	if r := awaitReceive(t, poll); r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("long poll after a send = %d messages, %v; want the message", len(r.msgs), r.err)
	}
	if got := v.Now(); !got.Equal(start) {
		t.Errorf("virtual clock at %s after the send woke the poll, want it unmoved at %s", got, start)
	}
	if next, ok := v.Next(); ok {
		t.Errorf("a timer falls due at %s after the poll returned, want none", next)
	}

	ctx, cancel := context.WithCancel(t.Context())
	poll = receive(ctx, s, url, 20)
	awaitTimer(t, v, start.Add(20*time.Second))
	cancel()
	if r := awaitReceive(t, poll); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("long poll after cancel = %d messages, %v; want context.Canceled", len(r.msgs), r.err)
	}
	if next, ok := v.Next(); ok {
		t.Errorf("a timer falls due at %s after the cancelled poll returned, want none", next)
	}
}

// A consumer that long-polls while v.Run moves the clock whenever the process is idle gets a
// message delayed by 15 minutes at exactly start+15m, and gets it again at the end of its
// visibility timeout, in the real time the work takes.
func TestVirtualClockRunDrivesDelayAndVisibility(t *testing.T) {
	v := clock.NewVirtual(start)
	s := queuetest.NewSQSOn(v)
	url := newQueue(t, s, "jobs", map[string]string{"VisibilityTimeout": "30"})
	sendMessage(t, s, url, "job", 900)

	// The real-time bound ends a receive that waits on anything but the virtual clock.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- v.Run(ctx, 0) }()

	var at []time.Duration
	for len(at) < 2 {
		out, err := s.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		if err != nil {
			t.Fatalf("ReceiveMessage() after receives at %v of virtual time = %v", at, err)
		}
		if len(out.Messages) > 0 {
			at = append(at, v.Now().Sub(start))
		}
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	if want := []time.Duration{15 * time.Minute, 15*time.Minute + 30*time.Second}; at[0] != want[0] || at[1] != want[1] {
		t.Errorf("received at %v of virtual time, want %v", at, want)
	}
}

// A queue drops a message older than its retention period, counted on the fake's clock.
func TestVirtualClockRetention(t *testing.T) {
	v := clock.NewVirtual(start)
	s := queuetest.NewSQSOn(v)
	url := newQueue(t, s, "events", map[string]string{"MessageRetentionPeriod": "3600"})
	sendMessage(t, s, url, "event", 0)
	v.AdvanceTo(start.Add(time.Hour - time.Second))
	if n := len(s.Messages(url)); n != 1 {
		t.Fatalf("%d messages a second before the retention period ends, want 1", n)
	}
	v.AdvanceTo(start.Add(time.Hour))
	if r := awaitReceive(t, receive(t.Context(), s, url, 0)); r.err != nil || len(r.msgs) != 0 {
		t.Errorf("receive after the retention period = %d messages, %v; want none", len(r.msgs), r.err)
	}
}

// As in SQS, a message stays in flight at most 12 hours after its receive: an extension beyond
// that is refused, not shortened.
func TestVisibilityExtendsToTwelveHoursAfterTheReceive(t *testing.T) {
	v := clock.NewVirtual(start)
	s := queuetest.NewSQSOn(v)
	url := newQueue(t, s, "jobs", nil)
	sendMessage(t, s, url, "job", 0)
	r := awaitReceive(t, receive(t.Context(), s, url, 0))
	if r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("receive = %d messages, %v; want the message", len(r.msgs), r.err)
	}
	change := func(seconds int32) error {
		_, err := s.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &url, ReceiptHandle: r.msgs[0].ReceiptHandle, VisibilityTimeout: seconds,
		})
		return err
	}
	if err := change(43200); err != nil {
		t.Errorf("ChangeMessageVisibility(12h) at the receive = %v, want nil", err)
	}
	v.AdvanceTo(start.Add(time.Hour))
	var apiErr smithy.APIError
	if err := change(43200); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("ChangeMessageVisibility(12h) an hour after the receive = %v, want InvalidParameterValue", err)
	}
	if err := change(11 * 3600); err != nil {
		t.Errorf("ChangeMessageVisibility(11h) an hour after the receive = %v, want nil", err)
	}
	if got := s.Messages(url)[0].VisibleAt; !got.Equal(start.Add(12 * time.Hour)) {
		t.Errorf("message visible at %s, want start+12h", got)
	}
}

// NewSQS is on real time, and NewSQSOn(nil) too.
func TestDefaultClockIsReal(t *testing.T) {
	for _, s := range []*queuetest.SQS{queuetest.NewSQS(), queuetest.NewSQSOn(nil)} {
		if s.Clock() != clock.Real {
			t.Errorf("Clock() = %v, want clock.Real", s.Clock())
		}
	}
}
