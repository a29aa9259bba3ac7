package admin

import (
	"time"

	"github.com/rollwave/rollwave/shared/report"
	"github.com/rollwave/rollwave/shared/update"
)

// Rollout turns the report into the input of a rollout's page (shared/report): each instance's
// steps from its timeline and its rollwave.stage changes, and each cluster's out-of-service
// samples. It knows only what the fleet saw: an instance is Updated when its version changed,
// Failed when rollwave left it marked failed, and None otherwise; a caller that has the
// pipeline's events sets the outcomes, and the clusters' limits, from them.
//
// The steps of one update, in simulated time:
//   - staging: from rollwave.stage=staging to the next stage;
//   - waiting (in service): from rollwave.stage=staged (or admitting) to DRAINING;
//   - drain: from DRAINING to drained (the last task stopped), or to the host going down;
//   - waiting (out of service): from drained to the host going down;
//   - reboot: from the host going down to the ECS agent reconnected;
//   - verify: from the agent reconnected to ACTIVE again.
func (r Report) Rollout() report.Rollout {
	out := report.Rollout{End: r.Now}
	for _, c := range r.Clusters {
		rc := report.Cluster{Name: c.Cluster}
		for _, s := range c.Samples {
			rc.OutOfService = append(rc.OutOfService, report.Sample{T: s.T, Count: s.OutOfService})
		}
		out.Clusters = append(out.Clusters, rc)
	}
	for _, in := range r.Instances {
		ri := report.Instance{Cluster: in.Cluster, ID: in.EC2InstanceID, Steps: inServiceSteps(in)}
		ri.Steps = append(ri.Steps, outOfServiceSteps(in, r.Now)...)
		switch {
		case in.Attributes[update.AttrStage] == string(update.StageFailed):
			ri.Outcome = report.Failed
		case in.Version != in.InitialVersion:
			ri.Outcome, ri.Detail = report.Updated, in.InitialVersion+" → "+in.Version
		}
		out.Instances = append(out.Instances, ri)
	}
	return out
}

// inServiceSteps are the staging and the wait for a drain slot, from the rollwave.stage changes
// before each DRAINING.
func inServiceSteps(in InstanceReport) []report.Step {
	var drains []time.Time
	for _, ev := range in.Timeline {
		if ev.Event == EventDraining {
			drains = append(drains, ev.T)
		}
	}
	// nextDrain is the first DRAINING at or after t.
	nextDrain := func(t time.Time) (time.Time, bool) {
		for _, d := range drains {
			if !d.Before(t) {
				return d, true
			}
		}
		return time.Time{}, false
	}
	var steps []report.Step
	var open *report.Step
	closeAt := func(t time.Time) {
		if open != nil {
			open.End = t
			steps = append(steps, *open)
			open = nil
		}
	}
	for _, ch := range in.AttributeChanges {
		if ch.Name != update.AttrStage {
			continue
		}
		stage := update.Stage(ch.Value)
		if ch.Deleted {
			stage = update.StageNone
		}
		switch stage {
		case update.StageStaging:
			if open == nil || open.Kind != report.Staging {
				closeAt(ch.T)
				open = &report.Step{Kind: report.Staging, Start: ch.T}
			}
		case update.StageStaged, update.StageAdmitting:
			if open == nil || open.Kind != report.Waiting {
				closeAt(ch.T)
				open = &report.Step{Kind: report.Waiting, Start: ch.T}
			}
		default: // draining and after, or the marks cleared: the in-service part is over
			if open != nil {
				end := ch.T
				if d, ok := nextDrain(open.Start); ok && d.Before(end) {
					end = d
				}
				closeAt(end)
			}
		}
	}
	if open != nil { // still staging or waiting when the report was taken
		if d, ok := nextDrain(open.Start); ok {
			closeAt(d)
		}
	}
	return steps
}

// outOfServiceSteps are the drain, the wait for the reboot, the reboot and the verification,
// from the timeline; an interval still open ends at now.
func outOfServiceSteps(in InstanceReport, now time.Time) []report.Step {
	var steps []report.Step
	var open *report.Step
	start := func(k report.Kind, t time.Time) {
		if open != nil {
			open.End = t
			if open.End.After(open.Start) {
				steps = append(steps, *open)
			}
		}
		open = &report.Step{Kind: k, Start: t}
	}
	end := func(t time.Time) {
		if open != nil {
			open.End = t
			if open.End.After(open.Start) {
				steps = append(steps, *open)
			}
			open = nil
		}
	}
	for _, ev := range in.Timeline {
		switch ev.Event {
		case EventDraining:
			start(report.Drain, ev.T)
		case EventDrained:
			if open != nil && open.Kind == report.Drain {
				start(report.Waiting, ev.T)
			}
		case EventHostDown:
			start(report.Reboot, ev.T)
		case EventAgentConnected:
			if open != nil && open.Kind == report.Reboot {
				start(report.Verify, ev.T)
			}
		case EventActive:
			end(ev.T)
		}
	}
	end(now)
	return steps
}
