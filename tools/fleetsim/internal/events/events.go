// Package events publishes the world's ECS events to EventBridge, asynchronously and in order
// per resource, so that the world lock is never held during HTTP.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// putEventsAPI is the one EventBridge call the publisher needs; *eventbridge.Client has it.
type putEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// DefaultSenders is how many PutEvents calls a publisher keeps in flight at most: the burst of a
// 1,000-host fleet (its tasks placed at load, a wave of drains) is thousands of events within a
// virtual second, ten per call; an emulator answers concurrent calls, so the senders keep up
// where one sender waiting on each call in turn falls minutes behind.
const DefaultSenders = 512

// Publisher queues events and sends them with PutEvents, at most 10 per call, from up to Senders
// calls at once. A resource's events (the first of Resources: a container instance or a task)
// are never in two calls at once, and go out in the order they were queued, so a consumer sees
// each resource's changes in order; the other resources' events do not wait behind them. A batch
// that fails is retried a few times with backoff, then counted as failed and dropped (the
// simulator keeps going, as AWS's best-effort delivery would). The linger and the backoff run on
// the publisher's clock, the world's base clock.
type Publisher struct {
	api      putEventsAPI
	bus      string
	log      zerolog.Logger
	counters *sim.EventCounters
	now      func() time.Time // virtual time, for the lag; nil measures none
	senders  int
	clock    clock.Clock

	mu       sync.Mutex
	pending  map[string][]sim.Event // by resource, in the order queued
	ready    []string               // resources with events pending and no call in flight, oldest first
	inFlight map[string]bool        // resources with a call in flight
	wake     chan struct{}          // an event was queued or a call returned
}

// NewPublisher returns a publisher to bus with DefaultSenders senders; counters (may be nil)
// count published, failed and pending entries and the lag.
func NewPublisher(api putEventsAPI, bus string, log zerolog.Logger, counters *sim.EventCounters) *Publisher {
	if counters == nil {
		counters = &sim.EventCounters{}
	}
	return &Publisher{api: api, bus: bus, log: log, counters: counters, senders: DefaultSenders, clock: clock.Real,
		pending: map[string][]sim.Event{}, inFlight: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// SetSenders sets how many PutEvents calls Run keeps in flight at most (at least 1). Call it
// before Run.
func (p *Publisher) SetSenders(n int) { p.senders = max(n, 1) }

// SetClock sets the clock the publisher waits on (nil: clock.Real): the world's base clock, so
// that on a virtual one the publisher waits on nothing real. Call it before Run.
func (p *Publisher) SetClock(c clock.Clock) { p.clock = clock.OrReal(c) }

// MeasureLag makes the publisher record, for every event it publishes, how long after the event's
// time (by now, the world's virtual clock) it went out: the report's events.maxLagSeconds.
func (p *Publisher) MeasureLag(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// Enqueue queues e; it never blocks.
func (p *Publisher) Enqueue(e sim.Event) {
	r := resourceOf(e)
	p.mu.Lock()
	if len(p.pending[r]) == 0 && !p.inFlight[r] {
		p.ready = append(p.ready, r)
	}
	p.pending[r] = append(p.pending[r], e)
	p.mu.Unlock()
	p.counters.Pending.Add(1)
	p.signal()
}

func (p *Publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of events not yet sent.
func (p *Publisher) Pending() int { return int(p.counters.Pending.Load()) }

func resourceOf(e sim.Event) string {
	if len(e.Resources) > 0 {
		return e.Resources[0]
	}
	return ""
}

// take removes the next batch that may go out now: the pending events of the resources without a
// call in flight, the longest waiting first, each resource's all together and in order, up to
// ten. A resource with more than fits goes first in the next batch. It marks the batch's
// resources in flight; release clears them.
func (p *Publisher) take() []sim.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var batch []sim.Event
	for len(p.ready) > 0 && len(batch) < 10 {
		r := p.ready[0]
		evs := p.pending[r]
		if len(batch) > 0 && len(batch)+len(evs) > 10 {
			break
		}
		n := min(len(evs), 10-len(batch))
		batch = append(batch, evs[:n]...)
		if n == len(evs) {
			delete(p.pending, r)
		} else {
			p.pending[r] = evs[n:]
		}
		p.ready = p.ready[1:]
		p.inFlight[r] = true
	}
	return batch
}

// release ends the call of batch: its resources' further events may go out.
func (p *Publisher) release(batch []sim.Event) {
	p.mu.Lock()
	for _, e := range batch {
		r := resourceOf(e)
		if !p.inFlight[r] {
			continue
		}
		delete(p.inFlight, r)
		if len(p.pending[r]) > 0 {
			p.ready = append(p.ready, r)
		}
	}
	p.mu.Unlock()
	p.signal()
}

// linger is how long an idle publisher waits, once woken by an event, for the events emitted with
// it before it sends, on its clock: a thousandth of a second of real time, 20 ms of virtual time
// at ×20; on a virtual clock, a virtual millisecond, which passes once the process is idle (the
// world has emitted everything of the instant).
const linger = time.Millisecond

// Run sends queued events until ctx ends, then tries to flush what is left for up to 5 s.
func (p *Publisher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, p.senders)
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			p.flush()
			return
		}
		batch := p.take()
		if len(batch) == 0 {
			<-slots
			select {
			case <-p.wake:
				// The world emits the events of one instant one by one under its lock: a
				// moment's wait lets them go out together, in one call per resource, rather
				// than the first alone and the rest behind it.
				if err := clock.Sleep(ctx, p.clock, linger); err != nil {
					wg.Wait()
					p.flush()
					return
				}
				continue
			case <-ctx.Done():
				wg.Wait()
				p.flush()
				return
			}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			p.send(ctx, batch)
			p.release(batch)
		})
	}
}

// flush sends what is left, one call at a time, for up to 5 s.
func (p *Publisher) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		batch := p.take()
		if len(batch) == 0 {
			return
		}
		p.send(ctx, batch)
		p.release(batch)
	}
}

// published counts the first n events of batch as published and records their lag.
func (p *Publisher) published(batch []sim.Event, n int) {
	p.counters.Published.Add(int64(n))
	p.counters.Pending.Add(-int64(n))
	p.mu.Lock()
	clock := p.now
	p.mu.Unlock()
	if clock == nil || n == 0 {
		return
	}
	now := clock()
	for _, e := range batch[:n] {
		p.counters.ObserveLag(now.Sub(e.Time))
	}
}

// dropped counts n events as failed.
func (p *Publisher) dropped(n int) {
	p.counters.Failed.Add(int64(n))
	p.counters.Pending.Add(-int64(n))
}

func (p *Publisher) send(ctx context.Context, batch []sim.Event) {
	entries := make([]types.PutEventsRequestEntry, 0, len(batch))
	events := make([]sim.Event, 0, len(batch))
	for _, e := range batch {
		detail, err := Detail(e.Detail)
		if err != nil {
			p.log.Error().Err(err).Str("detailType", e.DetailType).Msg("event dropped")
			p.dropped(1)
			continue
		}
		events = append(events, e)
		entries = append(entries, types.PutEventsRequestEntry{
			Source: aws.String("aws.ecs"), DetailType: aws.String(e.DetailType), Detail: aws.String(string(detail)),
			Resources: e.Resources, Time: aws.Time(e.Time), EventBusName: aws.String(p.bus),
		})
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; len(entries) > 0; attempt++ {
		out, err := p.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err == nil {
			// Resend from the first failed entry on, so that order is kept; entries after
			// it that did go through arrive twice, with the same detail.version (as AWS
			// allows: consumers dedupe on it).
			first := len(entries)
			for i, r := range out.Entries {
				if r.ErrorCode != nil && i < first {
					first = i
				}
			}
			p.published(events, first)
			retry := entries[first:]
			entries, events = retry, events[first:]
			if len(entries) == 0 {
				return
			}
			err = fmt.Errorf("put events: %d entries failed", len(retry))
		}
		if attempt >= 4 || ctx.Err() != nil {
			p.log.Error().Err(err).Int("entries", len(entries)).Msg("events dropped after retries")
			p.dropped(len(entries))
			return
		}
		_ = clock.Sleep(ctx, p.clock, backoff) // a done ctx ends the retries above
		backoff *= 2
	}
}

var timeFields = map[string]bool{"registeredAt": true, "updatedAt": true, "createdAt": true, "startedAt": true,
	"stoppedAt": true, "stoppingAt": true, "pullStartedAt": true, "pullStoppedAt": true, "connectivityAt": true,
	"executionStoppedAt": true}

// Detail renders an event detail as EventBridge carries it: the API shape, with timestamps as
// ISO 8601 strings instead of epoch seconds.
func Detail(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal detail: %w", err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode detail: %w", err)
	}
	isoTimes(m)
	return json.Marshal(m)
}

func isoTimes(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if n, ok := val.(json.Number); ok && timeFields[k] {
				f, _ := n.Float64()
				x[k] = time.UnixMilli(int64(f * 1000)).UTC().Format("2006-01-02T15:04:05.000Z")
				continue
			}
			isoTimes(val)
		}
	case []any:
		for _, e := range x {
			isoTimes(e)
		}
	}
}
