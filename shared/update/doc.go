// Package update is rollwave's domain, pure (standard library only, no I/O, time passed in as
// now): the job message (rollwave.job/v1), its steps, the rollwave.stage attribute and which
// stage may follow which, what a failure must undo, admission of drains against a per-cluster
// limit, eligibility of an instance, verification after the reboot, and how a job ends.
//
// A job travels through four steps, one queue each; the instance's rollwave.stage attribute
// records how far the job has taken the instance, so that a worker that dies is replaced by one
// that resumes from it:
//
//	step (worker)        rollwave.stage                       the instance
//	-------------        --------------                       ------------
//	stage  (patcher)     (none)                               ACTIVE, serving
//	                       |  accept: rollwave.job=<id>
//	                       v
//	                     staging                              apiclient update apply
//	                       |
//	                       v
//	                     staged  <------------+               update Ready, still serving
//	drain  (drainer)       |  CanClaim        | back off
//	                       v                  | (claim withdrawn)
//	                     admitting -----------+               counted out of service
//	                       |  Admit: proceed
//	                       v
//	                     draining                             then set DRAINING, wait for tasks
//	reboot (patcher)       |
//	                       v
//	                     rebooting                            apiclient reboot, exactly once
//	verify (verifier)      |
//	                       v
//	                     verifying                            wait for the agent, check version
//	                       |
//	                       v
//	                     (none)                               ACTIVE, serving: updated
//
//	from any stage above, on failure (UndoAt says what to undo first):
//	                     (none)                               update cancelled, ACTIVE if
//	                                                          rollwave drained it
//	                     failed                               left out of service, marked for
//	                                                          a person (only after the drain)
//
// rollwave.job holds the job ID for as long as the job owns the instance; both attributes are
// removed when the job ends, except at failed. A third, rollwave.lease, says until when the job
// holds the instance: the worker holding the job renews it (RenewLease), and the scanner reclaims
// an instance whose lease expired long ago, its job lost with its message (Reclaimable). Skipped and duplicate jobs end without touching
// the instance's service state.
//
// Admission is claim-then-check: the drainer calls CanClaim, writes stage=admitting, re-reads the
// cluster and calls Admit, which lets it proceed only if every out-of-service instance, every
// claim included, fits the Limit. Writing stage=draining before setting DRAINING means rollwave
// never forgets an instance it drained, and DrainedByRollwave means it never re-activates one a
// person drained.
package update
