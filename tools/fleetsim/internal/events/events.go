// Package events publishes the world's ECS events to EventBridge, asynchronously and in order,
// so that the world lock is never held during HTTP.
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

	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// putEventsAPI is the one EventBridge call the publisher needs; *eventbridge.Client has it.
type putEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher queues events and sends them with PutEvents, at most 10 per call, in the order they
// were queued. A batch that fails is retried a few times with backoff, then counted as failed
// and dropped (the simulator keeps going, as AWS's best-effort delivery would).
type Publisher struct {
	api      putEventsAPI
	bus      string
	log      zerolog.Logger
	counters *sim.EventCounters

	mu     sync.Mutex
	queue  []sim.Event
	wake   chan struct{}
	closed bool
}

// NewPublisher returns a publisher to bus; counters (may be nil) count published and failed
// entries.
func NewPublisher(api putEventsAPI, bus string, log zerolog.Logger, counters *sim.EventCounters) *Publisher {
	if counters == nil {
		counters = &sim.EventCounters{}
	}
	return &Publisher{api: api, bus: bus, log: log, counters: counters, wake: make(chan struct{}, 1)}
}

// Enqueue queues e; it never blocks.
func (p *Publisher) Enqueue(e sim.Event) {
	p.mu.Lock()
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of events not yet sent.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func (p *Publisher) take() []sim.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(10, len(p.queue))
	batch := append([]sim.Event(nil), p.queue[:n]...)
	p.queue = p.queue[n:]
	return batch
}

// Run sends queued events until ctx ends, then tries to flush what is left for up to 5 s.
func (p *Publisher) Run(ctx context.Context) {
	for {
		batch := p.take()
		if len(batch) == 0 {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				p.flush()
				return
			}
		}
		p.send(ctx, batch)
	}
}

func (p *Publisher) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		batch := p.take()
		if len(batch) == 0 {
			return
		}
		p.send(ctx, batch)
	}
}

func (p *Publisher) send(ctx context.Context, batch []sim.Event) {
	entries := make([]types.PutEventsRequestEntry, 0, len(batch))
	for _, e := range batch {
		detail, err := Detail(e.Detail)
		if err != nil {
			p.log.Error().Err(err).Str("detailType", e.DetailType).Msg("event dropped")
			p.counters.Failed.Add(1)
			continue
		}
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
			p.counters.Published.Add(int64(first))
			retry := entries[first:]
			entries = retry
			if len(entries) == 0 {
				return
			}
			err = fmt.Errorf("put events: %d entries failed", len(retry))
		}
		if attempt >= 4 || ctx.Err() != nil {
			p.log.Error().Err(err).Int("entries", len(entries)).Msg("events dropped after retries")
			p.counters.Failed.Add(int64(len(entries)))
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
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
