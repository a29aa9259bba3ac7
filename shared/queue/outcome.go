package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Handler processes one message and says what to do with it. It must honour ctx: the worker
// cancels it when the shutdown grace is over. A panic is recovered and treated as Retry.
type Handler func(ctx context.Context, m Message) Outcome

type outcomeKind int

const (
	kindDone outcomeKind = iota + 1
	kindRetryAfter
	kindRetry
	kindPoison
)

// Outcome is what a handler decided about its message; each maps to one queue action. The zero
// Outcome is treated as Retry with an error saying the handler returned none.
type Outcome struct {
	kind   outcomeKind
	delay  time.Duration
	reason string
	err    error
}

// Done says the message is handled: the worker deletes it.
func Done() Outcome { return Outcome{kind: kindDone} }

// RetryAfter says "look again in d": the worker hides the message for d (SQS allows at most 12 h
// in total). Waiting is not a failure, but it is a receive: one receive short of the queue's
// maxReceiveCount (a spare for a receive whose answer is lost) the worker re-sends the message
// (with a delay of at most 15 min) and deletes the old one, so that a long wait never reaches the
// redrive.
func RetryAfter(d time.Duration, reason string) Outcome {
	return Outcome{kind: kindRetryAfter, delay: d, reason: reason}
}

// Retry says a transient failure happened: the worker hides the message for the backoff of its
// receive count, and once the receive count has reached the queue's maxReceiveCount it moves the
// message to the dead-letter queue with err as reason.
func Retry(err error) Outcome {
	if err == nil {
		err = errors.New("retry without error")
	}
	return Outcome{kind: kindRetry, err: err}
}

// Poison says the message can never succeed (malformed, invalid, a permanent refusal): the worker
// sends it to the dead-letter queue with reason at once, then deletes it.
func Poison(reason string) Outcome { return Outcome{kind: kindPoison, reason: reason} }

// Waits reports whether the outcome is a RetryAfter, and its delay: for a caller that hands the
// message back itself (a test, or a simulation without a queue).
func (o Outcome) Waits() (time.Duration, bool) { return o.delay, o.kind == kindRetryAfter }

// String describes the outcome for logs and test failures.
func (o Outcome) String() string {
	switch o.kind {
	case kindDone:
		return "done"
	case kindRetryAfter:
		return fmt.Sprintf("retry after %s: %s", o.delay, o.reason)
	case kindRetry:
		return fmt.Sprintf("retry: %v", o.err)
	case kindPoison:
		return "poison: " + o.reason
	default:
		return "none"
	}
}

// Backoff is the retry policy of Retry: the visibility of a message whose n-th receive failed is
// Initial·2^(n-1), at most Max. SQS counts in whole seconds, so delays round up.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff retries after 5 s, 10 s, 20 s ... up to 60 s. The SDK already retries each call
// with its own backoff, so a Retry is for an outage longer than that; and the receive count the
// delay grows with also counts the receives of a job that waited (RetryAfter), so a long cap
// would hide a drain that waited a while for minutes after a single throttled call.
var DefaultBackoff = Backoff{Initial: 5 * time.Second, Max: time.Minute}

// Delay is the visibility after the receiveCount-th receive failed.
func (b Backoff) Delay(receiveCount int) time.Duration {
	d := b.Initial
	for i := 1; i < receiveCount && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

func (b Backoff) validate() error {
	var errs []error
	if b.Initial < 0 {
		errs = append(errs, fmt.Errorf("backoff initial %s is negative", b.Initial))
	}
	if b.Max < b.Initial {
		errs = append(errs, fmt.Errorf("backoff max %s is below initial %s", b.Max, b.Initial))
	}
	if b.Max > maxVisibility {
		errs = append(errs, fmt.Errorf("backoff max %s is above the SQS limit of %s", b.Max, maxVisibility))
	}
	return errors.Join(errs...)
}
