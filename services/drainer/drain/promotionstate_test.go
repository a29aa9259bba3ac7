package drain

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/update"
)

// fakeAWS is the drainer queue's tags and the clusters' instances.
type fakeAWS struct {
	mu        sync.Mutex
	tags      map[string]string
	instances map[string][]cluster.Instance
	lists     int
}

func (f *fakeAWS) ListQueueTags(_ context.Context, _ *sqs.ListQueueTagsInput, _ ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.tags {
		out[k] = v
	}
	return &sqs.ListQueueTagsOutput{Tags: out}, nil
}

func (f *fakeAWS) TagQueue(_ context.Context, in *sqs.TagQueueInput, _ ...func(*sqs.Options)) (*sqs.TagQueueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range in.Tags {
		f.tags[k] = v
	}
	return &sqs.TagQueueOutput{}, nil
}

func (f *fakeAWS) ListInstances(_ context.Context, c, _, _ string) ([]cluster.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if _, ok := f.instances[c]; !ok {
		return nil, cluster.ErrClusterNotFound
	}
	return f.instances[c], nil
}

// TestPromotionStoreReadsTheEarlierStages: the state of the stages before a job's comes from the
// instances' marks and the queue's tags, each read reused for maxAge; a halt is written once.
func TestPromotionStoreReadsTheEarlierStages(t *testing.T) {
	plan, err := promotion.ParsePlan(`[{"name":"staging","clusters":["staging","gone"],"bake":"30m"},{"name":"prod","clusters":["prod"]},{"name":"last","clusters":["last"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeAWS{
		tags: map[string]string{"rollwave:failures:staging": "1kq3c0/staging-failed/i-c"},
		instances: map[string][]cluster.Instance{
			"staging": {
				{EC2InstanceID: "i-a", Attributes: map[string]string{update.AttrVerifiedAt: "2026-06-02T09:10:00Z"}},
				{EC2InstanceID: "i-b", Attributes: map[string]string{update.AttrJob: "j-b", update.AttrStage: "draining"}},
			},
			"prod": {{EC2InstanceID: "i-p", Attributes: map[string]string{update.AttrVerifiedAt: "2026-06-02T09:50:00Z"}}},
		},
	}
	now := time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	s := newPromotionStore(plan, fake, fake, "https://sqs/drainer", time.Minute, func() time.Time { return now })
	p := update.Promotion{Stage: "last", Started: now.Add(-time.Hour), Earlier: []update.StageJobs{{Stage: "staging", Jobs: 2}, {Stage: "prod", Jobs: 1}}}
	got, err := s.Earlier(t.Context(), 2, p)
	if err != nil {
		t.Fatalf("Earlier: %v", err)
	}
	want := []promotion.Earlier{
		{Stage: plan.Stages[0], Jobs: 2, Marked: []string{"i-b"}, LastVerified: time.Date(2026, 6, 2, 9, 10, 0, 0, time.UTC),
			Failures: []promotion.Failure{{Cluster: "staging", Instance: "i-c", Code: "staging-failed", At: time.Unix(0x0, 0).UTC()}}},
		{Stage: plan.Stages[1], Jobs: 1, LastVerified: time.Date(2026, 6, 2, 9, 50, 0, 0, time.UTC)},
	}
	// The failure's time is whatever the tag says; compare it apart.
	if len(got) == 2 && len(got[0].Failures) == 1 {
		want[0].Failures[0].At = got[0].Failures[0].At
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Earlier() mismatch (-want +got):\n%s", diff)
	}
	lists := fake.lists
	if _, err := s.Earlier(t.Context(), 2, p); err != nil || fake.lists != lists {
		t.Errorf("a second look within maxAge listed instances %d more times (err %v), want the reads reused", fake.lists-lists, err)
	}

	h := promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "failed", Cluster: "staging", At: now, Message: "i-c failed"}
	for i, want := range []bool{true, false} {
		if got, err := s.RecordHalt(t.Context(), h); got != want || err != nil {
			t.Errorf("RecordHalt() #%d = %v, %v, want %v: a halt is recorded once", i+1, got, err, want)
		}
	}
	halts, err := s.Halts(t.Context())
	if err != nil || len(halts) != 1 || halts[0].Version != "1.20.3" {
		t.Errorf("Halts() = %+v, %v, want the recorded halt", halts, err)
	}
}

// TestPromotionHaltIsRecordedOnceByConcurrentLooks: the held jobs of one drainer that find the
// same halt at once record (and so announce) it once.
func TestPromotionHaltIsRecordedOnceByConcurrentLooks(t *testing.T) {
	plan, err := promotion.ParsePlan(`[{"name":"staging","clusters":["staging"]},{"name":"prod","clusters":["prod"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeAWS{tags: map[string]string{}, instances: map[string][]cluster.Instance{}}
	s := newPromotionStore(plan, fake, fake, "https://sqs/drainer", time.Minute, time.Now)
	h := promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "failed", Cluster: "staging", At: time.Now()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded := 0
	for range 8 {
		wg.Go(func() {
			ok, err := s.RecordHalt(t.Context(), h)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				recorded++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if recorded != 1 {
		t.Errorf("8 concurrent RecordHalt recorded the halt %d times, want 1", recorded)
	}
}
