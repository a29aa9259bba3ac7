package update

import (
	"fmt"
	"strings"
)

// Reason codes of a job message that does not own its instance. Such a job ends at once, changes
// nothing, publishes no pipeline event and never counts against the error budget: only the job
// whose ID the instance's rollwave.job names can fail it.
const (
	// CodeNotOwner: no job owns the instance (no rollwave.job), and this job never marked it: a
	// forged or hand-written job at a later step, or a copy of a job that never started.
	CodeNotOwner Code = "not-owner"
	// CodeStaleJob: a copy of a job that already ended, or that is now at another step (a
	// redelivered or redriven message): the instance carries no mark any more although the job
	// had marked it, is parked failed by this job, or is at a stage this step never finds.
	CodeStaleJob Code = "stale-job"
)

// stepStages are the stages at which each step finds the instance of a job that owns it; a
// copy of the job at any other stage is stale. StageNone belongs to the stage step: that is where
// the patcher takes the instance.
var stepStages = map[Step][]Stage{
	StepStage:  {StageNone, StageStaging, StageStaged},
	StepDrain:  {StageStaged, StageAdmitting, StageDraining},
	StepReboot: {StageDraining, StageRebooting, StageVerifying},
	StepVerify: {StageRebooting, StageVerifying},
}

// Ownership is what a job may do with its instance, decided from the instance's marks before any
// write.
type Ownership struct {
	// Owns is true when the job may act: the instance is marked with the job's ID at a stage of
	// the job's step, or (step stage only) no job owns it yet and the patcher is taking it.
	Owns bool
	// Outcome ends a job that does not own the instance: Duplicate when another job does,
	// CodeNotOwner or CodeStaleJob otherwise (Ignored reports those two).
	Outcome Outcome
}

// Owner decides whether job, at its current step, owns the instance whose rollwave.job is owner
// and whose rollwave.stage is stage. It is the one rule of ownership every worker applies:
//
//   - another job's mark: Duplicate (job-in-flight);
//   - no mark, and the instance records this job as the one that updated it (updatedBy, the
//     instance's rollwave.updated-by): the job ended before (stale-job), at any step; a copy of
//     its first message, delivered again, carries no sign of acceptance;
//   - no mark: a job whose history shows that the patcher accepted it (marked the instance) ended
//     before (stale-job), at any step: at step stage that is a copy the patcher sent back to
//     itself (waiting for its apply, or for the host's wave), delivered again after the job
//     ended; a job never accepted takes the instance at step stage and never marked it at a
//     later step (not-owner);
//   - the job's own mark at a stage that its step never finds (failed, or a later or earlier
//     stage): stale-job, a copy of a job that ended or moved on;
//   - the job's own mark at a stage of its step: Owns.
func Owner(job Job, owner string, stage Stage, updatedBy string) Ownership {
	step := job.Step
	if step == "" {
		step = StepStage
	}
	switch {
	case owner != "" && owner != job.ID:
		return Ownership{Outcome: Duplicate(owner)}
	case owner == "" && updatedBy == job.ID:
		return Ownership{Outcome: Skipped(CodeStaleJob, fmt.Sprintf(
			"job %s at step %s: the instance records that this job updated it (%s) and carries no %s: the job ended before (this is a stale copy); nothing changed",
			job.ID, step, AttrUpdatedBy, AttrJob))}
	case owner == "" && step == StepStage && !job.Accepted():
		return Ownership{Owns: true}
	case owner == "" && job.Accepted():
		return Ownership{Outcome: Skipped(CodeStaleJob, fmt.Sprintf(
			"job %s at step %s: the instance carries no %s, so the job ended before (this is a stale copy); nothing changed", job.ID, step, AttrJob))}
	case owner == "":
		return Ownership{Outcome: Skipped(CodeNotOwner, fmt.Sprintf(
			"job %s at step %s: no job owns the instance (no %s) and this job never marked it; nothing changed", job.ID, step, AttrJob))}
	}
	for _, s := range stepStages[step] {
		if s == stage {
			return Ownership{Owns: true}
		}
	}
	return Ownership{Outcome: Skipped(CodeStaleJob, fmt.Sprintf(
		"job %s at step %s: the instance is at stage %q, which this step never finds: the job ended or moved on (this is a stale copy); nothing changed",
		job.ID, step, orNone(string(stage))))}
}

// Ignored reports whether o is the end of a job that did not own its instance (not-owner,
// stale-job): such an ending changes nothing, publishes nothing and is only logged and counted.
func (o Outcome) Ignored() bool { return o.Code == CodeNotOwner || o.Code == CodeStaleJob }

// Accepted reports whether the job's history shows that the patcher accepted it (marked its
// instance): an entry of the patcher at step stage noting the acceptance.
func (j Job) Accepted() bool {
	for _, e := range j.History {
		if e.Step == StepStage && e.By == "patcher" && strings.HasPrefix(e.Note, AcceptedNote) {
			return true
		}
	}
	return false
}

// AcceptedNote begins the history note with which the patcher accepts a job.
const AcceptedNote = "accepted"

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ClusterName returns the name of an ECS cluster given by name or by ARN
// (arn:<partition>:ecs:<region>:<account>:cluster/<name>), spaces trimmed. Names and ARNs of a
// cluster are one identity: policies, pauses and the error budget are keyed by the name.
func ClusterName(cluster string) string {
	cluster = strings.TrimSpace(cluster)
	if strings.HasPrefix(cluster, "arn:") {
		if i := strings.LastIndex(cluster, ":cluster/"); i >= 0 {
			return cluster[i+len(":cluster/"):]
		}
	}
	return cluster
}
