// Package promotion is staged promotion with bake time: the managed clusters grouped into ordered
// stages (staging, then prod-eu, then prod-us), each with a bake time. A stage starts on a
// rollout's version only once every stage before it has taken that version, no job of it failed,
// no gate alarm fired during its bake, and its bake time has passed since its last host was
// verified. A failure or an alarm halts the promotion of that version at the stage where it
// happened, until a person resumes it or a rollout to another version starts.
//
// The plan comes from ROLLWAVE_STAGES (ParsePlan). The rules are pure (Check); the state they
// read lives in AWS, where it survives any worker: the job message (update.Promotion, written by
// the scan), the instances' marks (rollwave.job, rollwave.verified-at), the error budget's
// failure tags and the promotion's halt tags on the drainer's queue (Halt, ParseHalts). The
// drainer, which alone decides by them, reads them.
package promotion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// Env is the variable that holds the plan.
const Env = "ROLLWAVE_STAGES"

// MaxStages bounds a plan: each stage may hold one halt tag on the drainer's queue, which SQS
// allows 50 tags, shared with the pauses and the error budgets.
const MaxStages = 10

// Stage is one step of a promotion: its clusters, by name, and how long the version must run
// there, every host verified, before the next stage starts on it.
type Stage struct {
	Name     string
	Clusters []string
	Bake     time.Duration
}

// Plan is the ordered stages of a promotion. The zero Plan has none: no promotion, every cluster
// rolls at once.
type Plan struct {
	Stages []Stage
}

// IsZero reports whether p has no stage.
func (p Plan) IsZero() bool { return len(p.Stages) == 0 }

// StageOf returns the index of the stage of cluster (a name or an ARN); ok is false for a
// cluster in no stage, which the promotion does not hold.
func (p Plan) StageOf(cluster string) (int, bool) {
	name := update.ClusterName(cluster)
	for i, s := range p.Stages {
		for _, c := range s.Clusters {
			if c == name {
				return i, true
			}
		}
	}
	return 0, false
}

// ClustersBefore returns the clusters of the stages before stage, in the plan's order.
func (p Plan) ClustersBefore(stage int) []string {
	var out []string
	for _, s := range p.Stages[:min(stage, len(p.Stages))] {
		out = append(out, s.Clusters...)
	}
	return out
}

// String renders p for a log line: "staging(30m) > prod-eu(1h) > prod-us(0s)".
func (p Plan) String() string {
	parts := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		parts[i] = fmt.Sprintf("%s(%s)", s.Name, s.Bake)
	}
	return strings.Join(parts, " > ")
}

// stageName is what a stage may be called: it is part of a tag key of the drainer's queue and of
// a job, so letters, digits, - and _, at most 64.
var stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParsePlan reads a plan from its JSON form, a list of stages in order:
//
//	[{"name": "staging", "clusters": ["staging"], "bake": "30m"},
//	 {"name": "prod-eu", "clusters": ["prod-eu-1", "prod-eu-2"], "bake": "1h"},
//	 {"name": "prod-us", "clusters": ["prod-us"]}]
//
// "" is the zero Plan. Every problem is reported at once: a stage without a name or clusters, a
// name used twice, a cluster in two stages, a bake that is not a duration of at least 0, an
// unknown field, more than MaxStages stages. A cluster given by ARN is taken as its name.
func ParsePlan(s string) (Plan, error) {
	if strings.TrimSpace(s) == "" {
		return Plan{}, nil
	}
	var raw []struct {
		Name     string   `json:"name"`
		Clusters []string `json:"clusters"`
		Bake     string   `json:"bake"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Plan{}, fmt.Errorf("stages: want a JSON list of {\"name\", \"clusters\", \"bake\"}: %w", err)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(raw) == 0 {
		fail("stages: an empty list; leave the variable unset for no promotion")
	}
	if len(raw) > MaxStages {
		fail("stages: %d stages, at most %d (each may hold a tag of the drainer's queue)", len(raw), MaxStages)
	}
	var p Plan
	names, owner := map[string]bool{}, map[string]string{}
	for i, r := range raw {
		st := Stage{Name: r.Name}
		label := fmt.Sprintf("stage %d", i+1)
		switch {
		case !stageName.MatchString(r.Name):
			fail("%s: name %q, want 1-64 letters, digits, - or _", label, r.Name)
		case names[r.Name]:
			fail("%s: name %q given twice", label, r.Name)
		default:
			label = fmt.Sprintf("stage %q", r.Name)
		}
		names[r.Name] = true
		if len(r.Clusters) == 0 {
			fail("%s: no clusters", label)
		}
		for _, c := range r.Clusters {
			if !update.IsCluster(c) {
				fail("%s: cluster %q is neither a cluster name nor a cluster ARN", label, c)
				continue
			}
			name := update.ClusterName(c)
			if prev, ok := owner[name]; ok {
				fail("%s: cluster %s is already in stage %q; a cluster belongs to one stage", label, name, prev)
				continue
			}
			owner[name] = r.Name
			st.Clusters = append(st.Clusters, name)
		}
		if r.Bake != "" {
			d, err := time.ParseDuration(r.Bake)
			switch {
			case err != nil:
				fail("%s: bake %q is not a duration such as 30m or 2h", label, r.Bake)
			case d < 0:
				fail("%s: bake %s is negative", label, d)
			}
			st.Bake = d
		}
		p.Stages = append(p.Stages, st)
	}
	if err := errors.Join(errs...); err != nil {
		return Plan{}, err
	}
	return p, nil
}
