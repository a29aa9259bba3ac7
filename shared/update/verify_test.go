package update

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

func TestVerify(t *testing.T) {
	status := func(state bottlerocket.UpdateState, active string) bottlerocket.Status {
		return bottlerocket.Status{UpdateState: state, ActivePartition: &bottlerocket.Partition{Image: bottlerocket.Image{Version: active}}}
	}
	targeted := Job{FromVersion: "1.19.5", TargetVersion: "1.20.3"}
	untargeted := Job{FromVersion: "1.19.5"}
	tests := []struct {
		name   string
		job    Job
		status bottlerocket.Status
		want   Verdict
	}{
		{"running the target is updated", targeted, status(bottlerocket.StateIdle, "1.20.3"),
			Verdict{Done: true, Outcome: Updated("1.19.5", "1.20.3")}},
		{"a rollback (lockVersion) running its older target succeeds", Job{FromVersion: "1.20.3", TargetVersion: "1.19.5", LockVersion: true},
			status(bottlerocket.StateIdle, "1.19.5"), Verdict{Done: true, Outcome: Updated("1.20.3", "1.19.5")}},
		{"running the target with a newer update already available is still updated", targeted, status(bottlerocket.StateAvailable, "1.20.3"),
			Verdict{Done: true, Outcome: Updated("1.19.5", "1.20.3")}},
		{"without a target, any version other than the old one is updated", untargeted, status(bottlerocket.StateIdle, "1.20.4"),
			Verdict{Done: true, Outcome: Updated("1.19.5", "1.20.4")}},
		{"the old version with the update Ready has not rebooted yet", targeted, status(bottlerocket.StateReady, "1.19.5"),
			Verdict{Reason: "still runs 1.19.5 with the update Ready: not rebooted yet"}},
		{"the old version with the update Ready and no target: wait too", untargeted, status(bottlerocket.StateReady, "1.19.5"),
			Verdict{Reason: "still runs 1.19.5 with the update Ready: not rebooted yet"}},
		{"the old version and Available: the new version did not boot", targeted, status(bottlerocket.StateAvailable, "1.19.5"),
			Verdict{Done: true, Outcome: Failed(CodeBootFailedRolledBack,
				"booted 1.19.5 again (update state Available): the new version did not boot and Bottlerocket rolled back")}},
		{"the old version and Idle: rolled back as well", untargeted, status(bottlerocket.StateIdle, "1.19.5"),
			Verdict{Done: true, Outcome: Failed(CodeBootFailedRolledBack,
				"booted 1.19.5 again (update state Idle): the new version did not boot and Bottlerocket rolled back")}},
		{"a version that is neither old nor target fails", targeted, status(bottlerocket.StateIdle, "1.20.2"),
			Verdict{Done: true, Outcome: Failed(CodeUnexpectedVersion, "runs 1.20.2, neither the target 1.20.3 nor the previous 1.19.5")}},
		{"the target without a known old version is updated", Job{TargetVersion: "1.20.3"}, status(bottlerocket.StateIdle, "1.20.3"),
			Verdict{Done: true, Outcome: Updated("", "1.20.3")}},
		{"nothing to compare with cannot be verified", Job{}, status(bottlerocket.StateIdle, "1.20.3"),
			Verdict{Done: true, Outcome: Failed(CodeUnverifiable, "runs 1.20.3, but the job has neither targetVersion nor fromVersion to compare with")}},
		{"versions compare by precedence: build metadata is ignored", targeted, status(bottlerocket.StateIdle, "1.20.3+abc"),
			Verdict{Done: true, Outcome: Updated("1.19.5", "1.20.3+abc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Verify(tt.job, tt.status)); diff != "" {
				t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVerifyFailurePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    VerifyFailurePolicy
		wantErr string
	}{
		{"", ParkFailed, ""},
		{"park", ParkFailed, ""},
		{"return", ReturnFailed, ""},
		{"keep-out", "", `parse verify failure policy "keep-out": keep-out is now "park"`},
		{"reactivate", "", `parse verify failure policy "reactivate": reactivate is now "return", which returns only an instance that rolled back to its previous version, pinned to it`},
		{"Return", "", `parse verify failure policy "Return": want "park" or "return"`},
	}
	for _, tt := range tests {
		got, err := ParseVerifyFailurePolicy(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseVerifyFailurePolicy(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestVerifyFailurePolicyReturns(t *testing.T) {
	tests := []struct {
		name   string
		policy VerifyFailurePolicy
		code   Code
		want   bool
	}{
		{"return: a host that booted its previous version again and answers goes back into service", ReturnFailed, CodeBootFailedRolledBack, true},
		{"return: a host on a version nobody chose stays parked", ReturnFailed, CodeUnexpectedVersion, false},
		{"return: a host that does not answer stays parked", ReturnFailed, CodeNeverCameBack, false},
		{"return: an instance ECS refused to set ACTIVE stays as ECS left it", ReturnFailed, CodeReactivateFailed, false},
		{"park: even a rolled-back host stays parked", ParkFailed, CodeBootFailedRolledBack, false},
	}
	for _, tt := range tests {
		if got := tt.policy.Returns(tt.code); got != tt.want {
			t.Errorf("%s: %q.Returns(%s) = %v, want %v", tt.name, tt.policy, tt.code, got, tt.want)
		}
	}
}
