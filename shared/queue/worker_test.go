package queue_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
)

// fixture is a fake SQS with one queue (maxReceiveCount 3) and its dead-letter queue, and the
// worker configuration for it. Use it inside a synctest bubble.
type fixture struct {
	sqs *queuetest.SQS
	cfg queue.Config
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{sqs: queuetest.NewSQS()}
	ctx := t.Context()
	dlq, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: ptr("rollwave-patcher-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: ptr("rollwave-patcher"), Attributes: map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:rollwave-patcher-dlq","maxReceiveCount":3}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = queue.Config{
		QueueURL: *q.QueueUrl, DeadLetterURL: *dlq.QueueUrl, MaxReceiveCount: 3,
		VisibilityTimeout: 30 * time.Second, WaitTime: 20 * time.Second, Concurrency: 2,
		ShutdownGrace: 10 * time.Second, Backoff: queue.Backoff{Initial: 5 * time.Second, Max: time.Minute},
	}
	return f
}

func (f fixture) send(t *testing.T, body string) {
	t.Helper()
	if _, err := queue.NewPublisher(f.sqs).Send(t.Context(), f.cfg.QueueURL, []byte(body), 0, map[string]string{"rollwave.job": "j-1"}); err != nil {
		t.Fatal(err)
	}
}

// start runs a worker until the returned stop is called; stop returns Run's error.
func (f fixture) start(t *testing.T, h queue.Handler, log zerolog.Logger) (stop func() error) {
	t.Helper()
	w, err := queue.NewWorker(f.sqs, f.cfg, h, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- w.Run(ctx) }()
	return func() error { cancel(); return <-result }
}

func testLog(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// advance lets fake time pass inside a synctest bubble.
func advance(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

func TestOutcomeMapsToOneQueueAction(t *testing.T) {
	type want struct {
		queue      []queuetest.MessageState
		deadLetter []queuetest.MessageState
	}
	jobAttr := map[string]string{"rollwave.job": "j-1"}
	tests := []struct {
		name    string
		outcome queue.Outcome
		want    func(received time.Time) want
	}{
		{"done deletes", queue.Done(), func(time.Time) want { return want{} }},
		{"retry after hides for the delay", queue.RetryAfter(90*time.Second, "drain in progress"), func(r time.Time) want {
			return want{queue: []queuetest.MessageState{{Body: "job", Attributes: jobAttr, ReceiveCount: 1, VisibleAt: r.Add(90 * time.Second)}}}
		}},
		{"retry requeues a copy counting the failure, hidden for the first backoff", queue.Retry(errors.New("throttled")), func(r time.Time) want {
			return want{queue: []queuetest.MessageState{{Body: "job", Attributes: map[string]string{"rollwave.job": "j-1", queue.AttrFailures: "1"}, VisibleAt: r.Add(5 * time.Second)}}}
		}},
		{"poison moves to the dead-letter queue", queue.Poison("decode job: bad schema"), func(r time.Time) want {
			return want{deadLetter: []queuetest.MessageState{{Body: "job", VisibleAt: r, Attributes: map[string]string{
				"rollwave.job": "j-1", queue.AttrReason: "decode job: bad schema", queue.AttrSourceQueue: "rollwave-patcher",
				queue.AttrReceiveCount: "1", queue.AttrFailedAt: r.UTC().Format(time.RFC3339Nano),
			}}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				var received time.Time
				stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
					received = time.Now()
					return tt.outcome
				}, testLog(t))
				f.send(t, "job")
				synctest.Wait()
				got := want{queue: f.sqs.Messages(f.cfg.QueueURL), deadLetter: f.sqs.Messages(f.cfg.DeadLetterURL)}
				ignore := cmpopts.IgnoreFields(queuetest.MessageState{}, "ID")
				if diff := cmp.Diff(tt.want(received), got, cmp.AllowUnexported(want{}), ignore, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("state after %s (-want +got):\n%s", tt.outcome, diff)
				}
				if err := stop(); err != nil {
					t.Errorf("Run() = %v", err)
				}
			})
		})
	}
}

func TestOutcomeWaits(t *testing.T) {
	if d, ok := queue.RetryAfter(90*time.Second, "drain in progress").Waits(); !ok || d != 90*time.Second {
		t.Errorf("RetryAfter(90s).Waits() = %s, %t; want 90s, true", d, ok)
	}
	for _, o := range []queue.Outcome{queue.Done(), queue.Retry(errors.New("throttled")), queue.Poison("bad"), {}} {
		if _, ok := o.Waits(); ok {
			t.Errorf("%s.Waits() = true, want false: only RetryAfter waits", o)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := queue.Backoff{Initial: 5 * time.Second, Max: time.Minute}
	for _, tt := range []struct {
		receiveCount int
		want         time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {4, 40 * time.Second}, {5, time.Minute}, {500, time.Minute}} {
		if got := b.Delay(tt.receiveCount); got != tt.want {
			t.Errorf("Delay(%d) = %s, want %s", tt.receiveCount, got, tt.want)
		}
	}
	if got := (queue.Backoff{}).Delay(7); got != 0 {
		t.Errorf("zero Backoff.Delay(7) = %s, want 0", got)
	}
}

func TestRetryBacksOffThenDeadLettersAtMaxReceiveCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		start := time.Now()
		var at []time.Duration
		var final []bool
		var receives []int
		stop := f.start(t, func(ctx context.Context, m queue.Message) queue.Outcome {
			at = append(at, time.Since(start))
			final = append(final, m.FinalReceive)
			receives = append(receives, queue.Receives(ctx))
			return queue.Retry(errors.New("describe instance: throttled"))
		}, testLog(t))
		f.send(t, "job")
		advance(time.Minute)
		if diff := cmp.Diff([]time.Duration{0, 5 * time.Second, 15 * time.Second}, at); diff != "" {
			t.Errorf("handler calls since start (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{1, 2, 3}, receives); diff != "" {
			t.Errorf("Receives(ctx) of each receive (-want +got): the message's receive count:\n%s", diff)
		}
		if diff := cmp.Diff([]bool{false, false, true}, final); diff != "" {
			t.Errorf("FinalReceive of each receive (-want +got): only the last may be final:\n%s", diff)
		}
		dl := f.sqs.Messages(f.cfg.DeadLetterURL)
		if len(dl) != 1 || dl[0].Attributes[queue.AttrReason] != "retry 3 of 3 failed: describe instance: throttled" || dl[0].Attributes[queue.AttrReceiveCount] != "3" {
			t.Errorf("dead-letter queue = %+v, want the job with reason \"retry 3 of 3 failed: describe instance: throttled\" and receive count 3", dl)
		}
		if n := len(f.sqs.Messages(f.cfg.QueueURL)); n != 0 {
			t.Errorf("queue holds %d messages, want 0", n)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// TestWaitsDoNotSpendTheRetryBudget: a job that waited (RetryAfter) more often than the queue's
// maxReceiveCount, as a job held at staging or admission does, still gets every retry after a
// failure, and its FinalReceive is set only on the last of them.
func TestWaitsDoNotSpendTheRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t) // maxReceiveCount 3
		const waits = 4
		var tries, final []bool
		var receives []int
		stop := f.start(t, func(ctx context.Context, m queue.Message) queue.Outcome {
			if len(tries) < waits {
				tries = append(tries, false)
				return queue.RetryAfter(time.Second, "cluster limit")
			}
			tries = append(tries, true)
			final = append(final, m.FinalReceive)
			receives = append(receives, queue.Receives(ctx))
			return queue.Retry(errors.New("describe instance: throttled"))
		}, testLog(t))
		f.send(t, "job")
		advance(time.Hour)
		if n := len(tries) - waits; n != 3 {
			t.Errorf("tried %d times after the waits, want 3 (maxReceiveCount), the waits not counted", n)
		}
		if diff := cmp.Diff([]bool{false, false, true}, final); diff != "" {
			t.Errorf("FinalReceive of each failed try (-want +got):\n%s", diff)
		}
		dl := f.sqs.Messages(f.cfg.DeadLetterURL)
		if len(dl) != 1 || dl[0].Attributes[queue.AttrReason] != "retry 3 of 3 failed: describe instance: throttled" {
			t.Fatalf("dead-letter queue = %+v, want the job with reason \"retry 3 of 3 failed: describe instance: throttled\"", dl)
		}
		if _, ok := dl[0].Attributes[queue.AttrFailures]; ok {
			t.Errorf("dead-letter copy carries %s = %s: a redriven job must start with the whole budget", queue.AttrFailures, dl[0].Attributes[queue.AttrFailures])
		}
		if got, want := dl[0].Attributes[queue.AttrReceiveCount], fmt.Sprint(receives[len(receives)-1]); got != want {
			t.Errorf("dead-letter copy's %s = %s, want %s, the Receives of the last try", queue.AttrReceiveCount, got, want)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// TestAMessageWithoutRoomForItsCountStillEndsWithAReason: a message with SQS's ten attributes of
// its own cannot carry rollwave.failures; it is retried by hiding it again, counted by its
// receives, and at maxReceiveCount it goes to the dead-letter queue with its reason, not looped
// on a copy SQS would refuse.
func TestAMessageWithoutRoomForItsCountStillEndsWithAReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t) // maxReceiveCount 3
		attrs := map[string]string{}
		for i := range 10 {
			attrs[fmt.Sprintf("team.attr-%d", i)] = "x"
		}
		if _, err := queue.NewPublisher(f.sqs).Send(t.Context(), f.cfg.QueueURL, []byte("job"), 0, attrs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		var final []bool
		stop := f.start(t, func(_ context.Context, m queue.Message) queue.Outcome {
			ids = append(ids, m.ID)
			final = append(final, m.FinalReceive)
			return queue.Retry(errors.New("describe instance: throttled"))
		}, testLog(t))
		advance(time.Minute)
		if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
			t.Errorf("tries of message IDs %v, want 3 of one message (hidden again, not copied)", ids)
		}
		if diff := cmp.Diff([]bool{false, false, true}, final); diff != "" {
			t.Errorf("FinalReceive of each try (-want +got):\n%s", diff)
		}
		dl := f.sqs.Messages(f.cfg.DeadLetterURL)
		if len(dl) != 1 || dl[0].Attributes[queue.AttrReason] != "retry 3 of 3 failed: describe instance: throttled" {
			t.Errorf("dead-letter queue = %+v, want the message with reason \"retry 3 of 3 failed: describe instance: throttled\"", dl)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

func TestRetryAfterOneShortOfMaxReceiveCountRequeues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
			return queue.RetryAfter(time.Hour, "waiting for the drain")
		}, testLog(t))
		f.send(t, "job")
		advance(time.Hour + time.Second) // receives at 0 and 1h: the second is one short of maxReceiveCount (3)
		now := time.Now()
		got := f.sqs.Messages(f.cfg.QueueURL)
		if len(got) != 1 || got[0].ReceiveCount != 0 || got[0].VisibleAt.Sub(now) != 15*time.Minute-time.Second || got[0].Attributes["rollwave.job"] != "j-1" {
			t.Errorf("queue = %+v, want one fresh copy (receive count 0, with its attributes) visible 15 min after the second receive", got)
		}
		if n := len(f.sqs.Messages(f.cfg.DeadLetterURL)); n != 0 {
			t.Errorf("dead-letter queue holds %d messages, want 0: waiting is not failing", n)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// A receive whose answer is lost counts in SQS all the same: a message that waits, with one of
// its receives lost every so often, is re-sent in time and never reaches the redrive (which would
// move it to the dead-letter queue without a reason).
func TestAWaitingMessageSurvivesALostReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		handled := 0
		stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
			handled++
			return queue.RetryAfter(10*time.Minute, "waiting for the drain")
		}, testLog(t))
		f.send(t, "job")
		for range 12 { // every other receive lost, over four hours
			advance(10 * time.Minute)
			f.sqs.LoseNextReceive()
			advance(10 * time.Minute)
		}
		if n := len(f.sqs.Messages(f.cfg.DeadLetterURL)); n != 0 {
			t.Errorf("dead-letter queue holds %d messages, want 0: the job only waited", n)
		}
		if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 1 {
			t.Errorf("queue = %+v, want the waiting job", got)
		}
		if handled < 6 {
			t.Errorf("the job was looked at %d times in four hours, want at least 6", handled)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

func TestHeartbeatKeepsLongStepHidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		done := make(chan struct{})
		stop := f.start(t, func(ctx context.Context, _ queue.Message) queue.Outcome {
			defer close(done)
			select {
			case <-time.After(5 * time.Minute): // ten visibility timeouts
				return queue.Done()
			case <-ctx.Done():
				return queue.Retry(ctx.Err())
			}
		}, testLog(t))
		f.send(t, "job")
		for range 9 {
			advance(30 * time.Second)
			if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 1 || !got[0].VisibleAt.After(time.Now()) || got[0].ReceiveCount != 1 {
				t.Fatalf("at %s the queue holds %+v, want the message hidden and received once", time.Now(), got)
			}
		}
		<-done
		synctest.Wait()
		if n := len(f.sqs.Messages(f.cfg.QueueURL)); n != 0 {
			t.Errorf("queue holds %d messages after Done, want 0", n)
		}
		if got, want := f.sqs.Calls("ChangeMessageVisibility"), 30; got != want {
			t.Errorf("ChangeMessageVisibility calls = %d, want %d (every 10 s for 5 min)", got, want)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name string
		// handler runs until release is closed or, if honourCtx, until ctx is done.
		work, grace time.Duration
		ignoreCtx   bool
		wantRunTook time.Duration
		wantErr     bool
		wantInQueue bool
	}{
		{name: "handler finishing within the grace completes", work: 4 * time.Second, grace: 10 * time.Second, wantRunTook: 4 * time.Second},
		{name: "handler past the grace is cancelled and its message returned", work: time.Hour, grace: 10 * time.Second, wantRunTook: 10 * time.Second, wantInQueue: true},
		{name: "handler ignoring its context is abandoned and its message returned", work: time.Hour, grace: 10 * time.Second, ignoreCtx: true, wantRunTook: 20 * time.Second, wantErr: true, wantInQueue: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				f.cfg.ShutdownGrace = tt.grace
				started, release := make(chan struct{}), make(chan struct{})
				stop := f.start(t, func(ctx context.Context, _ queue.Message) queue.Outcome {
					close(started)
					cancelled := ctx.Done()
					if tt.ignoreCtx {
						cancelled = nil
					}
					select {
					case <-time.After(tt.work):
						return queue.Done()
					case <-release:
						return queue.Done()
					case <-cancelled:
						return queue.Retry(ctx.Err())
					}
				}, testLog(t))
				f.send(t, "job")
				<-started
				begin := time.Now()
				err := stop()
				if took := time.Since(begin); took != tt.wantRunTook || (err != nil) != tt.wantErr {
					t.Errorf("Run() = %v after %s, want error %t after %s", err, took, tt.wantErr, tt.wantRunTook)
				}
				got := f.sqs.Messages(f.cfg.QueueURL)
				switch {
				case tt.wantInQueue && (len(got) != 1 || got[0].VisibleAt.After(time.Now())):
					t.Errorf("queue = %+v, want the message visible again at once", got)
				case !tt.wantInQueue && len(got) != 0:
					t.Errorf("queue = %+v, want it empty", got)
				}
				close(release)
				synctest.Wait()
				if tt.wantInQueue && len(f.sqs.Messages(f.cfg.QueueURL)) != 1 {
					t.Errorf("a late outcome of an abandoned handler settled the message again")
				}
			})
		})
	}
}

func TestWorkerNeverHoldsMoreMessagesThanFreeSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.cfg.Concurrency = 3
		release := make(chan struct{})
		stop := f.start(t, func(ctx context.Context, _ queue.Message) queue.Outcome {
			select {
			case <-release:
				return queue.Done()
			case <-ctx.Done():
				return queue.Retry(ctx.Err())
			}
		}, testLog(t))
		for range 10 {
			f.send(t, "job")
		}
		synctest.Wait()
		hidden := 0
		for _, m := range f.sqs.Messages(f.cfg.QueueURL) {
			if m.VisibleAt.After(time.Now()) {
				hidden++
			}
		}
		if hidden != 3 {
			t.Errorf("%d messages in flight, want 3 (the concurrency)", hidden)
		}
		close(release)
		synctest.Wait()
		if n := len(f.sqs.Messages(f.cfg.QueueURL)); n != 0 {
			t.Errorf("queue holds %d messages, want 0", n)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

func TestFailedSettlementLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.send(t, "job")
		f.sqs.FailNext("ReceiveMessage", errors.New("connection reset"))
		f.sqs.FailNext("SendMessage", errors.New("throttled")) // the first dead-letter send
		calls := 0
		stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
			calls++
			return queue.Poison("unknown schema version")
		}, testLog(t))
		advance(time.Second) // the receive backoff
		synctest.Wait()
		if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 1 {
			t.Fatalf("after a failed dead-letter send the queue holds %+v, want the message kept", got)
		}
		advance(f.cfg.VisibilityTimeout)
		if calls != 2 || len(f.sqs.Messages(f.cfg.QueueURL)) != 0 || len(f.sqs.Messages(f.cfg.DeadLetterURL)) != 1 {
			t.Errorf("after redelivery: %d handler calls, queue %+v, dead-letter queue %+v; want 2 calls, the message in the dead-letter queue only",
				calls, f.sqs.Messages(f.cfg.QueueURL), f.sqs.Messages(f.cfg.DeadLetterURL))
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

func TestPanicIsRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		stop := f.start(t, func(context.Context, queue.Message) queue.Outcome { panic("nil map") }, testLog(t))
		f.send(t, "job")
		synctest.Wait()
		if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 1 || time.Until(got[0].VisibleAt) != 5*time.Second {
			t.Errorf("queue = %+v, want the message hidden for the first backoff", got)
		}
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEveryLogLineOfAJobCarriesItsFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		var out syncBuffer
		stop := f.start(t, func(ctx context.Context, _ queue.Message) queue.Outcome {
			queue.Annotate(ctx, queue.Fields{Job: "j-1", Cluster: "prod", Instance: "i-0abc"})
			queue.Logger(ctx).Info().Msg("staging")
			return queue.Done()
		}, zerolog.New(&out))
		f.send(t, "job")
		synctest.Wait()
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q is not JSON: %v", l, err)
			}
			if m["message_id"] != nil {
				lines = append(lines, m)
			}
		}
		if len(lines) != 2 {
			t.Fatalf("log lines about the message = %v, want 2 (the handler's and the outcome)", lines)
		}
		for _, l := range lines {
			for k, want := range map[string]any{"job": "j-1", "cluster": "prod", "instance": "i-0abc", "queue": "rollwave-patcher"} {
				if l[k] != want {
					t.Errorf("log line %v: %s = %v, want %v", l, k, l[k], want)
				}
			}
		}
	})
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := queue.Config{WaitTime: time.Minute}.Validate()
	for _, want := range []string{"queue url", "dead-letter queue url", "max receive count", "visibility timeout", "wait time", "concurrency"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config{}.Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestPublisherSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		p := queue.NewPublisher(f.sqs)
		if _, err := p.Send(t.Context(), f.cfg.QueueURL, []byte("job"), 1500*time.Millisecond, map[string]string{"k": "v"}); err != nil {
			t.Fatalf("Send() = %v", err)
		}
		got := f.sqs.Messages(f.cfg.QueueURL)
		want := []queuetest.MessageState{{Body: "job", Attributes: map[string]string{"k": "v"}, VisibleAt: time.Now().Add(2 * time.Second)}}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(queuetest.MessageState{}, "ID")); diff != "" {
			t.Errorf("queue after Send (-want +got):\n%s", diff)
		}
		if _, err := p.Send(t.Context(), f.cfg.QueueURL, []byte("job"), 16*time.Minute, nil); err == nil {
			t.Errorf("Send() with a 16 min delay = nil, want an error")
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestOnDeadLetterCountsPoisonAndExhaustedRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		var mu sync.Mutex
		var got []string
		f.cfg.OnDeadLetter = func(q string) { mu.Lock(); got = append(got, q); mu.Unlock() }
		stop := f.start(t, func(_ context.Context, m queue.Message) queue.Outcome {
			if string(m.Body) == "poison" {
				return queue.Poison("undecodable")
			}
			if string(m.Body) == "done" {
				return queue.Done()
			}
			return queue.Retry(errors.New("throttled"))
		}, testLog(t))
		f.send(t, "poison")
		f.send(t, "done")
		f.send(t, "retry")
		advance(time.Minute)
		if err := stop(); err != nil {
			t.Errorf("Run() = %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]string{"rollwave-patcher", "rollwave-patcher"}, got); diff != "" {
			t.Errorf("OnDeadLetter calls (-want +got):\n%s", diff)
		}
	})
}

// slowSQS answers ChangeMessageVisibility only after delay, as a loaded queue endpoint would.
type slowSQS struct {
	*queuetest.SQS
	delay time.Duration
}

func (s slowSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	<-time.After(s.delay)
	return s.SQS.ChangeMessageVisibility(ctx, in, opts...)
}

// The grace bounds the handlers, not the queue call that returns their message: a handler that
// honours its context is a clean shutdown even when the endpoint answers slower than the grace.
func TestShutdownWaitsForSettlingBeyondTheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.cfg.ShutdownGrace = 200 * time.Millisecond
		w, err := queue.NewWorker(slowSQS{f.sqs, time.Second}, f.cfg, func(ctx context.Context, _ queue.Message) queue.Outcome {
			<-ctx.Done()
			return queue.Retry(ctx.Err())
		}, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		result := make(chan error, 1)
		go func() { result <- w.Run(ctx) }()
		f.send(t, "job")
		synctest.Wait() // received, handler blocked on its context
		cancel()
		if err := <-result; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
		if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 1 || got[0].VisibleAt.After(time.Now()) {
			t.Errorf("queue = %+v, want the message visible again at once", got)
		}
	})
}

func TestPublisherRefusesMessagesAboveTheQueueMaximum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		p := queue.NewPublisher(f.sqs)
		attrs := map[string]string{"k": "v"} // counts 1 + len("String") + 1 bytes, as SQS counts it
		atMax := strings.Repeat("a", topology.MaxMessageBytes-len("k")-len("String")-len("v"))
		if _, err := p.Send(t.Context(), f.cfg.QueueURL, []byte(atMax), 0, attrs); err != nil {
			t.Fatalf("Send() of a message of exactly %d bytes = %v, want it sent", topology.MaxMessageBytes, err)
		}
		_, err := p.Send(t.Context(), f.cfg.QueueURL, []byte(atMax+"a"), 0, attrs)
		if !errors.Is(err, queue.ErrMessageTooLarge) {
			t.Errorf("Send() of a message of %d bytes = %v, want ErrMessageTooLarge", topology.MaxMessageBytes+1, err)
		}
		if n := len(f.sqs.Messages(f.cfg.QueueURL)); n != 1 {
			t.Errorf("queue holds %d messages, want the one at the maximum only", n)
		}
	})
}

func TestDeadLetterCopyOfAMessageTooLargeIsTruncatedWithItsSizeAndHash(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		truncated bool
	}{
		{"a small message is copied whole", `{"schema":"rollwave.job/v1"`, false},
		{"a message at the queue's maximum no longer fits with the reason", strings.Repeat("é", topology.MaxMessageBytes/2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				if _, err := f.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &f.cfg.QueueURL, MessageBody: &tt.body}); err != nil {
					t.Fatal(err)
				}
				var logs bytes.Buffer
				stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
					return queue.Poison("invalid job: " + strings.Repeat("x", 10000))
				}, zerolog.New(&logs))
				advance(time.Second)
				if err := stop(); err != nil {
					t.Fatalf("Run() = %v", err)
				}
				if n := len(f.sqs.Messages(f.cfg.QueueURL)); n != 0 {
					t.Errorf("source queue holds %d messages, want the original deleted", n)
				}
				dl := f.sqs.Messages(f.cfg.DeadLetterURL)
				if len(dl) != 1 {
					t.Fatalf("dead-letter queue holds %d messages, want 1", len(dl))
				}
				m := dl[0]
				size := len(m.Body)
				for k, v := range m.Attributes {
					size += len(k) + len("String") + len(v)
				}
				if size > topology.MaxMessageBytes {
					t.Errorf("dead-letter copy is %d bytes, above the maximum %d", size, topology.MaxMessageBytes)
				}
				if r := m.Attributes[queue.AttrReason]; !strings.HasPrefix(r, "invalid job: xxx") || len(r) > 4096 {
					t.Errorf("reason attribute = %.40q… (%d bytes), want the reason cut to at most 4096 bytes", r, len(r))
				}
				sum := sha256.Sum256([]byte(tt.body))
				want := map[string]string{queue.AttrOriginalBytes: strconv.Itoa(len(tt.body)), queue.AttrOriginalSHA256: hex.EncodeToString(sum[:])}
				got := map[string]string{queue.AttrOriginalBytes: m.Attributes[queue.AttrOriginalBytes], queue.AttrOriginalSHA256: m.Attributes[queue.AttrOriginalSHA256]}
				if !tt.truncated {
					want = map[string]string{queue.AttrOriginalBytes: "", queue.AttrOriginalSHA256: ""}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("size and hash attributes of the copy (-want +got):\n%s", diff)
				}
				switch {
				case !tt.truncated && m.Body != tt.body:
					t.Errorf("copy body = %q, want the original %q", m.Body, tt.body)
				case tt.truncated && (!strings.HasPrefix(tt.body, m.Body) || !utf8.ValidString(m.Body) || len(m.Body) < topology.MaxMessageBytes-8192):
					t.Errorf("copy body is %d bytes, want a valid UTF-8 prefix of the original that fills what the attributes leave", len(m.Body))
				}
				if tt.truncated && !strings.Contains(logs.String(), want[queue.AttrOriginalSHA256]) {
					t.Errorf("no log line names the original's SHA-256 %s:\n%.2000s", want[queue.AttrOriginalSHA256], logs.String())
				}
			})
		})
	}
}
