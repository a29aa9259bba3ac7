package budget_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

func TestLimitValidate(t *testing.T) {
	tests := []struct {
		l       budget.Limit
		wantErr bool
	}{
		{budget.Default, false},
		{budget.Limit{Failures: budget.MaxFailures, Window: time.Minute}, false},
		{budget.Limit{Failures: 0, Window: time.Hour}, true},
		{budget.Limit{Failures: budget.MaxFailures + 1, Window: time.Hour}, true},
		{budget.Limit{Failures: 2, Window: time.Second}, true},
	}
	for _, tt := range tests {
		if err := tt.l.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%+v.Validate() = %v, want error %t", tt.l, err, tt.wantErr)
		}
	}
	if s := budget.Default.String(); s != "2/1h" {
		t.Errorf("Default.String() = %q, want 2/1h", s)
	}
}

func TestNewTakesEachClustersPolicy(t *testing.T) {
	set, err := policy.Load(func(k string) string {
		return map[string]string{
			"ROLLWAVE_ERROR_BUDGET_FAILURES": "3",
			policy.Env:                       `{"prod":{"errorBudget":{"failures":1,"window":"30m"}}}`,
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	// policy.Load refuses more than MaxFailures; a Set built by hand is held to it.
	set.Clusters["big"] = policy.Policy{ErrorBudget: policy.ErrorBudget{Failures: 50, Window: time.Hour}}
	b := budget.New(nil, "q", nil, set)
	for c, want := range map[string]budget.Limit{
		"prod":    {Failures: 1, Window: 30 * time.Minute},
		"staging": {Failures: 3, Window: time.Hour},
		"big":     {Failures: budget.MaxFailures, Window: time.Hour},
	} {
		if got := b.LimitFor(c); got != want {
			t.Errorf("LimitFor(%s) = %+v, want %+v", c, got, want)
		}
	}
}

func TestCounts(t *testing.T) {
	tests := []struct {
		o    update.Outcome
		want bool
	}{
		{update.Failed(update.CodeStagingFailed, "apply failed"), true},
		{update.Failed(update.CodeDrainTimeout, "2 tasks left"), true},
		{update.Failed(update.CodeBootFailedRolledBack, "booted 1.19.5"), true},
		{update.Failed(update.CodeNeverCameBack, "no agent"), true},
		{update.Skipped(update.CodeDryRun, "would"), false},
		{update.Skipped(update.CodeStandaloneTask, "batch"), false},
		{update.Skipped(update.CodeOptedOut, "rollwave.optout"), false},
		{update.Duplicate("j-2"), false},
		{update.Updated("1.19.5", "1.20.3"), false},
		// Only a job that owns its instance spends the budget.
		{update.Skipped(update.CodeInstanceGone, "deregistered"), false},
		{update.Failed(update.CodeInstanceGone, "cluster deleted"), false},
		{update.Skipped(update.CodeNotOwner, "forged"), false},
		{update.Skipped(update.CodeStaleJob, "redriven"), false},
		{update.Failed(update.CodeStaleJob, "reported as failed by mistake"), false},
	}
	for _, tt := range tests {
		if got := budget.Counts(tt.o); got != tt.want {
			t.Errorf("Counts(%s) = %t, want %t", tt.o, got, tt.want)
		}
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestFormatParseRoundTripAndFit(t *testing.T) {
	var entries []budget.Entry
	for i := range budget.MaxFailures {
		entries = append(entries, budget.Entry{At: t0.Add(-time.Duration(i) * time.Minute), Code: update.CodeBootFailedRolledBack, Instance: "i-0123456789abcdef" + string(rune('0'+i))})
	}
	for n := 1; n <= len(entries); n++ {
		v := budget.Format(entries[:n])
		if len(v) > 256 {
			t.Fatalf("Format(%d entries) is %d characters, want at most 256", n, len(v))
		}
		got := budget.Parse(v)
		if len(got) != n {
			t.Fatalf("Parse(Format(%d entries)) = %d entries (%q): every entry must fit", n, len(got), v)
		}
		if n <= 5 && !cmp.Equal(got, entries[:n]) {
			t.Errorf("Parse(Format(%d entries)) = %+v, want every entry with its instance", n, got)
		}
	}
	if got := budget.Parse("junk 1/x/i-1 zz/"); len(got) != 1 {
		t.Errorf("Parse(junk) = %+v, want the one readable entry", got)
	}
}

func TestAdd(t *testing.T) {
	old := budget.Entry{At: t0.Add(-2 * time.Hour), Code: update.CodeDrainTimeout, Instance: "i-old"}
	a := budget.Entry{At: t0.Add(-time.Minute), Code: update.CodeStagingFailed, Instance: "i-a"}
	tests := []struct {
		name string
		in   []budget.Entry
		add  budget.Entry
		want []budget.Entry
	}{
		{"first failure", nil, a, []budget.Entry{a}},
		{"entries outside the window are dropped", []budget.Entry{old}, a, []budget.Entry{a}},
		{"the same failure again counts once (a retried End)", []budget.Entry{a},
			budget.Entry{At: t0, Code: a.Code, Instance: "i-a"}, []budget.Entry{a}},
		{"another failure of the same instance counts", []budget.Entry{a},
			budget.Entry{At: t0, Code: update.CodeNeverCameBack, Instance: "i-a"},
			[]budget.Entry{{At: t0, Code: update.CodeNeverCameBack, Instance: "i-a"}, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, budget.Add(tt.in, tt.add, time.Hour, t0)); diff != "" {
				t.Errorf("Add() (-want +got):\n%s", diff)
			}
		})
	}
}

// queueTags is an SQS queue's tags, with an optional interleaving writer.
type queueTags struct {
	mu   sync.Mutex
	tags map[string]string
	// afterTag runs once after the next TagQueue, as another worker writing in between.
	afterTag func(map[string]string)
	failTag  error
	untagged [][]string
}

func (q *queueTags) ListQueueTags(_ context.Context, _ *sqs.ListQueueTagsInput, _ ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]string{}
	for k, v := range q.tags {
		out[k] = v
	}
	return &sqs.ListQueueTagsOutput{Tags: out}, nil
}

func (q *queueTags) TagQueue(_ context.Context, in *sqs.TagQueueInput, _ ...func(*sqs.Options)) (*sqs.TagQueueOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failTag != nil {
		err := q.failTag
		q.failTag = nil
		return nil, err
	}
	if q.tags == nil {
		q.tags = map[string]string{}
	}
	for k, v := range in.Tags {
		q.tags[k] = v
	}
	if f := q.afterTag; f != nil {
		q.afterTag = nil
		f(q.tags)
	}
	return &sqs.TagQueueOutput{}, nil
}

func (q *queueTags) UntagQueue(_ context.Context, in *sqs.UntagQueueInput, _ ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.untagged = append(q.untagged, in.TagKeys)
	for _, k := range in.TagKeys {
		delete(q.tags, k)
	}
	return &sqs.UntagQueueOutput{}, nil
}

type published struct {
	mu     sync.Mutex
	halted []notify.HaltedDetail
}

func (p *published) Publish(_ context.Context, detailType string, detail any, _ ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if detailType == notify.ClusterRolloutHalted {
		p.halted = append(p.halted, detail.(notify.HaltedDetail))
	}
	return nil
}

func newBudget(limits map[string]budget.Limit) (*budget.Budget, *queueTags, *published, *time.Time) {
	q := &queueTags{tags: map[string]string{"team": "ops"}}
	ev := &published{}
	now := t0
	b := &budget.Budget{Tags: q, QueueURL: "drainer", Events: ev, Now: func() time.Time { return now }}
	if limits != nil {
		b.LimitFor = func(c string) budget.Limit {
			if l, ok := limits[c]; ok {
				return l
			}
			return budget.Default
		}
	}
	return b, q, ev, &now
}

func failed(cluster, instance string, code update.Code) (update.Job, update.Outcome) {
	return update.Job{ID: "j-" + instance, Cluster: cluster, Instance: instance, EC2InstanceID: instance}, update.Failed(code, "it failed")
}

func paused(t *testing.T, q *queueTags, cluster string) (pause.Info, bool) {
	t.Helper()
	s, err := pause.Read(t.Context(), q, "drainer")
	if err != nil {
		t.Fatal(err)
	}
	return s.Paused(cluster)
}

func TestTwoFailuresWithinTheWindowHaltTheCluster(t *testing.T) {
	b, q, ev, now := newBudget(nil)
	ctx := t.Context()
	if err := b.Record(ctx, update.Job{Cluster: "prod", Instance: "i-skip"}, update.Skipped(update.CodeStandaloneTask, "batch")); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(ctx, update.Job{Cluster: "prod", Instance: "i-dry", DryRun: true}, update.Failed(update.CodeStagingFailed, "x")); err != nil {
		t.Fatal(err)
	}
	if _, ok := q.tags[budget.KeyPrefix+"prod"]; ok {
		t.Fatalf("tags after a skip and a dry run = %v, want no failures recorded", q.tags)
	}
	job, o := failed("prod", "i-0a", update.CodeBootFailedRolledBack)
	for range 2 { // a retried End counts once
		if err := b.Record(ctx, job, o); err != nil {
			t.Fatal(err)
		}
	}
	if i, ok := paused(t, q, "prod"); ok {
		t.Fatalf("prod paused after one failure: %v", i)
	}
	*now = now.Add(10 * time.Minute)
	job, o = failed("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "i-0b", update.CodeNeverCameBack)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	i, ok := paused(t, q, "prod")
	want := "error budget: 2 failed updates within 1h: i-0b never-came-back / i-0a boot-failed-rolled-back"
	if !ok || i.Who != budget.HaltedBy || i.Reason != want {
		t.Fatalf("pause of prod = %+v, %t; want by %q: %q", i, ok, budget.HaltedBy, want)
	}
	if len(ev.halted) != 1 {
		t.Fatalf("halted events = %+v, want one", ev.halted)
	}
	h := ev.halted[0]
	if h.Cluster != "prod" || h.Reason != "error-budget" || !cmp.Equal(h.Instances, []string{"i-0b", "i-0a"}) ||
		!cmp.Equal(h.JobIDs, []string{"j-i-0b"}) || !strings.Contains(h.Message, "i-0b never-came-back, i-0a boot-failed-rolled-back") {
		t.Errorf("halted event = %+v", h)
	}
	// A third failure (or a retry) does not halt again.
	job, o = failed("prod", "i-0c", update.CodeDrainTimeout)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	if len(ev.halted) != 1 {
		t.Errorf("halted events after a third failure = %d, want still 1", len(ev.halted))
	}
	if q.tags["team"] != "ops" {
		t.Errorf("the queue's other tags changed: %v", q.tags)
	}
}

func TestResumeResetsTheBudget(t *testing.T) {
	b, q, ev, now := newBudget(nil)
	ctx := t.Context()
	for _, id := range []string{"i-0a", "i-0b"} {
		job, o := failed("prod", id, update.CodeBootFailedRolledBack)
		if err := b.Record(ctx, job, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := paused(t, q, "prod"); !ok {
		t.Fatal("prod not halted after two failures")
	}
	if err := pause.Clear(ctx, q, "drainer", "prod"); err != nil {
		t.Fatal(err)
	}
	if _, ok := paused(t, q, "prod"); ok {
		t.Fatal("prod still paused after the resume")
	}
	*now = now.Add(time.Minute)
	job, o := failed("prod", "i-0c", update.CodeStagingFailed)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	if i, ok := paused(t, q, "prod"); ok {
		t.Errorf("one failure after the resume halted prod again: %v", i)
	}
	if len(ev.halted) != 1 {
		t.Errorf("halted events = %d, want 1", len(ev.halted))
	}
}

func TestFailuresOutsideTheWindowDoNotHalt(t *testing.T) {
	b, q, _, now := newBudget(nil)
	ctx := t.Context()
	job, o := failed("prod", "i-0a", update.CodeBootFailedRolledBack)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(61 * time.Minute)
	job, o = failed("prod", "i-0b", update.CodeBootFailedRolledBack)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	if i, ok := paused(t, q, "prod"); ok {
		t.Errorf("prod halted by failures 61m apart with a 1h window: %v", i)
	}
	if got := budget.Parse(q.tags[budget.KeyPrefix+"prod"]); len(got) != 1 {
		t.Errorf("failures tag = %q, want only the recent failure", q.tags[budget.KeyPrefix+"prod"])
	}
}

func TestLimitPerCluster(t *testing.T) {
	b, q, _, _ := newBudget(map[string]budget.Limit{"batch": {}, "prod": {Failures: 1, Window: time.Hour}})
	ctx := t.Context()
	for _, c := range []string{"batch", "staging", "prod"} {
		job, o := failed(c, "i-0a", update.CodeDrainTimeout)
		if err := b.Record(ctx, job, o); err != nil {
			t.Fatal(err)
		}
	}
	for c, want := range map[string]bool{"batch": false, "staging": false, "prod": true} {
		if _, ok := paused(t, q, c); ok != want {
			t.Errorf("%s halted = %t after one failure, want %t", c, ok, want)
		}
	}
	if _, ok := q.tags[budget.KeyPrefix+"batch"]; ok {
		t.Error("a cluster whose budget is off has its failures recorded")
	}
}

func TestAFailureOverwrittenByAnotherWriterIsWrittenAgain(t *testing.T) {
	b, q, _, _ := newBudget(nil)
	ctx := t.Context()
	// Another worker that read the tag before our write writes its own failure over ours.
	other := budget.Format([]budget.Entry{{At: t0, Code: update.CodeDrainTimeout, Instance: "i-other"}})
	q.afterTag = func(tags map[string]string) { tags[budget.KeyPrefix+"prod"] = other }
	job, o := failed("prod", "i-0a", update.CodeBootFailedRolledBack)
	if err := b.Record(ctx, job, o); err != nil {
		t.Fatal(err)
	}
	got := budget.Parse(q.tags[budget.KeyPrefix+"prod"])
	if len(got) != 2 {
		t.Fatalf("failures = %+v, want both writers' failures", got)
	}
	if _, ok := paused(t, q, "prod"); !ok {
		t.Error("prod not halted by the two failures")
	}
}

func TestATagErrorIsReturned(t *testing.T) {
	b, q, _, _ := newBudget(nil)
	q.failTag = errors.New("throttled")
	job, o := failed("prod", "i-0a", update.CodeBootFailedRolledBack)
	if err := b.Record(t.Context(), job, o); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("Record() with a failing TagQueue = %v, want the error", err)
	}
}
