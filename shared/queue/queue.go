// Package queue is the SQS plumbing every rollwave worker shares: a Worker that long-polls one
// queue and runs a Handler on each message with bounded concurrency, and a Publisher that
// forwards a job to the next queue, or sends many at once in batches of ten.
//
// A handler's Outcome maps to exactly one queue action:
//
//	Done()              delete the message (with the others settled within Config.DeleteWait,
//	                    ten per DeleteMessageBatch call)
//	RetryAfter(d, why)  change its visibility to d: waiting, not a failure
//	Retry(err)          transient failure: visibility backoff by receive count; at the queue's
//	                    maxReceiveCount the worker moves it to the dead-letter queue, err as reason
//	Poison(why)         malformed or permanent: send it to the dead-letter queue with the reason
//	                    at once, then delete it
//
// While a handler runs its message stays hidden (the worker extends the visibility every third of
// the visibility timeout). On shutdown the worker stops receiving, gives in-flight handlers a grace
// period, then cancels their context and returns the unfinished messages to the queue at once.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Sender is the part of *sqs.Client that the Publisher uses.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Client is the part of *sqs.Client that the Worker uses: receiving, settling a message (delete,
// alone or in a batch; change its visibility) and sending it to the dead-letter queue.
type Client interface {
	Sender
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Message attributes the worker sets on a message it sends to a dead-letter queue.
const (
	AttrReason       = "rollwave.reason"
	AttrSourceQueue  = "rollwave.source-queue"
	AttrReceiveCount = "rollwave.receive-count"
	AttrFailedAt     = "rollwave.failed-at"
)

// AttrFailures is the attribute that counts a message's failed tries (Retry) so far. A failed try
// requeues a copy with the count raised, rather than hiding the message again, so that the retry
// budget counts failures only: a message's SQS receive count also counts every look of a job
// that waits (RetryAfter), and a job that waited at staging or admission must not reach the
// dead-letter queue after one throttled call. A dead-letter copy does not carry it, so a
// redriven job starts with the whole budget.
const AttrFailures = "rollwave.failures"

// Attributes the worker adds to a truncated dead-letter copy: the original body's size in bytes
// and its SHA-256 (hex), so that the copy names exactly which message it stands for.
const (
	AttrOriginalBytes  = "rollwave.original-bytes"
	AttrOriginalSHA256 = "rollwave.original-sha256"
)

// maxMessageAttributes is SQS's limit of message attributes per message.
const maxMessageAttributes = 10

// ErrMessageTooLarge is wrapped by the error of a send whose message (body and attributes) is
// larger than the queue's maximum message size: SQS would refuse it, so the adapter refuses it
// first, the same way on an emulator that does not enforce the size.
var ErrMessageTooLarge = errors.New("message larger than the queue's maximum message size")

// messageSize is the size SQS counts against the queue's MaximumMessageSize: the body and, for
// each attribute, its name, its data type ("String") and its value, all in bytes.
func messageSize(body string, attrs map[string]string) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// checkSize returns an error wrapping ErrMessageTooLarge when body and attrs exceed max bytes.
func checkSize(body string, attrs map[string]string, max int) error {
	if n := messageSize(body, attrs); n > max {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrMessageTooLarge, n, max)
	}
	return nil
}

// Message is one received SQS message.
type Message struct {
	ID   string
	Body []byte
	// ReceiveCount is SQS's ApproximateReceiveCount of this copy of the message: 1 on its first
	// delivery. Every receive counts, those that ended in RetryAfter too; a copy requeued after
	// a failure, or after a wait at the last receive, starts again at 1.
	ReceiveCount int
	// SentAt is when the message was sent to this queue.
	SentAt time.Time
	// Attributes are the message attributes of type String or Number.
	Attributes map[string]string
	// Failures is how many tries of the message failed before this one (AttrFailures): 0 on
	// the first try, however many times a waiting job was looked at.
	Failures int
	// FinalReceive is set by the Worker when this is the last try the queue's maxReceiveCount
	// allows (Failures+1 reaches it): a Retry now moves the message to the dead-letter queue. A handler whose
	// job must not be left half-done there (an instance marked but never undone) ends the job
	// instead, treating what it would retry as permanent.
	FinalReceive bool

	receiptHandle string
}

func messageFrom(m types.Message) Message {
	msg := Message{
		ID:            deref(m.MessageId),
		Body:          []byte(deref(m.Body)),
		receiptHandle: deref(m.ReceiptHandle),
	}
	if n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		msg.ReceiveCount = n
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		msg.SentAt = time.UnixMilli(ms).UTC()
	}
	for k, v := range m.MessageAttributes {
		if v.StringValue == nil {
			continue
		}
		if msg.Attributes == nil {
			msg.Attributes = map[string]string{}
		}
		msg.Attributes[k] = *v.StringValue
	}
	if n, err := strconv.Atoi(msg.Attributes[AttrFailures]); err == nil && n > 0 {
		msg.Failures = n
	}
	return msg
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stringAttributes renders attrs as SQS String message attributes.
func stringAttributes(attrs map[string]string) map[string]types.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: ptr("String"), StringValue: ptr(v)}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// seconds renders d as whole seconds for SQS, rounding up and clamping to [0, max].
func seconds(d, max time.Duration) int32 {
	if d < 0 {
		d = 0
	}
	if d > max {
		d = max
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return int32(s)
}
