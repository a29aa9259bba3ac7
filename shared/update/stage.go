package update

import "fmt"

// Step is where a job message is in the pipeline, and so which queue carries it and which worker
// handles it next. Steps only move forward: stage, drain, reboot, verify.
type Step string

// The four steps, in order.
const (
	StepStage  Step = "stage"  // patcher: accept the job, mark the instance, apiclient update apply (no reboot)
	StepDrain  Step = "drain"  // drainer: eligibility, admission, DRAINING, wait until the tasks stopped
	StepReboot Step = "reboot" // patcher: apiclient reboot, exactly once per job
	StepVerify Step = "verify" // verifier: wait for the agent, check the version, ACTIVE, unmark
)

var steps = []Step{StepStage, StepDrain, StepReboot, StepVerify}

// Valid reports whether s is one of the four steps.
func (s Step) Valid() bool {
	for _, v := range steps {
		if s == v {
			return true
		}
	}
	return false
}

// Next returns the step after s; false for StepVerify, the last one, and for an invalid step.
func (s Step) Next() (Step, bool) {
	for i, v := range steps[:len(steps)-1] {
		if s == v {
			return steps[i+1], true
		}
	}
	return "", false
}

// The custom ECS attributes rollwave keeps on a container instance; the instance is the lock.
const (
	// AttrJob holds the ID of the job that owns the instance, from the moment the patcher accepts
	// the job until the job ends. The scanner filters on `attribute:rollwave.job !exists`.
	AttrJob = "rollwave.job"
	// AttrStage holds the instance's Stage.
	AttrStage = "rollwave.stage"
	// AttrOptOut, set by a person with any value, keeps rollwave away from the instance: the
	// scanner filters on `attribute:rollwave.optout !exists` and the patcher skips a job for it
	// (CodeOptedOut).
	AttrOptOut = "rollwave.optout"
	// AttrVerifiedAt is set by the verifier when it verified an update (an RFC 3339 time, UTC):
	// the instance awaits the health gate. The drainer's gate before the next drain in the
	// cluster requires that instance to run its tasks again and removes the attribute once it
	// does; when it does not by verified-at + the health gate timeout, the cluster halts.
	AttrVerifiedAt = "rollwave.verified-at"
	// AttrRollbackTo is set with AttrVerifiedAt: the version the instance ran before the update,
	// which a rollback after a failed health gate returns it to.
	AttrRollbackTo = "rollwave.rollback-to"
	// AttrUpdatedBy is set with AttrVerifiedAt to the ID of the job that updated the instance,
	// and stays until the next update replaces it. A copy of that job's message delivered again
	// after the job ended (SQS delivers at least once) finds it and ends as stale (CodeStaleJob)
	// instead of taking the instance again as a new job.
	AttrUpdatedBy = "rollwave.updated-by"
	// AttrFailure is set beside rollwave.stage=failed on an instance that a failed job left out
	// of service, with the failure's reason code, so a person sees why (`rollwave status`, the
	// console).
	AttrFailure = "rollwave.failure"
)

// Stage is the value of the rollwave.stage attribute: how far the owning job has taken the
// instance. StageNone (no attribute) means no job owns it.
type Stage string

// The stages, in the order a job passes them. StageFailed ends a job that leaves the instance
// for a person to look at.
const (
	StageNone      Stage = ""
	StageStaging   Stage = "staging"   // patcher is writing the update; instance in service
	StageStaged    Stage = "staged"    // update applied (Ready), not rebooted; instance in service
	StageAdmitting Stage = "admitting" // drainer's claim on a drain slot, checked after writing it
	StageDraining  Stage = "draining"  // set before DRAINING, so a crash never forgets a drain
	StageRebooting Stage = "rebooting" // set before the reboot command is sent
	StageVerifying Stage = "verifying" // verifier is waiting for the new boot
	StageFailed    Stage = "failed"    // job failed and left the instance marked for a person
)

var stages = []Stage{StageStaging, StageStaged, StageAdmitting, StageDraining, StageRebooting, StageVerifying, StageFailed}

// ParseStage parses a rollwave.stage attribute value; "" (attribute absent) is StageNone.
func ParseStage(s string) (Stage, error) {
	if s == "" {
		return StageNone, nil
	}
	for _, v := range stages {
		if Stage(s) == v {
			return v, nil
		}
	}
	return StageNone, fmt.Errorf("parse stage: %q is not a rollwave.stage value", s)
}

// rank orders the in-flight stages; StageNone and StageFailed are outside the order.
func (s Stage) rank() int {
	switch s {
	case StageStaging:
		return 1
	case StageStaged:
		return 2
	case StageAdmitting:
		return 3
	case StageDraining:
		return 4
	case StageRebooting:
		return 5
	case StageVerifying:
		return 6
	}
	return 0
}

// TakenOutOfService reports whether an instance at stage s counts as taken out of service by
// rollwave: admitting (a claim, which may be about to drain), draining, rebooting and verifying.
// Admission counts these whatever the instance's ECS status says. StageFailed is not counted by
// its stage: a failed instance left DRAINING is counted by its status, one left ACTIVE serves.
func (s Stage) TakenOutOfService() bool {
	return s.rank() >= StageAdmitting.rank()
}

// DrainedByRollwave reports whether rollwave may have set the instance DRAINING at stage s, and
// so may (and must) set it ACTIVE again when the job fails: draining, rebooting and verifying.
// The drainer writes stage=draining before it sets DRAINING, so a crash in between errs on the
// side of re-activating an instance that is ACTIVE anyway. At admitting rollwave has not drained
// yet: an instance that is DRAINING then was drained by someone else and is never re-activated.
// At failed the instance was deliberately left out of service for a person.
func (s Stage) DrainedByRollwave() bool {
	switch s {
	case StageDraining, StageRebooting, StageVerifying:
		return true
	}
	return false
}

// MayUnmark reports whether the instance's attributes may be removed at stage s when the job
// ends, i.e. whether the instance is not left for a person. False only for StageFailed.
func (s Stage) MayUnmark() bool { return s != StageFailed }

// CanFollow reports whether the rollwave.stage attribute may change from `from` to `to`. Writing
// the same stage again is always allowed (a redelivered message repeats its last write). The
// allowed moves:
//
//	none      -> staging
//	staging   -> staged                     (apply succeeded)
//	staged    -> admitting                  (drainer claims a slot)
//	admitting -> draining | staged          (admitted | backed off, claim withdrawn)
//	draining  -> rebooting
//	rebooting -> verifying
//	verifying -> none                       (updated: attributes removed)
//	any in-flight stage -> failed | none    (job failed: left marked | undone and unmarked)
//	failed    -> none                       (a person clears the mark)
func CanFollow(from, to Stage) bool {
	if from == to {
		return true
	}
	switch {
	case from == StageNone:
		return to == StageStaging
	case from == StageFailed:
		return to == StageNone
	case to == StageFailed || to == StageNone:
		return true
	case from == StageAdmitting && to == StageStaged:
		return true
	}
	return to.rank() == from.rank()+1
}

// Undo is what a job failing at some stage must do before it ends, in this order: cancel the
// staged update, re-activate the instance, then remove the rollwave attributes (or set
// stage=failed when the instance stays out of service for a person).
type Undo struct {
	// CancelUpdate: run `apiclient update cancel` if the host reports update_state Ready, so it
	// does not boot into the update by surprise at its next reboot. (Cancel is only allowed from
	// Ready; Staged, Available and Idle never boot the update.)
	CancelUpdate bool
	// Reactivate: set the instance ACTIVE, because rollwave may have drained it.
	Reactivate bool
}

// UndoAt returns what a job that fails while the instance is at stage s must undo.
//
//   - Before the drain (staging, staged, admitting): cancel the update; nothing was drained.
//   - Draining: cancel the update and re-activate.
//   - Rebooting, verifying: the reboot may have happened, so there is nothing left to cancel;
//     re-activate unless the verifier's policy keeps a failed host out of service (it then sets
//     stage=failed instead).
//   - None, failed: nothing (no job owns the instance, or a person does).
func UndoAt(s Stage) Undo {
	switch s {
	case StageStaging, StageStaged, StageAdmitting:
		return Undo{CancelUpdate: true}
	case StageDraining:
		return Undo{CancelUpdate: true, Reactivate: true}
	case StageRebooting, StageVerifying:
		return Undo{Reactivate: true}
	}
	return Undo{}
}
