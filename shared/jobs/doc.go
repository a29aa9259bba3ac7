// Package jobs holds the bookkeeping of a job that every step's worker (patcher, drainer,
// verifier) does the same way, so that a worker's own package holds only its step's decisions:
// receiving a job message (Receive: decode, trust boundary, the instance's lock; AtStep: the
// queue's step), looking up its instance (Instance), keeping its lease (Leaser), publishing its
// start, recording the wait of a held job (Waits, EndWait), ending it (Ender: marks, pipeline
// event, metrics, error budget, the outcome's log line; EndIfGone for an instance or cluster
// that is gone), handing it to the next step (Forwarder), undoing what it did before its reboot
// (Undoer; Aborted with the message's outcome), and turning a step's result into the message's
// queue outcome (Outcome).
package jobs
