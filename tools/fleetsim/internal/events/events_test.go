package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

type fakeBridge struct {
	mu       sync.Mutex
	calls    [][]types.PutEventsRequestEntry
	failNext int
}

func (f *fakeBridge) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &eventbridge.PutEventsOutput{Entries: make([]types.PutEventsResultEntry, len(in.Entries))}
	if f.failNext > 0 {
		f.failNext--
		out.Entries[0].ErrorCode = aws.String("InternalFailure")
		out.FailedEntryCount = 1
	}
	f.calls = append(f.calls, in.Entries)
	return out, nil
}

func TestPublisherBatchesInOrderAndRetries(t *testing.T) {
	fake := &fakeBridge{failNext: 1}
	counters := &sim.EventCounters{}
	p := NewPublisher(fake, "bus", zerolog.New(zerolog.NewTestWriter(t)), counters)
	for i := 0; i < 25; i++ {
		p.Enqueue(sim.Event{DetailType: "ECS Task State Change", Resources: []string{"r"}, Time: time.Unix(0, 0),
			Detail: sim.TaskView{Version: int64(i + 1), CreatedAt: ptr(sim.Epoch(time.Unix(1700000000, 0)))}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	for counters.Published.Load() < 25 && time.Now().Before(deadline) {
		<-tick.C
	}
	tick.Stop()
	cancel()
	<-done
	if got := counters.Published.Load(); got != 25 {
		t.Fatalf("published = %d, want 25", got)
	}
	var versions []int64
	seen := map[int64]bool{}
	for _, call := range fake.calls {
		if len(call) > 10 {
			t.Errorf("PutEvents with %d entries, want at most 10", len(call))
		}
		for _, e := range call {
			if aws.ToString(e.Source) != "aws.ecs" || aws.ToString(e.EventBusName) != "bus" {
				t.Errorf("entry source %q bus %q, want aws.ecs on bus", aws.ToString(e.Source), aws.ToString(e.EventBusName))
			}
			var d struct {
				Version   int64  `json:"version"`
				CreatedAt string `json:"createdAt"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			if d.CreatedAt != "2023-11-14T22:13:20.000Z" {
				t.Errorf("detail createdAt = %q, want ISO 8601", d.CreatedAt)
			}
			if !seen[d.Version] {
				seen[d.Version] = true
				versions = append(versions, d.Version)
			}
		}
	}
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("published versions = %v, want 1..25 in order", versions)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Events of many resources go out through several senders at once, each resource's in order,
// and the publisher records how long after its time each event went out.
func TestPublisherKeepsEachResourceInOrderAcrossSenders(t *testing.T) {
	fake := &fakeBridge{}
	counters := &sim.EventCounters{}
	p := NewPublisher(fake, "bus", zerolog.New(zerolog.NewTestWriter(t)), counters)
	epoch := time.Unix(1700000000, 0)
	p.MeasureLag(func() time.Time { return epoch.Add(3 * time.Second) })
	const resources, each = 12, 15
	for i := range each {
		for r := range resources {
			p.Enqueue(sim.Event{DetailType: "ECS Task State Change", Resources: []string{fmt.Sprintf("task/%d", r)}, Time: epoch.Add(time.Duration(i) * time.Second),
				Detail: sim.TaskView{Version: int64(i + 1), TaskArn: fmt.Sprintf("task/%d", r)}})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	for counters.Published.Load() < resources*each && time.Now().Before(deadline) {
		<-tick.C
	}
	tick.Stop()
	cancel()
	<-done
	if got, pending := counters.Published.Load(), counters.Pending.Load(); got != resources*each || pending != 0 {
		t.Fatalf("published = %d, pending %d, want %d and 0", got, pending, resources*each)
	}
	last := map[string]int64{}
	for _, call := range fake.calls {
		for _, e := range call {
			var d struct {
				Version int64  `json:"version"`
				TaskARN string `json:"taskArn"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			if d.Version != last[d.TaskARN]+1 {
				t.Fatalf("%s: version %d published after %d, want each resource in order", d.TaskARN, d.Version, last[d.TaskARN])
			}
			last[d.TaskARN] = d.Version
		}
	}
	if got := counters.MaxLag(); got != 3*time.Second {
		t.Errorf("max lag = %v, want 3s (the oldest event, published at +3s)", got)
	}
}
