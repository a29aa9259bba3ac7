package update

import (
	"testing"
	"time"
)

func TestOwner(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	accepted := []Entry{{Step: StepStage, At: at, By: "patcher", Note: "accepted; rollwave.job set"}}
	job := func(step Step, history []Entry) Job { return Job{ID: "j1", Step: step, History: history} }
	tests := []struct {
		rule  string
		job   Job
		owner string
		stage Stage
		owns  bool
		code  Code
	}{
		{"the patcher takes an instance no job owns", job(StepStage, nil), "", StageNone, true, ""},
		{"the patcher resumes its own staging", job(StepStage, accepted), "j1", StageStaging, true, ""},
		{"a staging copy accepted before, instance unmarked since: stale-job", job(StepStage, accepted), "", StageNone, false, CodeStaleJob},
		{"the patcher forwards its own staged instance again", job(StepStage, accepted), "j1", StageStaged, true, ""},
		{"another job's mark: duplicate", job(StepDrain, accepted), "j2", StageStaged, false, CodeJobInFlight},
		{"another job's mark at the patcher: duplicate", job(StepStage, nil), "j2", StageStaging, false, CodeJobInFlight},
		{"a drain job for an instance no job owns, never accepted: not-owner", job(StepDrain, nil), "", StageNone, false, CodeNotOwner},
		{"a verify job for an instance no job owns, never accepted: not-owner", job(StepVerify, nil), "", StageNone, false, CodeNotOwner},
		{"a reboot job for an instance no job owns, never accepted: not-owner", job(StepReboot, nil), "", StageNone, false, CodeNotOwner},
		{"a drain job accepted before, instance unmarked since: stale-job", job(StepDrain, accepted), "", StageNone, false, CodeStaleJob},
		{"a verify job accepted before, instance unmarked since: stale-job", job(StepVerify, accepted), "", StageNone, false, CodeStaleJob},
		{"the job's own instance parked failed: stale-job at the drainer", job(StepDrain, accepted), "j1", StageFailed, false, CodeStaleJob},
		{"the job's own instance parked failed: stale-job at the patcher's reboot", job(StepReboot, accepted), "j1", StageFailed, false, CodeStaleJob},
		{"the job's own instance parked failed: stale-job at the verifier", job(StepVerify, accepted), "j1", StageFailed, false, CodeStaleJob},
		{"the job's own instance parked failed: stale-job at the patcher's stage", job(StepStage, accepted), "j1", StageFailed, false, CodeStaleJob},
		{"a drain copy of a job already rebooting: stale-job", job(StepDrain, accepted), "j1", StageRebooting, false, CodeStaleJob},
		{"a reboot copy of a job still staged: stale-job", job(StepReboot, accepted), "j1", StageStaged, false, CodeStaleJob},
		{"a verify copy of a job still draining: stale-job", job(StepVerify, accepted), "j1", StageDraining, false, CodeStaleJob},
		{"a drain copy while the patcher still stages: stale-job", job(StepDrain, accepted), "j1", StageStaging, false, CodeStaleJob},
		{"the drainer owns its staged instance", job(StepDrain, accepted), "j1", StageStaged, true, ""},
		{"the drainer owns its claim", job(StepDrain, accepted), "j1", StageAdmitting, true, ""},
		{"the drainer owns its drain", job(StepDrain, accepted), "j1", StageDraining, true, ""},
		{"the patcher owns a drained instance for the reboot", job(StepReboot, accepted), "j1", StageDraining, true, ""},
		{"the patcher owns a rebooting instance (redelivery)", job(StepReboot, accepted), "j1", StageRebooting, true, ""},
		{"the patcher owns a verifying instance (the reboot was sent)", job(StepReboot, accepted), "j1", StageVerifying, true, ""},
		{"the verifier owns a rebooting instance", job(StepVerify, accepted), "j1", StageRebooting, true, ""},
		{"the verifier owns a verifying instance", job(StepVerify, accepted), "j1", StageVerifying, true, ""},
		{"a job without a step is at step stage", job("", nil), "", StageNone, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			got := Owner(tc.job, tc.owner, tc.stage, "")
			if got.Owns != tc.owns || got.Outcome.Code != tc.code {
				t.Errorf("Owner(step %q, owner %q, stage %q) = owns %t, %v; want owns %t, code %q",
					tc.job.Step, tc.owner, tc.stage, got.Owns, got.Outcome, tc.owns, tc.code)
			}
			if !got.Owns && got.Outcome.Result == ResultFailed {
				t.Errorf("Owner(...) = %v: a job that does not own the instance must never fail it", got.Outcome)
			}
			if ignored := got.Outcome.Ignored(); ignored != (tc.code == CodeNotOwner || tc.code == CodeStaleJob) {
				t.Errorf("Owner(...).Outcome.Ignored() = %t for code %q", ignored, tc.code)
			}
		})
	}
}

func TestClusterName(t *testing.T) {
	for in, want := range map[string]string{
		"prod":   "prod",
		" prod ": "prod",
		"arn:aws:ecs:eu-west-1:123456789012:cluster/prod":      "prod",
		"arn:aws-cn:ecs:cn-north-1:123456789012:cluster/a-b_c": "a-b_c",
		"": "",
	} {
		if got := ClusterName(in); got != want {
			t.Errorf("ClusterName(%q) = %q, want %q", in, got, want)
		}
	}
}

// An instance that records this job as the one that updated it, and carries no job's mark: a
// copy of the job, at any step, accepted or not, is stale. Another job's record does not matter.
func TestOwnerOfAnInstanceThisJobUpdated(t *testing.T) {
	for _, step := range []Step{StepStage, StepDrain, StepReboot, StepVerify} {
		got := Owner(Job{ID: "j1", Step: step}, "", StageNone, "j1")
		if got.Owns || got.Outcome.Code != CodeStaleJob {
			t.Errorf("step %s: Owner = owns %t, %v; want stale-job", step, got.Owns, got.Outcome)
		}
	}
	if got := Owner(Job{ID: "j1", Step: StepStage}, "", StageNone, "j0"); !got.Owns {
		t.Errorf("a job for an instance another job updated: Owner = %v, want owns", got.Outcome)
	}
}
