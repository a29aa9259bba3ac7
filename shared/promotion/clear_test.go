package promotion_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/promotion"
)

// tags is a queue's tags.
type tags map[string]string

func (t tags) ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	return &sqs.ListQueueTagsOutput{Tags: maps.Clone(t)}, nil
}

func (t tags) UntagQueue(_ context.Context, in *sqs.UntagQueueInput, _ ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error) {
	for _, k := range in.TagKeys {
		delete(t, k)
	}
	return &sqs.UntagQueueOutput{}, nil
}

// TestClearHalts: resuming a cluster clears the halts of its failures and its error budget
// count, which would halt the promotion again; resuming every cluster clears every halt.
func TestClearHalts(t *testing.T) {
	at := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	failed := promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "failed", Cluster: "staging", At: at, Message: "i-b failed"}
	alarm := promotion.Halt{Stage: "eu", Version: "1.20.3", Reason: "alarm", At: at, Message: "web-5xx"}
	fresh := func() tags {
		return tags{failed.Key(): failed.Value(), alarm.Key(): alarm.Value(), "rollwave:failures:staging": "1/staging-failed/i-b", "rollwave:paused:prod": "alice: no"}
	}
	tests := []struct {
		cluster     string
		wantCleared []string
		wantLeft    []string
	}{
		{"staging", []string{"staging"}, []string{"rollwave:paused:prod", "rollwave:promotion-halted:eu"}},
		{"arn:aws:ecs:eu-west-1:123456789012:cluster/staging", []string{"staging"}, []string{"rollwave:paused:prod", "rollwave:promotion-halted:eu"}},
		{"prod", nil, []string{"rollwave:failures:staging", "rollwave:paused:prod", "rollwave:promotion-halted:eu", "rollwave:promotion-halted:staging"}},
		{"", []string{"eu", "staging"}, []string{"rollwave:paused:prod"}},
	}
	for _, tt := range tests {
		tg := fresh()
		got, err := promotion.ClearHalts(t.Context(), tg, "https://sqs/drainer", tt.cluster)
		if err != nil {
			t.Fatalf("ClearHalts(%q): %v", tt.cluster, err)
		}
		var stages []string
		for _, h := range got {
			stages = append(stages, h.Stage)
		}
		if diff := cmp.Diff(tt.wantCleared, stages); diff != "" {
			t.Errorf("ClearHalts(%q) cleared (-want +got):\n%s", tt.cluster, diff)
		}
		if diff := cmp.Diff(tt.wantLeft, slices.Sorted(maps.Keys(tg))); diff != "" {
			t.Errorf("ClearHalts(%q) left the tags (-want +got):\n%s", tt.cluster, diff)
		}
	}
}
