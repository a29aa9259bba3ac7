package promotion

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Earlier is one stage before a job's, as the promotion gate sees it now.
type Earlier struct {
	Stage Stage
	// Jobs is how many jobs the rollout's scan sent to the stage (update.Promotion).
	Jobs int
	// Marked are the stage's instances (EC2 IDs) that carry rollwave.job: a job of them has
	// not ended, or failed and left its instance marked.
	Marked []string
	// LastVerified is the newest rollwave.verified-at of the stage's instances: when its last
	// updated host was verified. Zero when none carries one.
	LastVerified time.Time
	// Failures are the failed jobs of the stage's clusters that the error budget recorded.
	Failures []Failure
	// Halt is the stage's recorded halt, of any version; nil when none.
	Halt *Halt
}

// Failure is one failed job of a cluster, as the error budget records it.
type Failure struct {
	Cluster  string
	Instance string
	Code     string
	At       time.Time
}

// Verdict is the promotion gate's answer for a job.
type Verdict struct {
	// Go: every stage before the job's has taken its version and baked.
	Go bool
	// Why says for people why the job waits, or why it may go.
	Why string
	// Halt, when set, is a halt this look found (a failure, an alarm during a bake): the caller
	// records it and announces it ("Promotion Halted"); the job waits.
	Halt *Halt
	// Until is when the bake that holds the job ends; zero when no bake holds it.
	Until time.Time
}

// Check decides whether a job of the promotion of version, started (its scan) at started, may
// leave its stage's first gate: each stage before it, in order,
//
//   - has not halted on version (a failure or an alarm of an earlier look);
//   - had no failed job since the rollout started (else the promotion halts there now, reason
//     failed);
//   - has no instance left with a job (every job of it ended);
//   - had a host verified since the rollout started, when the scan sent it jobs (so a job that no
//     worker has taken yet is not taken for one that ended);
//   - has baked: its bake time has passed since its last host was verified (since the rollout
//     started, for a stage that needed no job); while it bakes, a gate alarm in ALARM (firing)
//     halts the promotion there, reason alarm.
//
// A halt of another version does not hold the job: a rollout to a new version clears it.
func Check(version string, started time.Time, earlier []Earlier, firing []string, now time.Time) Verdict {
	baked := make([]string, 0, len(earlier))
	for _, e := range earlier {
		name := e.Stage.Name
		if h := e.Halt; h != nil && h.Version == version {
			return Verdict{Why: fmt.Sprintf("promotion of %s halted at stage %s: %s", version, name, h.Summary())}
		}
		if f, ok := firstFailure(e.Failures, started); ok {
			h := Halt{Stage: name, Version: version, Reason: ReasonFailed, Cluster: f.Cluster, At: now.UTC(),
				Message: fmt.Sprintf("the job of %s in cluster %s failed with %s at %s", f.Instance, f.Cluster, f.Code, f.At.UTC().Format(time.RFC3339))}
			return Verdict{Halt: &h, Why: fmt.Sprintf("promotion of %s halted at stage %s: %s", version, name, h.Summary())}
		}
		if len(e.Marked) > 0 {
			return Verdict{Why: fmt.Sprintf("stage %s is still taking %s: %d instances with a job (%s)", name, version, len(e.Marked), short(e.Marked))}
		}
		from := started
		if e.Jobs > 0 {
			if e.LastVerified.Before(started) {
				return Verdict{Why: fmt.Sprintf("stage %s has not taken %s yet: none of its %d jobs verified", name, version, e.Jobs)}
			}
			from = e.LastVerified
		}
		if end := from.Add(e.Stage.Bake); now.Before(end) {
			if len(firing) > 0 {
				h := Halt{Stage: name, Version: version, Reason: ReasonAlarm, At: now.UTC(),
					Message: "gate alarm in ALARM during the bake: " + strings.Join(firing, ", ")}
				return Verdict{Halt: &h, Why: fmt.Sprintf("promotion of %s halted at stage %s: %s", version, name, h.Summary())}
			}
			return Verdict{Until: end, Why: fmt.Sprintf("stage %s is baking %s until %s (%s left)",
				name, version, end.UTC().Format(time.RFC3339), end.Sub(now).Round(time.Second))}
		}
		baked = append(baked, name)
	}
	if len(baked) == 0 {
		return Verdict{Go: true, Why: "first stage"}
	}
	return Verdict{Go: true, Why: fmt.Sprintf("stages %s baked on %s", strings.Join(baked, ", "), version)}
}

// firstFailure returns the oldest failure at or after since.
func firstFailure(fs []Failure, since time.Time) (Failure, bool) {
	var out []Failure
	for _, f := range fs {
		if !f.At.Before(since) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return Failure{}, false
	}
	slices.SortFunc(out, func(a, b Failure) int { return a.At.Compare(b.At) })
	return out[0], true
}

// short lists at most three names, then how many more.
func short(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
}
