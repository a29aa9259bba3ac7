package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/topology"
)

// receiveSlack is how many receives short of the queue's maxReceiveCount the worker re-sends a
// waiting message (RetryAfter). A receive whose answer is lost on the way back (a network failure,
// an emulator that fails after counting it) counts in SQS all the same: re-sent only at
// maxReceiveCount, a waiting job was one lost receive away from the redrive, which moves it to the
// dead-letter queue without a reason. Seen in a 1,000-host benchmark, where moto failed receives
// under load.
const receiveSlack = 1

// SQS limits the worker respects.
const (
	maxVisibility   = 12 * time.Hour
	maxDelay        = 15 * time.Minute
	maxWait         = 20 * time.Second
	maxReceiveBatch = 10
	// actionTimeout bounds one settling call (delete, visibility, dead-letter send); settling
	// runs on a context that survives shutdown, so that a message is never left half-settled.
	actionTimeout = 10 * time.Second
	// minMessageBytes is the smallest MaximumMessageSize SQS allows.
	minMessageBytes = 1024
	// maxReasonBytes bounds the reason attribute of a dead-letter copy; the log line has it whole.
	maxReasonBytes = 4096
)

// Config is one worker's queue and policy.
type Config struct {
	// QueueURL is the queue to consume; DeadLetterURL its dead-letter queue.
	QueueURL      string
	DeadLetterURL string
	// MaxReceiveCount is the queue's redrive maxReceiveCount (topology.Queue.MaxReceiveCount).
	MaxReceiveCount int
	// VisibilityTimeout hides a received message; the worker extends it every third of it while
	// the handler runs. Whole seconds, at least 1 s.
	VisibilityTimeout time.Duration
	// WaitTime is the long-poll wait of each receive, at most 20 s.
	WaitTime time.Duration
	// Concurrency is how many handlers run at once; the worker never holds more messages.
	Concurrency int
	// ShutdownGrace is how long in-flight handlers may go on after Run's context is cancelled
	// before their own context is cancelled.
	ShutdownGrace time.Duration
	// Backoff is the retry policy of Retry.
	Backoff Backoff
	// MaxMessageBytes is the queue's and its dead-letter queue's maximum message size
	// (topology.Queue.MaxMessageBytes); 0 means topology.MaxMessageBytes.
	MaxMessageBytes int
	// DeleteWait is how long a message settled as done waits for others to be deleted with it in
	// one DeleteMessageBatch call (ten at most); 0 deletes each message alone at once. The wait
	// holds the message's concurrency slot, not the job: the handler has already forwarded it.
	DeleteWait time.Duration
	// OnDeadLetter, when set, is called after each message this worker moved to the dead-letter
	// queue (Poison, or Retry at the last receive) with the source queue's name: the
	// DeadLetters metric. It must not block.
	OnDeadLetter func(queue string)
	// Clock times the worker's waits and stamps (visibility extensions, receive retries, the
	// shutdown grace, delete batching, handler durations, AttrFailedAt); nil is clock.Real.
	Clock clock.Clock
}

// Defaults of ConfigFor.
const (
	DefaultConcurrency   = 4
	DefaultShutdownGrace = 10 * time.Second
	DefaultDeleteWait    = 50 * time.Millisecond
)

// ConfigFor is the configuration of a worker on queue q of the topology, located by r, with the
// default concurrency, grace and backoff.
func ConfigFor(q topology.Queue, r topology.ResolvedQueue) Config {
	return Config{
		QueueURL:          r.URL,
		DeadLetterURL:     r.DeadLetterURL,
		MaxReceiveCount:   q.MaxReceiveCount,
		VisibilityTimeout: q.VisibilityTimeout,
		WaitTime:          q.ReceiveWait,
		MaxMessageBytes:   q.MaxMessageBytes,
		Concurrency:       DefaultConcurrency,
		ShutdownGrace:     DefaultShutdownGrace,
		DeleteWait:        DefaultDeleteWait,
		Backoff:           DefaultBackoff,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("queue url is empty"))
	}
	if c.DeadLetterURL == "" {
		errs = append(errs, errors.New("dead-letter queue url is empty"))
	}
	if c.MaxReceiveCount < 1 {
		errs = append(errs, fmt.Errorf("max receive count %d is below 1", c.MaxReceiveCount))
	}
	if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > maxVisibility {
		errs = append(errs, fmt.Errorf("visibility timeout %s is outside [1s, 12h]", c.VisibilityTimeout))
	}
	if c.WaitTime < 0 || c.WaitTime > maxWait {
		errs = append(errs, fmt.Errorf("wait time %s is outside [0, 20s]", c.WaitTime))
	}
	if c.MaxMessageBytes != 0 && (c.MaxMessageBytes < minMessageBytes || c.MaxMessageBytes > topology.MaxMessageBytes) {
		errs = append(errs, fmt.Errorf("max message bytes %d is outside [%d, %d]", c.MaxMessageBytes, minMessageBytes, topology.MaxMessageBytes))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d is below 1", c.Concurrency))
	}
	if c.DeleteWait < 0 || c.DeleteWait > actionTimeout {
		errs = append(errs, fmt.Errorf("delete wait %s is outside [0, %s]", c.DeleteWait, actionTimeout))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown grace %s is negative", c.ShutdownGrace))
	}
	if err := c.Backoff.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Worker consumes one queue. Create it with NewWorker; call Run once.
type Worker struct {
	client Client
	cfg    Config
	handle Handler
	log    zerolog.Logger
	source string // the queue's name, for logs and the dead-letter attribute
	// deletes batches the deletes of messages settled as done; nil when DeleteWait is 0.
	deletes *deleter
	clock   clock.Clock // cfg.Clock, or clock.Real
}

// NewWorker returns a worker that runs h on the messages of cfg.QueueURL, logging to log.
func NewWorker(client Client, cfg Config, h Handler, log zerolog.Logger) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure worker: %w", err)
	}
	if h == nil {
		return nil, errors.New("configure worker: handler is nil")
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = topology.MaxMessageBytes
	}
	source := cfg.QueueURL[strings.LastIndex(cfg.QueueURL, "/")+1:]
	w := &Worker{
		client: client, cfg: cfg, handle: h, source: source, clock: clock.OrReal(cfg.Clock),
		log: log.With().Str("queue", source).Logger(),
	}
	if cfg.DeleteWait > 0 {
		w.deletes = newDeleter(client, cfg.QueueURL, cfg.DeleteWait, w.clock)
	}
	return w, nil
}

// Run receives and handles messages until ctx is cancelled, then shuts down: it stops
// receiving, lets in-flight handlers finish for up to ShutdownGrace, then cancels their context
// and returns their messages to the queue (visibility 0) as they return. If handlers have still
// not returned another ShutdownGrace later, Run returns their messages itself and returns an
// error; otherwise it returns nil once every message is settled. The grace bounds the handlers
// only: settling a returned handler's message is one queue call, bounded by its own timeout, so a
// slow queue endpoint never turns a clean shutdown into an error. Receive errors are logged and
// retried with backoff.
func (w *Worker) Run(ctx context.Context) error {
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var (
		wg       sync.WaitGroup // every received message until it is settled
		running  sync.WaitGroup // every handler call until it returns
		inflight sync.Map       // *delivery -> struct{}
		slots    = make(chan struct{}, w.cfg.Concurrency)
		failures int
	)
	if w.deletes != nil {
		stopDeletes := make(chan struct{})
		go w.deletes.run(stopDeletes)
		defer close(stopDeletes)
	}
	w.log.Info().Int("concurrency", w.cfg.Concurrency).Msg("worker started")
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		n := 1
	fill:
		for n < min(w.cfg.Concurrency, maxReceiveBatch) {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		msgs, err := w.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			delay := min(time.Duration(1<<min(failures-1, 5))*time.Second, 30*time.Second)
			w.log.Warn().Err(err).Dur("retry_in", delay).Msg("receive failed")
			_ = clock.Sleep(ctx, w.clock, delay) // a cancelled context ends the loop
			continue
		}
		failures = 0
		for _, m := range msgs {
			d := &delivery{msg: m, stopHeartbeat: func() {}}
			inflight.Store(d, struct{}{})
			wg.Add(1)
			running.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				defer inflight.Delete(d)
				if ctx.Err() != nil { // received as shutdown began: give it back untouched
					running.Done()
					w.settle(d, Retry(context.Canceled), true)
					return
				}
				w.process(handlerCtx, d, running.Done)
			}()
		}
	}

	w.log.Info().Dur("grace", w.cfg.ShutdownGrace).Msg("worker stopping")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !waitFor(w.clock, done, w.cfg.ShutdownGrace) {
		cancelHandlers()
		returned := make(chan struct{})
		go func() { running.Wait(); close(returned) }()
		if !waitFor(w.clock, returned, w.cfg.ShutdownGrace) {
			n := 0
			inflight.Range(func(k, _ any) bool {
				d := k.(*delivery)
				d.mu.Lock()
				stop := d.stopHeartbeat
				d.mu.Unlock()
				stop()
				w.settle(d, Retry(errors.New("handler did not return")), true)
				n++
				return true
			})
			return fmt.Errorf("stop worker %s: %d handlers did not return after their context was cancelled", w.source, n)
		}
		<-done // every handler returned: wait for their messages to be settled
	}
	w.log.Info().Msg("worker stopped")
	return nil
}

func (w *Worker) receive(ctx context.Context, n int) ([]Message, error) {
	out, err := w.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            &w.cfg.QueueURL,
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     seconds(w.cfg.WaitTime, maxWait),
		VisibilityTimeout:   seconds(w.cfg.VisibilityTimeout, maxVisibility),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", w.source, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := messageFrom(m)
		msg.FinalReceive = w.tries(msg) >= w.cfg.MaxReceiveCount
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// delivery is one received message until it is settled; settled guards against settling twice
// when Run gives up on a handler that does not return.
type delivery struct {
	msg           Message
	stopHeartbeat func()
	mu            sync.Mutex
	settled       bool
	log           *logState
}

func (d *delivery) claim() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return false
	}
	d.settled = true
	return true
}

// process runs the handler on d and settles its message; returned is called as soon as the
// handler has returned, before the settling queue call.
func (w *Worker) process(handlerCtx context.Context, d *delivery, returned func()) {
	ctx := WithLogger(WithReceives(handlerCtx, d.msg.ReceiveCount+d.msg.Failures), w.messageLog(d.msg))
	d.mu.Lock()
	d.log = ctx.Value(logKey{}).(*logState)
	d.stopHeartbeat = w.heartbeat(ctx, d)
	d.mu.Unlock()
	start := w.clock.Now()
	o := w.call(ctx, d.msg)
	returned()
	d.stopHeartbeat()
	w.settleLogged(ctx, d, o, handlerCtx.Err() != nil, clock.Since(w.clock, start))
}

// call runs the handler, turning a panic into Retry.
func (w *Worker) call(ctx context.Context, m Message) (o Outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = Retry(fmt.Errorf("handler panicked: %v", r))
		}
	}()
	o = w.handle(ctx, m)
	if o.kind == 0 {
		o = Retry(errors.New("handler returned no outcome"))
	}
	return o
}

// heartbeat extends the message's visibility every third of the visibility timeout until the
// returned stop is called; stop waits for the heartbeat to end, so that no extension races the
// settling action.
func (w *Worker) heartbeat(ctx context.Context, d *delivery) (stop func()) {
	quit := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := w.clock.NewTicker(w.cfg.VisibilityTimeout / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C():
				if err := w.changeVisibility(ctx, d.msg, w.cfg.VisibilityTimeout); err != nil {
					Logger(ctx).Warn().Err(err).Msg("extend visibility failed")
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit); <-ended })
	}
}

// messageLog is the worker's logger with the message's ID, receive count and, once a try
// failed, its failures.
func (w *Worker) messageLog(m Message) zerolog.Logger {
	c := w.log.With().Str("message_id", m.ID).Int("receive_count", m.ReceiveCount)
	if m.Failures > 0 {
		c = c.Int("failures", m.Failures)
	}
	return c.Logger()
}

func (w *Worker) settleLogged(ctx context.Context, d *delivery, o Outcome, shutdown bool, took time.Duration) {
	w.settleWith(Logger(ctx), d, o, shutdown, took)
}

func (w *Worker) settle(d *delivery, o Outcome, shutdown bool) {
	l := w.messageLog(d.msg)
	d.mu.Lock()
	if d.log != nil {
		l = *Logger(context.WithValue(context.Background(), logKey{}, d.log))
	}
	d.mu.Unlock()
	w.settleWith(&l, d, o, shutdown, 0)
}

// settleWith applies the one queue action of o and logs it. Actions run on their own context:
// a message must be settled even while the worker shuts down.
func (w *Worker) settleWith(l *zerolog.Logger, d *delivery, o Outcome, shutdown bool, took time.Duration) {
	if !d.claim() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	m := d.msg
	ev := func(e *zerolog.Event) *zerolog.Event {
		if took > 0 {
			e = e.Dur("took", took)
		}
		return e.Str("outcome", o.String())
	}
	switch {
	case o.kind == kindDone:
		if err := w.deleteDone(ctx, m); err != nil {
			ev(l.Error()).Err(err).Msg("delete failed; the message will be redelivered")
			return
		}
		ev(l.Info()).Msg("done")
	case o.kind == kindRetryAfter && m.ReceiveCount >= max(w.cfg.MaxReceiveCount-receiveSlack, 1):
		delay := min(max(o.delay, 0), maxDelay)
		if err := w.requeue(ctx, m, delay); err != nil {
			ev(l.Error()).Err(err).Msg("requeue failed; the message will be redelivered")
			return
		}
		ev(l.Info()).Dur("delay", delay).Msg("waiting: requeued to reset the receive count")
	case o.kind == kindRetryAfter:
		if err := w.changeVisibility(ctx, m, o.delay); err != nil {
			ev(l.Error()).Err(err).Msg("change visibility failed")
			return
		}
		ev(l.Info()).Dur("delay", o.delay).Msg("waiting")
	case o.kind == kindRetry && shutdown:
		if err := w.changeVisibility(ctx, m, 0); err != nil {
			ev(l.Warn()).Err(err).Msg("return to queue at shutdown failed")
			return
		}
		ev(l.Info()).Msg("returned to the queue at shutdown")
	case o.kind == kindRetry && w.tries(m) >= w.cfg.MaxReceiveCount:
		reason := fmt.Sprintf("retry %d of %d failed: %v", w.tries(m), w.cfg.MaxReceiveCount, o.err)
		if err := w.deadLetter(ctx, l, m, reason); err != nil {
			ev(l.Error()).Err(err).Msg("dead-letter failed; the redrive policy is the backstop")
			return
		}
		w.deadLettered()
		ev(l.Error()).Err(o.err).Msg("gave up: moved to the dead-letter queue")
	case o.kind == kindRetry && !w.canCountFailures(m):
		// No room for AttrFailures: hidden again, its tries counted by SQS's receive count.
		delay := w.cfg.Backoff.Delay(m.ReceiveCount)
		if err := w.changeVisibility(ctx, m, delay); err != nil {
			ev(l.Warn()).Err(o.err).AnErr("visibility_error", err).Msg("failed; backoff not applied")
			return
		}
		ev(l.Warn()).Err(o.err).Dur("delay", delay).Msg("failed; will retry (the message has no room to count its failures: its receives count instead)")
	case o.kind == kindRetry:
		// A copy counts the failure (AttrFailures); hiding the message again would leave the
		// count to SQS's receive count, which every wait raises too.
		failures := m.Failures + 1
		delay := w.cfg.Backoff.Delay(failures)
		if err := w.requeueFailed(ctx, m, failures, delay); err != nil {
			ev(l.Warn()).Err(o.err).AnErr("requeue_error", err).Msg("failed; requeue failed, the message will be redelivered")
			return
		}
		ev(l.Warn()).Err(o.err).Int("failures", failures).Dur("delay", delay).Msg("failed; will retry")
	case o.kind == kindPoison:
		if err := w.deadLetter(ctx, l, m, o.reason); err != nil {
			ev(l.Error()).Err(err).Msg("dead-letter failed; the message will be redelivered")
			return
		}
		w.deadLettered()
		ev(l.Error()).Msg("poison: moved to the dead-letter queue")
	}
}

func (w *Worker) deadLettered() {
	if w.cfg.OnDeadLetter != nil {
		w.cfg.OnDeadLetter(w.source)
	}
}

// deleteDone deletes a message its handler is done with, in a batch when DeleteWait allows.
func (w *Worker) deleteDone(ctx context.Context, m Message) error {
	if w.deletes == nil {
		return w.delete(ctx, m)
	}
	return w.deletes.delete(ctx, m)
}

func (w *Worker) delete(ctx context.Context, m Message) error {
	return deleteOne(ctx, w.client, w.cfg.QueueURL, m)
}

func (w *Worker) changeVisibility(ctx context.Context, m Message, d time.Duration) error {
	_, err := w.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &w.cfg.QueueURL, ReceiptHandle: &m.receiptHandle,
		VisibilityTimeout: seconds(d, maxVisibility),
	})
	if err != nil {
		return fmt.Errorf("change visibility of message %s: %w", m.ID, err)
	}
	return nil
}

// deadLetter sends the original body to the dead-letter queue with the reason, then deletes the
// message: send first, so a failure between the two leaves a duplicate, never a loss. When the
// body and the reason attributes do not fit the dead-letter queue's maximum message size, the copy
// holds as much of the body as fits, and the attributes the original's size (AttrOriginalBytes)
// and SHA-256 (AttrOriginalSHA256); the log line names both.
func (w *Worker) deadLetter(ctx context.Context, l *zerolog.Logger, m Message, reason string) error {
	if len(reason) > maxReasonBytes {
		reason = truncateUTF8(reason, maxReasonBytes-len(" …(truncated)")) + " …(truncated)"
	}
	attrs := map[string]string{
		AttrReason:       reason,
		AttrSourceQueue:  w.source,
		AttrReceiveCount: strconv.Itoa(m.ReceiveCount + m.Failures),
		AttrFailedAt:     w.clock.Now().UTC().Format(time.RFC3339Nano),
	}
	body := string(m.Body)
	if messageSize(body, attrs) > w.cfg.MaxMessageBytes {
		sum := sha256.Sum256(m.Body)
		attrs[AttrOriginalBytes] = strconv.Itoa(len(m.Body))
		attrs[AttrOriginalSHA256] = hex.EncodeToString(sum[:])
		body = truncateUTF8(body, w.cfg.MaxMessageBytes-messageSize("", attrs))
		l.Warn().Int("original_bytes", len(m.Body)).Str("original_sha256", attrs[AttrOriginalSHA256]).
			Int("copy_bytes", len(body)).Msg("message too large to copy whole: the dead-letter copy is truncated")
	}
	for k, v := range m.Attributes {
		if _, ours := attrs[k]; ours || k == AttrFailures || len(attrs) >= maxMessageAttributes {
			continue
		}
		if messageSize(body, attrs)+len(k)+len("String")+len(v) <= w.cfg.MaxMessageBytes {
			attrs[k] = v
		}
	}
	if err := w.send(ctx, w.cfg.DeadLetterURL, body, attrs, 0); err != nil {
		return fmt.Errorf("send message %s to the dead-letter queue: %w", m.ID, err)
	}
	return w.delete(ctx, m)
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that does not cut a character.
func truncateUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// tries is the number of m's try, the one under way: its failures before it plus one, or, for a
// message that cannot count them (canCountFailures), its receive count.
func (w *Worker) tries(m Message) int {
	if !w.canCountFailures(m) {
		return m.ReceiveCount
	}
	return m.Failures + 1
}

// canCountFailures reports whether a copy of m can carry AttrFailures: it has it already, or
// room for one more attribute within SQS's ten and the queue's maximum size. A message that
// cannot (a hand-written one with ten attributes of its own) is retried as before the count:
// hidden again, until its receives reach maxReceiveCount, its waits included.
func (w *Worker) canCountFailures(m Message) bool {
	if _, ok := m.Attributes[AttrFailures]; ok {
		return true
	}
	grown := len(AttrFailures) + len("String") + len(strconv.Itoa(w.cfg.MaxReceiveCount))
	return len(m.Attributes) < maxMessageAttributes && messageSize(string(m.Body), m.Attributes)+grown <= w.cfg.MaxMessageBytes
}

// requeueFailed requeues m after a failed try, its failures counted in AttrFailures.
func (w *Worker) requeueFailed(ctx context.Context, m Message, failures int, delay time.Duration) error {
	attrs := make(map[string]string, len(m.Attributes)+1)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[AttrFailures] = strconv.Itoa(failures)
	m.Attributes = attrs
	return w.requeue(ctx, m, delay)
}

// requeue sends a copy of the message with delay, then deletes the original: send first, so a
// failure between the two leaves a duplicate, never a loss.
func (w *Worker) requeue(ctx context.Context, m Message, delay time.Duration) error {
	if err := w.send(ctx, w.cfg.QueueURL, string(m.Body), m.Attributes, delay); err != nil {
		return fmt.Errorf("requeue message %s: %w", m.ID, err)
	}
	return w.delete(ctx, m)
}

// send sends one message, refusing what SQS would refuse as too large.
func (w *Worker) send(ctx context.Context, url, body string, attrs map[string]string, delay time.Duration) error {
	if err := checkSize(body, attrs, w.cfg.MaxMessageBytes); err != nil {
		return err
	}
	_, err := w.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &url, MessageBody: &body,
		MessageAttributes: stringAttributes(attrs),
		DelaySeconds:      seconds(delay, maxDelay),
	})
	return err
}

// waitFor reports whether done closed within d on c.
func waitFor(c clock.Clock, done <-chan struct{}, d time.Duration) bool {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C():
		return false
	}
}
