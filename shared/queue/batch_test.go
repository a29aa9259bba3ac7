package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rollwave/rollwave/shared/queue"
)

func outgoing(n int) []queue.Outgoing {
	msgs := make([]queue.Outgoing, n)
	for i := range msgs {
		msgs[i] = queue.Outgoing{Body: []byte(fmt.Sprint("m", i))}
	}
	return msgs
}

func TestSendBatch(t *testing.T) {
	type failure struct {
		n           int
		code        string
		senderFault bool
	}
	tests := []struct {
		name     string
		messages int
		entries  []failure // entry failures queued before the send
		callErr  error     // the first call fails as a whole
		// wantCalls is how many SendMessageBatch calls the send makes; wantUnsent the messages
		// (1-based) the error names, each left without an ID.
		wantCalls  int
		wantUnsent []int
	}{
		{name: "ten per call", messages: 25, wantCalls: 3},
		{name: "server faults are sent again", messages: 12, entries: []failure{{2, "InternalError", false}}, wantCalls: 3},
		{name: "a sender fault is reported, not sent again", messages: 3, entries: []failure{{1, "InvalidMessageContents", true}}, wantCalls: 1, wantUnsent: []int{1}},
		{name: "a server fault that persists is reported after three sends", messages: 1, entries: []failure{{3, "InternalError", false}}, wantCalls: 3, wantUnsent: []int{1}},
		{name: "a failed call reports every message from it on", messages: 12, callErr: errors.New("connection reset"), wantCalls: 1, wantUnsent: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				for _, e := range tt.entries {
					f.sqs.FailNextEntries("SendMessageBatch", e.n, e.code, e.senderFault)
				}
				if tt.callErr != nil {
					f.sqs.FailNext("SendMessageBatch", tt.callErr)
				}
				ids, err := queue.NewPublisher(f.sqs).SendBatch(t.Context(), f.cfg.QueueURL, outgoing(tt.messages))
				if got := f.sqs.Calls("SendMessageBatch"); got != tt.wantCalls {
					t.Errorf("SendMessageBatch calls = %d, want %d", got, tt.wantCalls)
				}
				var unsent []int
				for i, id := range ids {
					if id == "" {
						unsent = append(unsent, i+1)
					}
				}
				if diff := cmp.Diff(tt.wantUnsent, unsent); diff != "" {
					t.Errorf("messages without an ID (-want +got):\n%s", diff)
				}
				for _, i := range tt.wantUnsent {
					if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("message %d of %d", i, tt.messages)) {
						t.Errorf("SendBatch() error = %v, want one naming message %d of %d", err, i, tt.messages)
					}
				}
				if len(tt.wantUnsent) == 0 && err != nil {
					t.Errorf("SendBatch() error = %v, want nil", err)
				}
				var bodies []string
				for _, m := range f.sqs.Messages(f.cfg.QueueURL) {
					bodies = append(bodies, m.Body)
				}
				var want []string
				for i := range tt.messages {
					if ids[i] != "" {
						want = append(want, fmt.Sprint("m", i))
					}
				}
				if diff := cmp.Diff(want, bodies, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
					t.Errorf("queue holds (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Messages settled together are deleted in one call; an entry that fails is only delivered again
// and deleted then: nothing is lost and nothing is handled as deleted that was not.
func TestWorkerDeletesInBatches(t *testing.T) {
	tests := []struct {
		name           string
		failedEntries  int
		wantDeliveries int
	}{
		{"ten done together, one call", 0, 10},
		{"a failed entry is delivered again", 1, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				f.cfg.Concurrency = 10
				f.cfg.DeleteWait = 50 * time.Millisecond
				f.sqs.FailNextEntries("DeleteMessageBatch", tt.failedEntries, "InternalError", false)
				if _, err := queue.NewPublisher(f.sqs).SendBatch(t.Context(), f.cfg.QueueURL, outgoing(10)); err != nil {
					t.Fatal(err)
				}
				var mu sync.Mutex
				deliveries := 0
				stop := f.start(t, func(context.Context, queue.Message) queue.Outcome {
					mu.Lock()
					deliveries++
					mu.Unlock()
					return queue.Done()
				}, testLog(t))
				advance(f.cfg.VisibilityTimeout + time.Second) // any failed delete shows again
				advance(time.Second)
				if err := stop(); err != nil {
					t.Errorf("Run() = %v", err)
				}
				if got := f.sqs.Messages(f.cfg.QueueURL); len(got) != 0 {
					t.Errorf("queue holds %+v, want it empty", got)
				}
				if deliveries != tt.wantDeliveries {
					t.Errorf("handled %d deliveries, want %d", deliveries, tt.wantDeliveries)
				}
				if got := f.sqs.Calls("DeleteMessageBatch"); got != 1 {
					t.Errorf("DeleteMessageBatch calls = %d, want 1", got)
				}
				if got, want := f.sqs.Calls("DeleteMessage"), tt.failedEntries; got != want {
					t.Errorf("DeleteMessage calls = %d, want %d (the redelivered message, alone)", got, want)
				}
			})
		})
	}
}
