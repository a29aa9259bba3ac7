package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/clock"
)

// SQS's batch limits: at most ten entries per SendMessageBatch or DeleteMessageBatch call.
const maxBatchEntries = 10

// batchAttempts is how many times SendBatch sends an entry that SQS failed through no fault of the
// sender (a server error or a throttle) before it reports the entry as not sent.
const batchAttempts = 3

// batchRetryDelay is the wait before the first resend of failed entries; it doubles each time.
const batchRetryDelay = 200 * time.Millisecond

// Outgoing is one message of a batch: its body, how long it stays hidden after the send (whole
// seconds, at most 15 min) and its String message attributes (at most 10).
type Outgoing struct {
	Body       []byte
	Delay      time.Duration
	Attributes map[string]string
}

// SendBatch sends msgs to the queue at queueURL with SendMessageBatch, in order, ten per call (and
// never more than the queue's maximum message size per call, which is also SQS's limit of a
// batch). It returns the message ID of each entry by index, "" for an entry not sent, and an error
// naming every entry not sent and why: refused before the call (too large, too many attributes,
// delay out of range, as Send refuses it), failed by SQS as the sender's fault, or still failing
// after batchAttempts sends on a server fault. A failed call stops the send there: the entries of
// it and of every later call are reported as not sent. Nothing is lost silently: the caller learns
// exactly which entries to send again.
func (p *Publisher) SendBatch(ctx context.Context, queueURL string, msgs []Outgoing) ([]string, error) {
	ids := make([]string, len(msgs))
	var errs []error
	var valid []int
	for i, m := range msgs {
		if err := p.validate(m); err != nil {
			errs = append(errs, fmt.Errorf("send message %d of %d to %s: %w", i+1, len(msgs), queueURL, err))
			continue
		}
		valid = append(valid, i)
	}
	for len(valid) > 0 {
		n := p.chunk(msgs, valid)
		failed, err := p.sendChunk(ctx, queueURL, msgs, valid[:n], ids)
		if err != nil {
			for _, i := range valid {
				errs = append(errs, fmt.Errorf("send message %d of %d to %s: %w", i+1, len(msgs), queueURL, err))
			}
			break
		}
		errs = append(errs, failed...)
		valid = valid[n:]
	}
	return ids, errors.Join(errs...)
}

// validate refuses what Send refuses: a delay out of range, too many attributes, too large.
func (p *Publisher) validate(m Outgoing) error {
	if m.Delay < 0 || m.Delay > maxDelay {
		return fmt.Errorf("delay %s is outside [0, 15m]", m.Delay)
	}
	if len(m.Attributes) > maxMessageAttributes {
		return fmt.Errorf("%d attributes, at most %d", len(m.Attributes), maxMessageAttributes)
	}
	return checkSize(string(m.Body), m.Attributes, p.maxBytes)
}

// chunk returns how many of the entries at idx go in the next call: at most ten, at most the
// maximum message size together, at least one.
func (p *Publisher) chunk(msgs []Outgoing, idx []int) int {
	n, size := 0, 0
	for n < len(idx) && n < maxBatchEntries {
		s := messageSize(string(msgs[idx[n]].Body), msgs[idx[n]].Attributes)
		if n > 0 && size+s > p.maxBytes {
			break
		}
		size += s
		n++
	}
	return n
}

// sendChunk sends the entries at idx in one call, resending those that fail on a server fault,
// and records their IDs. It returns one error per entry not sent, or the call's error when a call
// failed as a whole.
func (p *Publisher) sendChunk(ctx context.Context, queueURL string, msgs []Outgoing, idx []int, ids []string) ([]error, error) {
	var errs []error
	notSent := func(i int, err error) {
		errs = append(errs, fmt.Errorf("send message %d of %d to %s: %w", i+1, len(msgs), queueURL, err))
	}
	pending := idx
	delay := batchRetryDelay
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			if err := clock.Sleep(ctx, clock.OrReal(p.Clock), delay); err != nil {
				for _, i := range pending {
					notSent(i, err)
				}
				return errs, nil
			}
			delay *= 2
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for k, i := range pending {
			entries[k] = types.SendMessageBatchRequestEntry{
				Id:                ptr(strconv.Itoa(i)),
				MessageBody:       ptr(string(msgs[i].Body)),
				DelaySeconds:      seconds(msgs[i].Delay, maxDelay),
				MessageAttributes: stringAttributes(msgs[i].Attributes),
			}
		}
		out, err := p.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &queueURL, Entries: entries})
		if err != nil {
			if attempt == 1 {
				return nil, err
			}
			for _, i := range pending {
				notSent(i, err)
			}
			return errs, nil
		}
		results := map[int]bool{}
		for _, ok := range out.Successful {
			if i, err := strconv.Atoi(deref(ok.Id)); err == nil && i >= 0 && i < len(ids) {
				ids[i] = deref(ok.MessageId)
				results[i] = true
			}
		}
		var retry []int
		for _, f := range out.Failed {
			i, err := strconv.Atoi(deref(f.Id))
			if err != nil || i < 0 || i >= len(ids) {
				continue
			}
			results[i] = true
			if !f.SenderFault && attempt < batchAttempts {
				retry = append(retry, i)
				continue
			}
			notSent(i, entryError(f.Code, f.Message, f.SenderFault))
		}
		// An entry SQS neither accepted nor failed would otherwise be lost silently.
		for _, i := range pending {
			if !results[i] {
				notSent(i, errors.New("no result for the entry"))
			}
		}
		pending = retry
	}
	return errs, nil
}

// EntryError is the error of one entry of a batch call that SQS failed: its code and whether it
// was the sender's fault (a permanent failure) or SQS's (worth trying again).
type EntryError struct {
	Code, Message string
	SenderFault   bool
}

func (e *EntryError) Error() string {
	fault := "server"
	if e.SenderFault {
		fault = "sender"
	}
	return fmt.Sprintf("%s (%s fault): %s", e.Code, fault, e.Message)
}

func entryError(code, msg *string, senderFault bool) error {
	return &EntryError{Code: deref(code), Message: deref(msg), SenderFault: senderFault}
}

// deleter deletes the messages the worker settles as done with DeleteMessageBatch: a message
// waits up to wait for others to join its call, ten at most. A crash loses nothing: a message not
// yet deleted is only delivered again, which every handler tolerates (the pipeline is idempotent).
type deleter struct {
	client   Client
	queueURL string
	wait     time.Duration
	clock    clock.Clock
	reqs     chan deleteRequest
	stopped  chan struct{}
}

type deleteRequest struct {
	msg    Message
	result chan error
}

func newDeleter(client Client, queueURL string, wait time.Duration, c clock.Clock) *deleter {
	return &deleter{client: client, queueURL: queueURL, wait: wait, clock: c, reqs: make(chan deleteRequest), stopped: make(chan struct{})}
}

// delete deletes m, in a batch with others when any come within the wait, and returns the error
// of its entry. Once the deleter has stopped it deletes m alone.
func (d *deleter) delete(ctx context.Context, m Message) error {
	req := deleteRequest{msg: m, result: make(chan error, 1)}
	select {
	case d.reqs <- req:
	case <-d.stopped:
		return deleteOne(ctx, d.client, d.queueURL, m)
	case <-ctx.Done():
		return fmt.Errorf("delete message %s: %w", m.ID, ctx.Err())
	}
	select {
	case err := <-req.result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("delete message %s: %w", m.ID, ctx.Err())
	}
}

// run collects and sends batches until stop is closed; requests made after that are deleted one
// by one by their callers.
func (d *deleter) run(stop <-chan struct{}) {
	defer close(d.stopped)
	for {
		var batch []deleteRequest
		select {
		case r := <-d.reqs:
			batch = append(batch, r)
		case <-stop:
			return
		}
		timer := d.clock.NewTimer(d.wait)
	collect:
		for len(batch) < maxBatchEntries {
			select {
			case r := <-d.reqs:
				batch = append(batch, r)
			case <-timer.C():
				break collect
			}
		}
		timer.Stop()
		d.send(batch)
	}
}

// send deletes batch in one call and answers each request with its entry's result.
func (d *deleter) send(batch []deleteRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].result <- deleteOne(ctx, d.client, d.queueURL, batch[0].msg)
		return
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
	for i, r := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: ptr(strconv.Itoa(i)), ReceiptHandle: ptr(r.msg.receiptHandle)}
	}
	out, err := d.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &d.queueURL, Entries: entries})
	if err != nil {
		for _, r := range batch {
			r.result <- fmt.Errorf("delete message %s: %w", r.msg.ID, err)
		}
		return
	}
	results := make([]error, len(batch))
	answered := make([]bool, len(batch))
	for _, ok := range out.Successful {
		if i, err := strconv.Atoi(deref(ok.Id)); err == nil && i >= 0 && i < len(batch) {
			answered[i] = true
		}
	}
	for _, f := range out.Failed {
		if i, err := strconv.Atoi(deref(f.Id)); err == nil && i >= 0 && i < len(batch) {
			results[i] = fmt.Errorf("delete message %s: %w", batch[i].msg.ID, entryError(f.Code, f.Message, f.SenderFault))
			answered[i] = true
		}
	}
	for i, r := range batch {
		if !answered[i] {
			results[i] = fmt.Errorf("delete message %s: no result for the entry", r.msg.ID)
		}
		r.result <- results[i]
	}
}

func deleteOne(ctx context.Context, client Client, queueURL string, m Message) error {
	_, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: &m.receiptHandle})
	if err != nil {
		return fmt.Errorf("delete message %s: %w", m.ID, err)
	}
	return nil
}
