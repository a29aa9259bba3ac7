package admin

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/report"
)

var t0 = time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func stage(s int, v string) AttributeChange {
	return AttributeChange{T: at(s), Name: "rollwave.stage", Value: v}
}

func TestReportRollout(t *testing.T) {
	updated := InstanceReport{
		Cluster: "prod", EC2InstanceID: "i-1", InitialVersion: "1.19.5", Version: "1.20.3",
		AttributeChanges: []AttributeChange{
			{T: at(0), Name: "rollwave.job", Value: "j-1"},
			stage(0, "staging"), stage(70, "staged"), stage(74, "admitting"), stage(75, "staged"),
			{T: at(75), Name: "rollwave.waiting", Value: "cluster-limit"},
			stage(260, "admitting"), stage(261, "draining"), stage(295, "rebooting"), stage(302, "verifying"),
			{T: at(385), Name: "rollwave.stage", Deleted: true},
		},
		Timeline: []InstanceEvent{
			{T: at(261), Event: EventDraining}, {T: at(276), Event: EventDrained},
			{T: at(302), Event: EventHostDown}, {T: at(302), Event: EventAgentDisconnected},
			{T: at(347), Event: EventHostUp}, {T: at(362), Event: EventAgentConnected},
			{T: at(384), Event: EventActive},
		},
	}
	skipped := InstanceReport{Cluster: "prod", EC2InstanceID: "i-2", InitialVersion: "1.19.5", Version: "1.19.5",
		AttributeChanges: []AttributeChange{stage(0, "staging"), {T: at(3), Name: "rollwave.stage", Deleted: true}}}
	// Failed while down: still marked failed, its reboot open when the report was taken.
	failed := InstanceReport{Cluster: "staging", EC2InstanceID: "i-3", InitialVersion: "1.19.5", Version: "1.19.5",
		Attributes: map[string]string{"rollwave.stage": "failed"},
		AttributeChanges: []AttributeChange{
			stage(0, "staging"), stage(10, "staged"), stage(20, "draining"), stage(40, "rebooting"), stage(41, "failed"),
		},
		Timeline: []InstanceEvent{{T: at(20), Event: EventDraining}, {T: at(30), Event: EventDrained}, {T: at(41), Event: EventHostDown}},
	}
	r := Report{Now: at(400), Instances: []InstanceReport{updated, skipped, failed},
		Clusters: []ClusterReport{{Cluster: "prod", Instances: 2, Samples: []ClusterSample{{T: at(0)}, {T: at(261), OutOfService: 1}, {T: at(384)}}}}}

	got := r.Rollout()
	want := report.Rollout{
		End: at(400),
		Instances: []report.Instance{
			{Cluster: "prod", ID: "i-1", Outcome: report.Updated, Detail: "1.19.5 → 1.20.3", Steps: []report.Step{
				{Kind: report.Staging, Start: at(0), End: at(70)},
				{Kind: report.Waiting, Start: at(70), End: at(261)},
				{Kind: report.Drain, Start: at(261), End: at(276)},
				{Kind: report.Waiting, Start: at(276), End: at(302)},
				{Kind: report.Reboot, Start: at(302), End: at(362)},
				{Kind: report.Verify, Start: at(362), End: at(384)},
			}},
			{Cluster: "prod", ID: "i-2", Steps: []report.Step{{Kind: report.Staging, Start: at(0), End: at(3)}}},
			{Cluster: "staging", ID: "i-3", Outcome: report.Failed, Steps: []report.Step{
				{Kind: report.Staging, Start: at(0), End: at(10)},
				{Kind: report.Waiting, Start: at(10), End: at(20)},
				{Kind: report.Drain, Start: at(20), End: at(30)},
				{Kind: report.Waiting, Start: at(30), End: at(41)},
				{Kind: report.Reboot, Start: at(41), End: at(400)},
			}},
		},
		Clusters: []report.Cluster{{Name: "prod", OutOfService: []report.Sample{{T: at(0)}, {T: at(261), Count: 1}, {T: at(384)}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Report.Rollout() mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Report.Rollout().Validate() = %v, want nil", err)
	}
}
