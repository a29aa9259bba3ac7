package update

import (
	"fmt"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// Verdict is what the verifier concludes from one update check after the reboot.
type Verdict struct {
	// Done is false while the verifier must look again later (Reason says why); true when
	// Outcome is final.
	Done    bool
	Outcome Outcome
	Reason  string
}

// Verify judges the host's update status after the job's reboot:
//
//   - active version == TargetVersion (or, with no target, != FromVersion): updated;
//   - active version == FromVersion and update_state Ready: the host has not rebooted yet (the
//     update is still activated for the next boot): look again later;
//   - active version == FromVersion and any other state: the host booted the old version, so
//     Bottlerocket rolled the update back: failed, boot-failed-rolled-back;
//   - any other version: failed, unexpected-version;
//   - no target and no FromVersion: failed, unverifiable (nothing to compare with).
//
// "Never came back" is not judged here: the verifier fails the job with never-came-back when
// Job.Overdue says the verify step outlived its deadline without a status to judge.
func Verify(job Job, status bottlerocket.Status) Verdict {
	active := status.ActiveVersion()
	same := func(a, b string) bool {
		if a == "" || b == "" {
			return false
		}
		c, err := bottlerocket.Compare(a, b)
		if err != nil {
			return a == b
		}
		return c == 0
	}
	switch {
	case job.TargetVersion != "" && same(active, job.TargetVersion):
		return Verdict{Done: true, Outcome: Updated(job.FromVersion, active)}
	case job.TargetVersion == "" && job.FromVersion == "":
		return Verdict{Done: true, Outcome: Failed(CodeUnverifiable,
			fmt.Sprintf("runs %s, but the job has neither targetVersion nor fromVersion to compare with", active))}
	case same(active, job.FromVersion) && status.UpdateState == bottlerocket.StateReady:
		return Verdict{Reason: fmt.Sprintf("still runs %s with the update Ready: not rebooted yet", active)}
	case same(active, job.FromVersion):
		return Verdict{Done: true, Outcome: Failed(CodeBootFailedRolledBack,
			fmt.Sprintf("booted %s again (update state %s): the new version did not boot and Bottlerocket rolled back", active, status.UpdateState))}
	case job.TargetVersion == "":
		return Verdict{Done: true, Outcome: Updated(job.FromVersion, active)}
	}
	return Verdict{Done: true, Outcome: Failed(CodeUnexpectedVersion,
		fmt.Sprintf("runs %s, neither the target %s nor the previous %s", active, job.TargetVersion, orUnknown(job.FromVersion)))}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// VerifyFailurePolicy says what becomes of an instance whose update failed after its reboot.
// Either way the job ends failed and counts against the error budget; the policy only decides
// whether the instance stays out of service for a person.
type VerifyFailurePolicy string

// The policies for an instance whose update failed after its reboot.
const (
	// ParkFailed (the default): the instance stays as the failure left it (DRAINING, or down),
	// marked rollwave.stage=failed and rollwave.failure, for a person. It counts against its
	// cluster's limit like any instance out of service.
	ParkFailed VerifyFailurePolicy = "park"
	// ReturnFailed: an instance that answers on the version it ran before the job
	// (boot-failed-rolled-back) is pinned to that version, set ACTIVE and marked failed, so it
	// serves again, no longer counts against the limit, and no scan offers it the failed version
	// again. Every other failure parks as under ParkFailed.
	ReturnFailed VerifyFailurePolicy = "return"
)

// ParseVerifyFailurePolicy parses "park" (also "") or "return". The values of earlier releases,
// keep-out and reactivate, are refused with what replaced them.
func ParseVerifyFailurePolicy(s string) (VerifyFailurePolicy, error) {
	switch VerifyFailurePolicy(s) {
	case "", ParkFailed:
		return ParkFailed, nil
	case ReturnFailed:
		return ReturnFailed, nil
	}
	switch s {
	case "keep-out":
		return "", fmt.Errorf("parse verify failure policy %q: keep-out is now %q", s, ParkFailed)
	case "reactivate":
		return "", fmt.Errorf("parse verify failure policy %q: reactivate is now %q, which returns only an instance that rolled back to its previous version, pinned to it", s, ReturnFailed)
	}
	return "", fmt.Errorf("parse verify failure policy %q: want %q or %q", s, ParkFailed, ReturnFailed)
}

// Returns reports whether an instance whose update failed with code goes back into service
// under p: only under ReturnFailed, and only for boot-failed-rolled-back, where the host booted
// its previous version again and answered the update check on it. A host on a version nobody
// chose (unexpected-version) or one that does not answer (never-came-back) stays parked.
func (p VerifyFailurePolicy) Returns(code Code) bool {
	return p == ReturnFailed && code == CodeBootFailedRolledBack
}
