// Package report draws a rollout as one self-contained HTML page: a row per instance with its
// steps (staging, waiting, drain, reboot, verify) as bars on a shared time axis, and each
// cluster's instances out of service over time against its limit. The page has no script and
// fetches nothing: inline SVG and CSS only, so it opens from a file, an e-mail or a ticket.
//
// The input, Rollout, is plain data that every source fills: the recorded history of a real
// deployment, fleetsim's report of a simulated one (make demo), or a forecast, which the page then
// marks as such.
package report

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Kind is what an instance was doing during a step.
type Kind string

// The kinds of step, in the order of an update. Staging and Waiting are in service; Drain,
// Reboot and Verify are out of service, and so is a Waiting that follows a Drain (an instance
// drained and waiting for its reboot).
const (
	Staging Kind = "staging" // the update is being written; the instance serves
	Waiting Kind = "waiting" // staged and waiting for a drain slot, or drained and waiting for the reboot
	Drain   Kind = "drain"   // DRAINING until its last task stopped
	Reboot  Kind = "reboot"  // host down until the ECS agent reconnected
	Verify  Kind = "verify"  // back up, checked and returned to service
	// Job is a job whose steps the source did not record: the history of a deployment keeps
	// when each job started and ended (and how long it waited for admission), not its drain and
	// reboot.
	Job Kind = "job"
)

// Kinds lists every kind in the order of an update, which is the legend's order.
var Kinds = []Kind{Staging, Waiting, Drain, Reboot, Verify, Job}

// Outcome is how an instance's job ended, as the page names it.
type Outcome string

// The outcomes. None is an instance without a job that ended: untouched, or still in flight.
const (
	None    Outcome = ""
	Updated Outcome = "updated"
	Skipped Outcome = "skipped"
	Failed  Outcome = "failed"
)

// Rollout is what the page draws.
type Rollout struct {
	// Title heads the page ("rollout of prod, staging").
	Title string
	// Forecast marks the page as a forecast (what a rollout is expected to do) rather than a
	// record of what one did.
	Forecast bool
	// Start and End bound the time axis. Zero values are taken from the earliest and latest
	// step and sample.
	Start, End time.Time
	// Instances are drawn in this order, one row each.
	Instances []Instance
	// Clusters are drawn in this order, one chart each. A cluster that an instance names but
	// that is not listed gets a chart without a limit.
	Clusters []Cluster
}

// Instance is one row.
type Instance struct {
	Cluster string
	// ID names the instance: its EC2 instance ID.
	ID      string
	Outcome Outcome
	// Detail says what happened in words: "1.19.5 → 1.20.3", or the reason it was skipped or
	// failed.
	Detail string
	// Steps are the instance's bars; they may come in any order and should not overlap.
	Steps []Step
}

// Step is one bar: the instance did Kind from Start to End.
type Step struct {
	Kind       Kind
	Start, End time.Time
}

// Cluster is one out-of-service chart.
type Cluster struct {
	Name string
	// Limit is how many of its instances may be out of service at once; 0 draws no limit line.
	Limit int
	// OutOfService are the cluster's counts of instances out of service, each from its T until
	// the next sample's. Empty: counted from the instances' steps (OutOfServiceFromSteps).
	OutOfService []Sample
	// Unrecorded, when set, says why the source cannot tell when instances were out of service;
	// the page says so instead of drawing a chart.
	Unrecorded string
}

// Sample is a count from T on.
type Sample struct {
	T     time.Time
	Count int
}

// Validate reports every problem of r at once: steps that end before they start, kinds the page
// does not know, instances without an ID.
func (r Rollout) Validate() error {
	var problems []error
	for i, in := range r.Instances {
		if in.ID == "" {
			problems = append(problems, fmt.Errorf("instance %d of cluster %q has no ID", i, in.Cluster))
		}
		for _, s := range in.Steps {
			if !slices.Contains(Kinds, s.Kind) {
				problems = append(problems, fmt.Errorf("instance %s: step kind %q is not one of %v", in.ID, s.Kind, Kinds))
			}
			if s.End.Before(s.Start) {
				problems = append(problems, fmt.Errorf("instance %s: %s step ends (%s) before it starts (%s)",
					in.ID, s.Kind, s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339)))
			}
		}
	}
	if !r.Start.IsZero() && !r.End.IsZero() && r.End.Before(r.Start) {
		problems = append(problems, errors.New("the rollout ends before it starts"))
	}
	return errors.Join(problems...)
}

// OutOfServiceFromSteps counts the instances of cluster out of service over time, for a source
// that records steps but not counts: an instance is out of service from the start of its first
// Drain to the end of the last Drain, Reboot or Verify after it.
func OutOfServiceFromSteps(instances []Instance, cluster string) []Sample {
	delta := map[time.Time]int{}
	for _, in := range instances {
		if in.Cluster != cluster {
			continue
		}
		var from, to time.Time
		for _, s := range in.Steps {
			switch s.Kind {
			case Drain, Reboot, Verify:
				if from.IsZero() || s.Start.Before(from) {
					from = s.Start
				}
				if s.End.After(to) {
					to = s.End
				}
			}
		}
		if from.IsZero() || !to.After(from) {
			continue
		}
		delta[from]++
		delta[to]--
	}
	ts := make([]time.Time, 0, len(delta))
	for t := range delta {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var samples []Sample
	n := 0
	for _, t := range ts {
		n += delta[t]
		samples = append(samples, Sample{T: t, Count: n})
	}
	return samples
}

// bounds returns the time axis: r.Start and r.End, or where zero, the earliest and latest time
// of any step or sample.
func (r Rollout) bounds() (start, end time.Time) {
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if t.After(end) {
			end = t
		}
	}
	for _, in := range r.Instances {
		for _, s := range in.Steps {
			see(s.Start)
			see(s.End)
		}
	}
	for _, c := range r.Clusters {
		for _, s := range c.OutOfService {
			see(s.T)
		}
	}
	if !r.Start.IsZero() {
		start = r.Start
	}
	if !r.End.IsZero() {
		end = r.End
	}
	if !end.After(start) {
		end = start.Add(time.Minute)
	}
	return start, end
}
