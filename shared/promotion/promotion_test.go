package promotion_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/promotion"
)

func TestParsePlan(t *testing.T) {
	got, err := promotion.ParsePlan(`[{"name":"staging","clusters":["staging"],"bake":"30m"},
		{"name":"prod-eu","clusters":["arn:aws:ecs:eu-west-1:123456789012:cluster/prod-eu-1","prod-eu-2"],"bake":"1h"},
		{"name":"prod-us","clusters":["prod-us"]}]`)
	if err != nil {
		t.Fatalf("ParsePlan: %v", err)
	}
	want := promotion.Plan{Stages: []promotion.Stage{
		{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute},
		{Name: "prod-eu", Clusters: []string{"prod-eu-1", "prod-eu-2"}, Bake: time.Hour},
		{Name: "prod-us", Clusters: []string{"prod-us"}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParsePlan() mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ cluster, stage string }{{"prod-eu-1", "prod-eu"}, {"arn:aws:ecs:us-east-1:123456789012:cluster/prod-us", "prod-us"}, {"staging", "staging"}} {
		i, ok := got.StageOf(tt.cluster)
		if !ok || got.Stages[i].Name != tt.stage {
			t.Errorf("StageOf(%q) = %d, %v, want stage %s", tt.cluster, i, ok, tt.stage)
		}
	}
	if _, ok := got.StageOf("batch"); ok {
		t.Errorf("StageOf(batch) found a stage, want none: batch is in no stage")
	}
	for stage, want := range [][]string{nil, {"staging"}, {"staging", "prod-eu-1", "prod-eu-2"}} {
		if got := got.ClustersBefore(stage); !cmp.Equal(got, want) {
			t.Errorf("ClustersBefore(%d) = %v, want %v", stage, got, want)
		}
	}
	if p, err := promotion.ParsePlan(" "); err != nil || !p.IsZero() {
		t.Errorf("ParsePlan(blank) = %v, %v, want the zero plan", p, err)
	}
}

// TestParsePlanListsEveryProblem: a plan is refused with each of its problems named.
func TestParsePlanListsEveryProblem(t *testing.T) {
	_, err := promotion.ParsePlan(`[{"name":"staging","clusters":["a"],"bake":"soon"},
		{"name":"staging","clusters":["a","b c"]},
		{"name":"bad name!","clusters":[],"bake":"-1m"}]`)
	if err == nil {
		t.Fatal("ParsePlan accepted a plan with six problems")
	}
	for _, want := range []string{
		`stage "staging": bake "soon" is not a duration`,
		`stage 2: name "staging" given twice`,
		`cluster a is already in stage "staging"`,
		`cluster "b c" is neither a cluster name nor a cluster ARN`,
		`stage 3: name "bad name!"`,
		`stage 3: no clusters`,
		`stage 3: bake -1m0s is negative`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePlan() error = %v\nwant it to say %q", err, want)
		}
	}
	for _, bad := range []string{`[]`, `{"name":"x"}`, `[{"name":"x","clusters":["a"],"bakeTime":"1m"}]`} {
		if _, err := promotion.ParsePlan(bad); err == nil {
			t.Errorf("ParsePlan(%s) accepted it, want an error", bad)
		}
	}
}

// TestCheck: the rules by which a stage starts on a version, as a table.
func TestCheck(t *testing.T) {
	start := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	staging := promotion.Stage{Name: "staging", Clusters: []string{"staging"}, Bake: 30 * time.Minute}
	eu := promotion.Stage{Name: "prod-eu", Clusters: []string{"prod-eu"}, Bake: time.Hour}
	verified := start.Add(10 * time.Minute)
	done := promotion.Earlier{Stage: staging, Jobs: 2, LastVerified: verified}
	tests := []struct {
		name    string
		earlier []promotion.Earlier
		firing  []string
		now     time.Time
		want    promotion.Verdict
	}{
		{"the first stage starts at once", nil, nil, start,
			promotion.Verdict{Go: true, Why: "first stage"}},
		{"a stage still updating holds the next", []promotion.Earlier{{Stage: staging, Jobs: 2, Marked: []string{"i-b"}, LastVerified: verified}}, nil, verified,
			promotion.Verdict{Why: "stage staging is still taking 1.20.3: 1 instances with a job (i-b)"}},
		{"jobs not taken yet are not jobs done", []promotion.Earlier{{Stage: staging, Jobs: 2}}, nil, start.Add(time.Minute),
			promotion.Verdict{Why: "stage staging has not taken 1.20.3 yet: none of its 2 jobs verified"}},
		{"a verification of an older rollout does not count", []promotion.Earlier{{Stage: staging, Jobs: 1, LastVerified: start.Add(-time.Hour)}}, nil, start.Add(time.Minute),
			promotion.Verdict{Why: "stage staging has not taken 1.20.3 yet: none of its 1 jobs verified"}},
		{"a stage bakes from its last verification", []promotion.Earlier{done}, nil, verified.Add(20 * time.Minute),
			promotion.Verdict{Until: verified.Add(30 * time.Minute), Why: "stage staging is baking 1.20.3 until 2026-06-02T09:40:00Z (10m0s left)"}},
		{"baked, the next stage starts", []promotion.Earlier{done}, nil, verified.Add(30 * time.Minute),
			promotion.Verdict{Go: true, Why: "stages staging baked on 1.20.3"}},
		{"a stage that needed no job bakes from the start", []promotion.Earlier{{Stage: staging}}, nil, start.Add(29 * time.Minute),
			promotion.Verdict{Until: start.Add(30 * time.Minute), Why: "stage staging is baking 1.20.3 until 2026-06-02T09:30:00Z (1m0s left)"}},
		{"every earlier stage must have baked", []promotion.Earlier{done, {Stage: eu, Jobs: 1, LastVerified: verified.Add(40 * time.Minute)}}, nil, verified.Add(50 * time.Minute),
			promotion.Verdict{Until: verified.Add(100 * time.Minute), Why: "stage prod-eu is baking 1.20.3 until 2026-06-02T10:50:00Z (50m0s left)"}},
		{"a failure in a stage halts the promotion there", []promotion.Earlier{{Stage: staging, Jobs: 2, Marked: []string{"i-b"}, Failures: []promotion.Failure{
			{Cluster: "staging", Instance: "i-b", Code: "staging-failed", At: start.Add(5 * time.Minute)},
			{Cluster: "staging", Instance: "i-old", Code: "drain-timeout", At: start.Add(-time.Minute)},
		}}}, nil, start.Add(6 * time.Minute),
			promotion.Verdict{
				Halt: &promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "failed", Cluster: "staging", At: start.Add(6 * time.Minute),
					Message: "the job of i-b in cluster staging failed with staging-failed at 2026-06-02T09:05:00Z"},
				Why: "promotion of 1.20.3 halted at stage staging: failed: the job of i-b in cluster staging failed with staging-failed at 2026-06-02T09:05:00Z"}},
		{"a failure before the rollout started does not count", []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: verified, Failures: []promotion.Failure{
			{Cluster: "staging", Instance: "i-old", Code: "drain-timeout", At: start.Add(-time.Minute)},
		}}}, nil, verified.Add(time.Hour),
			promotion.Verdict{Go: true, Why: "stages staging baked on 1.20.3"}},
		{"an alarm during the bake halts the promotion", []promotion.Earlier{done}, []string{"web-5xx"}, verified.Add(time.Minute),
			promotion.Verdict{
				Halt: &promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "alarm", At: verified.Add(time.Minute), Message: "gate alarm in ALARM during the bake: web-5xx"},
				Why:  "promotion of 1.20.3 halted at stage staging: alarm: gate alarm in ALARM during the bake: web-5xx"}},
		{"an alarm after the bake is the alarm gate's, not the promotion's", []promotion.Earlier{done}, []string{"web-5xx"}, verified.Add(time.Hour),
			promotion.Verdict{Go: true, Why: "stages staging baked on 1.20.3"}},
		{"a recorded halt holds its version", []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: verified, Halt: &promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: "alarm", Message: "web-5xx"}}}, nil, verified.Add(time.Hour),
			promotion.Verdict{Why: "promotion of 1.20.3 halted at stage staging: alarm: web-5xx"}},
		{"a halt of another version holds nothing", []promotion.Earlier{{Stage: staging, Jobs: 2, LastVerified: verified, Halt: &promotion.Halt{Stage: "staging", Version: "1.20.2", Reason: "failed"}}}, nil, verified.Add(time.Hour),
			promotion.Verdict{Go: true, Why: "stages staging baked on 1.20.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := promotion.Check("1.20.3", start, tt.earlier, tt.firing, tt.now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHaltTagRoundTrip(t *testing.T) {
	at := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	halts := []promotion.Halt{
		{Stage: "staging", Version: "1.20.3", Reason: "failed", Cluster: "staging", At: at, Message: "the job of i-b in cluster staging failed with staging-failed at 2026-06-02T08:59:00Z"},
		{Stage: "prod-eu", Version: "1.20.3", Reason: "alarm", At: at, Message: "gate alarm in ALARM during the bake: web-5xx"},
	}
	tags := map[string]string{"rollwave:paused:prod": "alice: no", "rollwave:promotion-halted:broken": "by hand"}
	for _, h := range halts {
		tags[h.Key()] = h.Value()
	}
	want := []promotion.Halt{{Stage: "broken", Message: "by hand"}, halts[1], halts[0]}
	if diff := cmp.Diff(want, promotion.ParseHalts(tags)); diff != "" {
		t.Errorf("ParseHalts() mismatch (-want +got):\n%s", diff)
	}
	long := promotion.Halt{Stage: "s", Version: "1.20.3", Reason: "alarm", At: at, Message: strings.Repeat("(alarm) ", 60)}
	if v := long.Value(); len(v) > 256 || strings.ContainsAny(v, "()") {
		t.Errorf("Value() = %q (%d characters), want at most 256 in the tag character set", v, len(v))
	}
}
