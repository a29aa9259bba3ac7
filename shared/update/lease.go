package update

import (
	"fmt"
	"time"
)

// AttrLease holds the lease of the job that owns the instance: when it expires, as an RFC 3339
// time in UTC. The worker holding the job renews it (RenewLease) whenever it looks at the
// instance; a lease long expired means that no worker holds the job any more (its message was
// lost: a queue purged or recreated, its retention run out), and the scanner reclaims the
// instance (Reclaimable). It is the one attribute the lease adds to the marks.
const AttrLease = "rollwave.lease"

// DefaultLease is the lease a worker writes when ROLLWAVE_LEASE is not set: four times the longest
// gap between two looks at a waiting job (a closed maintenance window's 15 minutes).
const DefaultLease = time.Hour

// LeaseValue is the value of rollwave.lease for a lease of d taken at now.
func LeaseValue(now time.Time, d time.Duration) string {
	return now.Add(d).UTC().Format(time.RFC3339)
}

// ParseLease parses a rollwave.lease value into its expiry.
func ParseLease(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse lease: %q is not an RFC 3339 time", s)
	}
	return t, nil
}

// RenewLease decides whether the worker holding a job renews its lease, given the instance's
// rollwave.lease value now: yes when less than half of a lease of d remains (or the value is
// absent or unreadable), so that a job looked at every few seconds writes once per half lease,
// not on every look. It returns the value to write. A worker that looks at the job at least
// every d/2 therefore never lets the lease expire.
func RenewLease(current string, now time.Time, d time.Duration) (string, bool) {
	if expires, err := ParseLease(current); err == nil && expires.Sub(now) >= d/2 {
		return "", false
	}
	return LeaseValue(now, d), true
}

// MaxLeaseGap is the longest a worker may leave a job between two looks (each of which renews
// the lease when RenewLease says so) for the lease of d never to expire under a live job: a
// quarter of the lease, leaving the other quarter of the half that RenewLease waits for to a
// message's delivery, a slow worker and clocks that disagree.
func MaxLeaseGap(d time.Duration) time.Duration { return d / 4 }

// MaxLeaseHold is the longest a worker may take over one piece of work after it wrote a fresh
// lease (with the stage write that starts it) before it writes the job's marks again: half the
// lease. The patcher's staging (lock, check, apply, check) is such a piece.
func MaxLeaseHold(d time.Duration) time.Duration { return d / 2 }

// ReclaimGrace is how long past its lease's expiry an instance must be before the scanner
// reclaims it: half a lease of d, so that a live job whose worker is merely slow (a long API call,
// a throttled look) renews first.
func ReclaimGrace(d time.Duration) time.Duration { return d / 2 }

// Claim is what the reclaimer reads of an instance's marks: the rollwave.job, rollwave.stage and
// rollwave.lease values ("" when absent) and the instance's ECS status.
type Claim struct {
	Job    string
	Stage  string
	Lease  string
	Status string // ACTIVE, DRAINING, ...
}

// ReclaimAction is what the scanner does with a marked instance.
type ReclaimAction string

// The reclaimer's actions.
const (
	// Keep: a live job holds the instance (its lease has not expired long enough), or no job
	// does, or a person does (stage failed): leave it alone.
	Keep ReclaimAction = "keep"
	// Adopt: the instance is marked without a lease (by a worker of an older version). Write a
	// lease of the configured length now, so that a job still running under that worker has a
	// whole lease to finish, and a lost one is reclaimed once it expires.
	Adopt ReclaimAction = "adopt"
	// Reclaim: the lease expired long ago; no worker holds the job. Undo what the job did
	// (Reclaim.Undo), remove the marks, and let the same scan send a fresh job.
	Reclaim ReclaimAction = "reclaim"
)

// ReclaimDecision is Reclaimable's answer.
type ReclaimDecision struct {
	Action ReclaimAction
	// Undo is what a reclaim undoes: cancel a staged (Ready) update, set the instance ACTIVE.
	// Reactivate is set only for an instance that rollwave drained (DrainedByRollwave) and that
	// is not ACTIVE: never one a person drained.
	Undo Undo
	// Expired is when the lease expired (zero for a mark without a lease).
	Expired time.Time
	// Reason says why, for the log and the event: "lease expired 2025-06-02T09:00:00Z, 45m ago".
	Reason string
}

// Reclaimable decides what the scanner does with an instance whose marks are c, at now, under a
// lease of d:
//
//   - not marked (no rollwave.job), or parked at stage failed: Keep (a failed instance waits for
//     a person, whatever its lease says);
//   - marked without a readable lease: Adopt;
//   - lease expired less than ReclaimGrace(d) ago, or not expired: Keep;
//   - otherwise Reclaim, undoing what the job's stage says: a staged update is cancelled if the
//     host still has it Ready (whatever the stage: Ready means it did not boot into it), and the
//     instance is set ACTIVE when rollwave drained it (draining, rebooting, verifying) and it is
//     not ACTIVE. An unknown stage value is reclaimed without re-activation: rollwave cannot tell
//     that it drained the instance.
func Reclaimable(c Claim, now time.Time, d time.Duration) ReclaimDecision {
	if c.Job == "" {
		return ReclaimDecision{Action: Keep, Reason: "no job owns it"}
	}
	stage, stageErr := ParseStage(c.Stage)
	if stageErr == nil && stage == StageFailed {
		return ReclaimDecision{Action: Keep, Reason: "parked failed: it waits for a person"}
	}
	expires, err := ParseLease(c.Lease)
	if err != nil {
		return ReclaimDecision{Action: Adopt, Reason: fmt.Sprintf("job %s holds it without a lease (marked by an older version)", c.Job)}
	}
	late := now.Sub(expires)
	if late < ReclaimGrace(d) {
		return ReclaimDecision{Action: Keep, Expired: expires, Reason: fmt.Sprintf("job %s holds its lease until %s", c.Job, c.Lease)}
	}
	undo := Undo{CancelUpdate: true}
	if stageErr == nil && stage.DrainedByRollwave() && c.Status != "ACTIVE" {
		undo.Reactivate = true
	}
	return ReclaimDecision{Action: Reclaim, Undo: undo, Expired: expires,
		Reason: fmt.Sprintf("the lease of job %s (stage %s) expired at %s, %s ago: no worker holds the job any more",
			c.Job, orNoStage(c.Stage), expires.UTC().Format(time.RFC3339), late.Round(time.Second))}
}

func orNoStage(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
