package jobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/update"
)

// rollwaveMarks returns the rollwave attributes of the instance arn of prod.
func rollwaveMarks(t *testing.T, f *clustertest.Fake, arn string) map[string]string {
	t.Helper()
	in, err := f.Instance(t.Context(), "prod", arn)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range in.Attributes {
		if strings.HasPrefix(k, "rollwave.") {
			out[k] = v
		}
	}
	return out
}

func TestLeaserRenewsOnlyTheJobsOwnDueLease(t *testing.T) {
	now := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	renewed := "2025-06-02T10:00:00Z"
	tests := []struct {
		name  string
		marks map[string]string
		want  string // rollwave.lease afterwards
	}{
		{"due: renewed", map[string]string{update.AttrJob: "j-1", update.AttrLease: "2025-06-02T09:10:00Z"}, renewed},
		{"not due: untouched", map[string]string{update.AttrJob: "j-1", update.AttrLease: "2025-06-02T09:50:00Z"}, "2025-06-02T09:50:00Z"},
		{"another job's instance: untouched", map[string]string{update.AttrJob: "j-2", update.AttrLease: "2025-06-02T08:00:00Z"}, "2025-06-02T08:00:00Z"},
		{"reclaimed (no job): no lease written", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clustertest.NewFake()
			in := f.AddInstance("prod", cluster.Instance{Status: "ACTIVE", Attributes: tt.marks})
			l := &jobs.Leaser{Marks: f, Duration: time.Hour, Now: func() time.Time { return now }}
			job := update.Job{ID: "j-1", Cluster: "prod", Instance: in.EC2InstanceID}
			if err := l.Renew(t.Context(), &job, in); err != nil {
				t.Fatalf("Renew() = %v", err)
			}
			if got := rollwaveMarks(t, f, in.ARN)[update.AttrLease]; got != tt.want {
				t.Errorf("rollwave.lease = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLeaserWithAddsAFreshLeaseToAStageWrite(t *testing.T) {
	l := &jobs.Leaser{Duration: 90 * time.Second, Now: func() time.Time { return time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC) }}
	stage := map[string]string{update.AttrStage: "draining"}
	got := l.With(stage)
	want := map[string]string{update.AttrStage: "draining", update.AttrLease: "2025-06-02T09:01:30Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("With() (-want +got):\n%s", diff)
	}
	if len(stage) != 1 {
		t.Errorf("With() changed its argument: %v", stage)
	}
}

// Ending a job takes its lease with it: unmarked, nothing is left; parked failed, the lease goes
// (a person owns the instance now) and the failure stays.
func TestEndRemovesTheLease(t *testing.T) {
	for _, tt := range []struct {
		marking jobs.Marking
		want    map[string]string
	}{
		{jobs.Unmark, map[string]string{}},
		{jobs.MarkFailed, map[string]string{update.AttrJob: "j-1", update.AttrStage: "failed", update.AttrFailure: "never-came-back"}},
	} {
		f := clustertest.NewFake()
		in := f.AddInstance("prod", cluster.Instance{Status: "DRAINING", Attributes: map[string]string{
			update.AttrJob: "j-1", update.AttrStage: "verifying", update.AttrLease: "2025-06-02T10:00:00Z"}})
		e := &jobs.Ender{Marks: f, Events: &events{}, By: "verifier", Now: time.Now}
		job := update.Job{ID: "j-1", Cluster: "prod", Instance: in.EC2InstanceID, ContainerInstanceARN: in.ARN}
		if err := e.End(t.Context(), &job, update.Failed(update.CodeNeverCameBack, "gone quiet"), tt.marking); err != nil {
			t.Fatalf("End() = %v", err)
		}
		if diff := cmp.Diff(tt.want, rollwaveMarks(t, f, in.ARN)); diff != "" {
			t.Errorf("End(%v) marks (-want +got):\n%s", tt.marking, diff)
		}
	}
}
