package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// update is the steps of one instance's update whose drain starts at s seconds.
func update(s int) []Step {
	return []Step{
		{Kind: Staging, Start: at(s - 40), End: at(s - 30)},
		{Kind: Waiting, Start: at(s - 30), End: at(s)},
		{Kind: Drain, Start: at(s), End: at(s + 30)},
		{Kind: Waiting, Start: at(s + 30), End: at(s + 32)},
		{Kind: Reboot, Start: at(s + 32), End: at(s + 50)},
		{Kind: Verify, Start: at(s + 50), End: at(s + 55)},
	}
}

// sample is the rollout the tests draw: prod (limit 1) updates two instances one after the
// other and skips a third; staging (limit 1) updates one.
func sample() Rollout {
	return Rollout{
		Title: "rollout of prod, staging",
		Start: at(0), End: at(300),
		Instances: []Instance{
			{Cluster: "prod", ID: "i-0000000000000001", Outcome: Updated, Detail: "1.19.5 → 1.20.3", Steps: update(60)},
			{Cluster: "prod", ID: "i-0000000000000002", Outcome: Updated, Detail: "1.19.5 → 1.20.3", Steps: update(120)},
			{Cluster: "prod", ID: "i-0000000000000003", Outcome: Skipped, Detail: "a task that no service started runs there (standalone-task)"},
			{Cluster: "staging", ID: "i-0000000000000004", Outcome: Updated, Detail: "1.19.5 → 1.20.3", Steps: update(200)},
		},
		Clusters: []Cluster{{Name: "prod", Limit: 1}, {Name: "staging", Limit: 1}},
	}
}

func TestOutOfServiceFromSteps(t *testing.T) {
	r := sample()
	r.Instances[1].Steps = update(70) // overlaps the first: two out of service at once
	got := OutOfServiceFromSteps(r.Instances, "prod")
	want := []Sample{{T: at(60), Count: 1}, {T: at(70), Count: 2}, {T: at(115), Count: 1}, {T: at(125), Count: 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OutOfServiceFromSteps(prod) mismatch (-want +got):\n%s", diff)
	}
	if got := OutOfServiceFromSteps(r.Instances, "nowhere"); got != nil {
		t.Errorf("OutOfServiceFromSteps(nowhere) = %v, want nil", got)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	r := sample()
	r.Instances[0].Steps = append(r.Instances[0].Steps, Step{Kind: "coffee", Start: at(1), End: at(2)})
	r.Instances[1].Steps = append(r.Instances[1].Steps, Step{Kind: Drain, Start: at(10), End: at(5)})
	r.Instances[2].ID = ""
	err := r.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want three problems")
	}
	for _, want := range []string{`step kind "coffee"`, "drain step ends", "instance 2 of cluster \"prod\" has no ID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to mention %q", err, want)
		}
	}
	if err := sample().Validate(); err != nil {
		t.Errorf("Validate(sample) = %v, want nil", err)
	}
	if err := WriteHTML(&strings.Builder{}, r); err == nil {
		t.Error("WriteHTML(invalid rollout) = nil, want the problems")
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		span time.Duration
		want []string
	}{
		{5 * time.Minute, []string{"0s", "30s", "1m", "1m30s", "2m", "2m30s", "3m", "3m30s", "4m", "4m30s", "5m"}},
		{90 * time.Minute, []string{"0s", "10m", "20m", "30m", "40m", "50m", "1h", "1h10m", "1h20m", "1h30m"}},
		{7 * time.Second, []string{"0s", "1s", "2s", "3s", "4s", "5s", "6s", "7s"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tick := range ticks(t0, t0.Add(tt.span)) {
			got = append(got, elapsed(tick.Sub(t0)))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ticks over %s mismatch (-want +got):\n%s", tt.span, diff)
		}
	}
}

// TestPageOfAHistory is a rollout whose source recorded each job's start and end only: the job
// bar and the legend's note, and each cluster's chart replaced by why it is not drawn.
func TestPageOfAHistory(t *testing.T) {
	r := Rollout{
		Instances: []Instance{{Cluster: "prod", ID: "i-1", Outcome: Updated, Steps: []Step{
			{Kind: Job, Start: at(0), End: at(30)}, {Kind: Waiting, Start: at(30), End: at(90)}, {Kind: Job, Start: at(90), End: at(200)},
		}}},
		Clusters: []Cluster{{Name: "prod", Limit: 1, Unrecorded: "the history keeps each job's start and end"}},
	}
	var b strings.Builder
	if err := WriteHTML(&b, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	page := b.String()
	for _, want := range []string{
		`<rect class="bar job"`, `<rect class="bar waiting"`,
		"(job: the steps between its start and its end were not recorded)",
		`<p class="unrecorded">Not drawn: the history keeps each job&#39;s start and end</p>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not hold %s", want)
		}
	}
	if strings.Contains(page, `class="cluster"`) {
		t.Error("the page draws an out-of-service chart the source did not record")
	}
	b.Reset()
	if err := WriteHTML(&b, sample()); err != nil || strings.Contains(b.String(), "></i>job</span>") {
		t.Errorf("the legend of a rollout without job bars shows the job kind (%v)", err)
	}
}
