package update

import (
	"errors"
	"fmt"
)

// Result is how a job ended.
type Result string

// The four results.
const (
	ResultUpdated   Result = "updated"   // the instance runs the new version and serves again
	ResultSkipped   Result = "skipped"   // nothing was done, on purpose (see the code)
	ResultFailed    Result = "failed"    // something went wrong (see the code)
	ResultDuplicate Result = "duplicate" // another job owns the instance; this one did nothing
)

// Code is a short machine-readable reason, stable across releases: dashboards and alerts match on
// it, people read Outcome.Message.
type Code string

// Reason codes. docs/job.md lists them with what each means for the instance.
const (
	CodeUpdated Code = "updated" // ResultUpdated always carries this code

	// skipped
	CodeNoUpdate       Code = "no-update"        // update check says Idle: nothing to install
	CodeStandaloneTask Code = "standalone-task"  // a task not started by a service runs there
	CodeDrainedByOther Code = "drained-by-other" // the instance is out of service, not by rollwave
	CodeInstanceGone   Code = "instance-gone"    // deregistered or terminated
	CodeDryRun         Code = "dry-run"          // the job asked to change nothing
	CodeOptedOut       Code = "opted-out"        // the instance carries the rollwave.optout attribute

	// failed
	CodeStagingFailed        Code = "staging-failed"          // apiclient update apply failed; nothing drained
	CodeDrainTimeout         Code = "drain-timeout"           // tasks still running at the drain deadline
	CodeDrainFailed          Code = "drain-failed"            // ECS refused DRAINING
	CodeRebootFailed         Code = "reboot-failed"           // the reboot command could not be sent
	CodeNeverCameBack        Code = "never-came-back"         // no agent/SSM after the reboot by the deadline
	CodeBootFailedRolledBack Code = "boot-failed-rolled-back" // booted the old version: Bottlerocket rolled back
	CodeUnexpectedVersion    Code = "unexpected-version"      // booted neither the old nor the target version
	CodeUnverifiable         Code = "unverifiable"            // no target and no fromVersion to compare with
	CodeReactivateFailed     Code = "reactivate-failed"       // ECS refused ACTIVE after the update

	// duplicate
	CodeJobInFlight Code = "job-in-flight" // rollwave.job names another job
)

// Outcome is a job's end: a result, a reason code and a message for people.
type Outcome struct {
	Result  Result `json:"result"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Updated is the outcome of a job that moved the instance from one version to another.
func Updated(from, to string) Outcome {
	if from == "" {
		return Outcome{Result: ResultUpdated, Code: CodeUpdated, Message: "updated to " + to}
	}
	return Outcome{Result: ResultUpdated, Code: CodeUpdated, Message: fmt.Sprintf("updated from %s to %s", from, to)}
}

// Skipped is the outcome of a job that did nothing on purpose.
func Skipped(code Code, message string) Outcome {
	return Outcome{Result: ResultSkipped, Code: code, Message: message}
}

// Failed is the outcome of a job that went wrong.
func Failed(code Code, message string) Outcome {
	return Outcome{Result: ResultFailed, Code: code, Message: message}
}

// Duplicate is the outcome of a job that found the instance owned by job other.
func Duplicate(other string) Outcome {
	return Outcome{Result: ResultDuplicate, Code: CodeJobInFlight, Message: fmt.Sprintf("job %s already owns the instance", other)}
}

// String is "result (code): message", the form history notes and logs use.
func (o Outcome) String() string {
	return fmt.Sprintf("%s (%s): %s", o.Result, o.Code, o.Message)
}

func (o Outcome) validate() error {
	switch o.Result {
	case ResultUpdated, ResultSkipped, ResultFailed, ResultDuplicate:
	default:
		return fmt.Errorf("result %q is not updated, skipped, failed or duplicate", o.Result)
	}
	switch {
	case o.Code == "":
		return errors.New("code missing")
	case len(o.Code) > MaxCodeLength || !codeRe.MatchString(string(o.Code)):
		return fmt.Errorf("code %s is not lowercase words joined by hyphens, at most %d characters", quoteShort(string(o.Code)), MaxCodeLength)
	case !sqsText(o.Message):
		return errors.New("message holds U+FFFE or U+FFFF, which an SQS message cannot carry")
	}
	return nil
}

// codeWords says what each code means, in the words a person reads in a summary or on a rollout's
// page; docs/job.md has the same meanings at length.
var codeWords = map[Code]string{
	CodeUpdated:              "updated to the new version",
	CodeNoUpdate:             "no update to install",
	CodeStandaloneTask:       "a task that no service started runs there",
	CodeDrainedByOther:       "out of service, and not by rollwave",
	CodeInstanceGone:         "the instance is gone (deregistered or terminated)",
	CodeDryRun:               "a dry run: nothing changed",
	CodeOptedOut:             "opted out with the rollwave.optout attribute",
	CodeStagingFailed:        "the update could not be staged; nothing was drained",
	CodeDrainTimeout:         "tasks still ran at the drain deadline",
	CodeDrainFailed:          "ECS refused to drain the instance",
	CodeRebootFailed:         "the reboot could not be sent",
	CodeNeverCameBack:        "the host did not come back after its reboot",
	CodeBootFailedRolledBack: "the new version failed to boot; Bottlerocket rolled back",
	CodeUnexpectedVersion:    "the host booted an unexpected version",
	CodeUnverifiable:         "no version to verify the update against",
	CodeReactivateFailed:     "ECS refused to return the instance to service",
	CodeJobInFlight:          "another job owns the instance",
}

// Words says what c means in a few words, for people; a code rollwave does not know is returned
// as it is.
func (c Code) Words() string {
	if w, ok := codeWords[c]; ok {
		return w
	}
	return string(c)
}
