package pause_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/pause"
)

func TestKey(t *testing.T) {
	tests := []struct {
		cluster, want string
		wantErr       bool
	}{
		{"", "rollwave:paused", false},
		{"prod", "rollwave:paused:prod", false},
		{"arn:aws:ecs:us-east-1:123456789012:cluster/prod", "rollwave:paused:prod", false},
		{strings.Repeat("c", 112), "rollwave:paused:" + strings.Repeat("c", 112), false},
		{strings.Repeat("c", 113), "", true},
	}
	for _, tt := range tests {
		got, err := pause.Key(tt.cluster)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Key(%q) = %q, %v, want %q, error %v", tt.cluster, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValue(t *testing.T) {
	tests := []struct{ who, reason, want string }{
		{"alice", "CVE triage", "alice: CVE triage"},
		{"alice@example.com", "ticket OPS-1234 (see #ops), please wait", "alice@example.com: ticket OPS-1234 see ops please wait"},
		{" bob ", "line one\nline two", "bob: line one line two"},
		{"bob", strings.Repeat("x", 300), "bob: " + strings.Repeat("x", 251)},
	}
	for _, tt := range tests {
		if got := pause.Value(tt.who, tt.reason); got != tt.want {
			t.Errorf("Value(%q, %q) = %q, want %q", tt.who, tt.reason, got, tt.want)
		}
	}
}

func TestStatePaused(t *testing.T) {
	tests := []struct {
		name    string
		tags    map[string]string
		cluster string
		want    pause.Info
		paused  bool
	}{
		{"no tags pause nothing", nil, "prod", pause.Info{}, false},
		{"other tags are ignored", map[string]string{"team": "ops", "rollwave:paused:": "x"}, "prod", pause.Info{}, false},
		{"a cluster's tag pauses it", map[string]string{"rollwave:paused:prod": "alice: CVE"}, "prod",
			pause.Info{Cluster: "prod", Who: "alice", Reason: "CVE"}, true},
		{"by ARN too", map[string]string{"rollwave:paused:prod": "alice: CVE"}, "arn:aws:ecs:us-east-1:1:cluster/prod",
			pause.Info{Cluster: "prod", Who: "alice", Reason: "CVE"}, true},
		{"and not another cluster", map[string]string{"rollwave:paused:prod": "alice: CVE"}, "staging", pause.Info{}, false},
		{"the global tag pauses every cluster", map[string]string{"rollwave:paused": "bob: freeze"}, "staging",
			pause.Info{All: true, Who: "bob", Reason: "freeze"}, true},
		{"the global pause wins over a cluster's", map[string]string{"rollwave:paused": "bob: freeze", "rollwave:paused:prod": "alice: CVE"}, "prod",
			pause.Info{All: true, Who: "bob", Reason: "freeze"}, true},
		{"a value set by hand without who is the reason", map[string]string{"rollwave:paused:prod": "maintenance"}, "prod",
			pause.Info{Cluster: "prod", Reason: "maintenance"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pause.Parse(tt.tags).Paused(tt.cluster)
			if ok != tt.paused || !cmp.Equal(got, tt.want) {
				t.Errorf("Paused(%q) = %+v, %v, want %+v, %v", tt.cluster, got, ok, tt.want, tt.paused)
			}
		})
	}
}

func TestStateAll(t *testing.T) {
	s := pause.Parse(map[string]string{"rollwave:paused:b": "x: 1", "rollwave:paused": "y: 2", "rollwave:paused:a": "z: 3"})
	want := []pause.Info{{All: true, Who: "y", Reason: "2"}, {Cluster: "a", Who: "z", Reason: "3"}, {Cluster: "b", Who: "x", Reason: "1"}}
	if diff := cmp.Diff(want, s.All()); diff != "" {
		t.Errorf("All() (-want +got):\n%s", diff)
	}
}

// tags is an in-memory queue's tags that counts ListQueueTags calls and can be told to fail.
type tags struct {
	mu    sync.Mutex
	tags  map[string]string
	lists int
	fail  error
}

func (f *tags) TagQueue(_ context.Context, in *sqs.TagQueueInput, _ ...func(*sqs.Options)) (*sqs.TagQueueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tags == nil {
		f.tags = map[string]string{}
	}
	for k, v := range in.Tags {
		f.tags[k] = v
	}
	return &sqs.TagQueueOutput{}, nil
}

func (f *tags) ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[string]string{}
	for k, v := range f.tags {
		out[k] = v
	}
	return &sqs.ListQueueTagsOutput{Tags: out}, nil
}

func TestCacheReadsAtMostOncePerMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		q := &tags{}
		c := pause.NewCache(q, "url", 5*time.Second)
		if _, paused, err := c.Paused(ctx, "prod"); paused || err != nil {
			t.Fatalf("Paused(prod) = %v, %v before any pause, want false, nil", paused, err)
		}
		if err := pause.Set(ctx, q, "url", "prod", "alice", "CVE"); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if _, paused, _ := c.Paused(ctx, "prod"); paused {
				t.Fatal("Paused(prod) = true within maxAge of the last read, want the cached false")
			}
		}
		if q.lists != 1 {
			t.Errorf("ListQueueTags calls = %d within maxAge, want 1", q.lists)
		}
		time.Sleep(5 * time.Second) // synctest's fake clock
		info, paused, err := c.Paused(ctx, "prod")
		if !paused || err != nil || info.Who != "alice" {
			t.Errorf("Paused(prod) = %+v, %v, %v after maxAge, want alice's pause", info, paused, err)
		}
		if q.lists != 2 {
			t.Errorf("ListQueueTags calls = %d, want 2", q.lists)
		}
	})
}

func TestCacheDoesNotCacheAFailedRead(t *testing.T) {
	ctx := context.Background()
	q := &tags{fail: errors.New("throttled")}
	c := pause.NewCache(q, "url", time.Hour)
	if _, _, err := c.Paused(ctx, "prod"); err == nil {
		t.Fatal("Paused = nil error when ListQueueTags fails, want the error")
	}
	q.fail = nil
	q.tags = map[string]string{pause.GlobalKey: "bob: freeze"}
	if _, paused, err := c.Paused(ctx, "prod"); !paused || err != nil {
		t.Errorf("Paused(prod) = %v, %v after the failure cleared, want true, nil", paused, err)
	}
}

func TestSetRequiresAReason(t *testing.T) {
	if err := pause.Set(context.Background(), &tags{}, "url", "prod", "alice", " "); err == nil {
		t.Error("Set with an empty reason = nil, want an error")
	}
}
