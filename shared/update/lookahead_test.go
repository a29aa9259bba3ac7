package update

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMayStageKeepsALookAheadOfTheClustersLimit(t *testing.T) {
	two, _ := ParseLimit("2")
	fifth, _ := ParseLimit("20%")
	job := Job{Cluster: "prod"}
	rollback := Job{Cluster: "prod", LockVersion: true}
	for _, tc := range []struct {
		name         string
		job          Job
		limit        Limit
		total, ahead int
		wantGo       bool
		wantRoom     int
	}{
		{"nothing staged: stage", job, two, 10, 0, true, 2},
		{"one of two staged: stage the second", job, two, 10, 1, true, 1},
		{"look-ahead full: wait", job, two, 10, 2, false, 0},
		{"more staged than the look-ahead (replicas raced): wait", job, two, 10, 3, false, 0},
		{"20% of 100 is a look-ahead of 20", job, fifth, 100, 19, true, 1},
		{"20% of 100, 20 staged: wait", job, fifth, 100, 20, false, 0},
		{"20% of a small cluster is still 1", job, fifth, 3, 0, true, 1},
		{"20% of a small cluster, 1 staged: wait", job, fifth, 3, 1, false, 0},
		{"the default limit stages one ahead", job, DefaultLimit, 50, 1, false, 0},
		{"a rollback never waits", rollback, two, 10, 5, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MayStage(tc.job, tc.limit, tc.total, tc.ahead)
			if diff := cmp.Diff([2]any{tc.wantGo, tc.wantRoom}, [2]any{got.Go, got.Room}); diff != "" {
				t.Errorf("MayStage(%s, total %d, ahead %d) = %+v (-want +got go, room):\n%s", tc.limit, tc.total, tc.ahead, got, diff)
			}
			if got.Reason == "" {
				t.Errorf("MayStage(...) gives no reason")
			}
		})
	}
}

func TestStagedAheadFiltersCountTheStagesBeforeAdmissionButNotAWaveWait(t *testing.T) {
	want := []string{
		"attribute:rollwave.stage == staged",
		"attribute:rollwave.stage == staging and attribute:rollwave.waiting !exists",
	}
	if diff := cmp.Diff(want, StagedAheadFilters()); diff != "" {
		t.Errorf("StagedAheadFilters() (-want +got):\n%s", diff)
	}
}
