// Package events publishes the world's ECS events to EventBridge, asynchronously and in order
// per resource, so that the world lock is never held during HTTP.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
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

// DefaultSenders is how many PutEvents calls a publisher keeps in flight: a fleet of 1,000 hosts
// emits tens of events per virtual second, more than one sender waiting on an emulator keeps up
// with.
const DefaultSenders = 8

// Publisher queues events and sends them with PutEvents, at most 10 per call, from several
// senders at once. The events of one resource (the first of Resources: a container instance or
// a task) always go through the same sender, in the order they were queued, so a consumer sees
// each resource's changes in order. A batch that fails is retried a few times with backoff, then
// counted as failed and dropped (the simulator keeps going, as AWS's best-effort delivery would).
type Publisher struct {
	api      putEventsAPI
	bus      string
	log      zerolog.Logger
	counters *sim.EventCounters
	now      func() time.Time // virtual time, for the lag; nil measures none
	shards   []*shard
}

// shard is one sender's queue.
type shard struct {
	mu    sync.Mutex
	queue []sim.Event
	wake  chan struct{}
}

// NewPublisher returns a publisher to bus with DefaultSenders senders; counters (may be nil)
// count published, failed and pending entries and the lag.
func NewPublisher(api putEventsAPI, bus string, log zerolog.Logger, counters *sim.EventCounters) *Publisher {
	if counters == nil {
		counters = &sim.EventCounters{}
	}
	p := &Publisher{api: api, bus: bus, log: log, counters: counters}
	p.SetSenders(DefaultSenders)
	return p
}

// SetSenders sets how many senders Run starts (at least 1). Call it before Run.
func (p *Publisher) SetSenders(n int) {
	p.shards = make([]*shard, max(n, 1))
	for i := range p.shards {
		p.shards[i] = &shard{wake: make(chan struct{}, 1)}
	}
}

// MeasureLag makes the publisher record, for every event it publishes, how long after the event's
// time (by now, the world's virtual clock) it went out: the report's events.maxLagSeconds.
func (p *Publisher) MeasureLag(now func() time.Time) { p.now = now }

// Enqueue queues e; it never blocks.
func (p *Publisher) Enqueue(e sim.Event) {
	key := ""
	if len(e.Resources) > 0 {
		key = e.Resources[0]
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	s := p.shards[h.Sum32()%uint32(len(p.shards))]
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	p.counters.Pending.Add(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of events not yet sent.
func (p *Publisher) Pending() int { return int(p.counters.Pending.Load()) }

func (s *shard) take() []sim.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(10, len(s.queue))
	batch := append([]sim.Event(nil), s.queue[:n]...)
	s.queue = s.queue[n:]
	return batch
}

// Run sends queued events until ctx ends, then tries to flush what is left for up to 5 s.
func (p *Publisher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range p.shards {
		wg.Go(func() { p.runShard(ctx, s) })
	}
	wg.Wait()
}

func (p *Publisher) runShard(ctx context.Context, s *shard) {
	for {
		batch := s.take()
		if len(batch) == 0 {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				p.flush(s)
				return
			}
		}
		p.send(ctx, batch)
	}
}

func (p *Publisher) flush(s *shard) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		batch := s.take()
		if len(batch) == 0 {
			return
		}
		p.send(ctx, batch)
	}
}

// published counts the first n events of batch as published and records their lag.
func (p *Publisher) published(batch []sim.Event, n int) {
	p.counters.Published.Add(int64(n))
	p.counters.Pending.Add(-int64(n))
	if p.now == nil || n == 0 {
		return
	}
	now := p.now()
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
