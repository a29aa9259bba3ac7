package update

import (
	"fmt"
	"strings"
)

// TaskView is what eligibility needs to know about a task on the instance (from DescribeTasks).
type TaskView struct {
	ARN        string
	StartedBy  string // "ecs-svc/<id>" when a service (daemon services included) started it
	Group      string // "service:<name>" or "family:<name>"
	LastStatus string // PENDING, RUNNING, STOPPED, ...
}

// ServiceOwned reports whether a service started the task: its startedBy begins with "ecs-svc/".
// Such tasks are replaced elsewhere when the instance drains; other tasks (RunTask, StartTask,
// scheduled tasks, an empty startedBy) are not stopped by a drain.
func (t TaskView) ServiceOwned() bool { return strings.HasPrefix(t.StartedBy, "ecs-svc/") }

// StandalonePolicy says what to do with an instance that runs standalone tasks.
type StandalonePolicy string

// The standalone-task policies.
const (
	// StandaloneSkip (the default, and the zero value): skip the instance, as the original updater
	// did, so a batch job is never interrupted.
	StandaloneSkip StandalonePolicy = "skip"
	// StandaloneWait: drain anyway; the drain waits for standalone tasks to stop on their own and
	// fails with drain-timeout at its deadline.
	StandaloneWait StandalonePolicy = "wait"
	// StandaloneStop, opted into explicitly: drain anyway, and after a grace period stop the
	// standalone tasks that still run. Never the default.
	StandaloneStop StandalonePolicy = "stop"
)

// ParseStandalonePolicy parses "skip" (also ""), "wait" or "stop".
func ParseStandalonePolicy(s string) (StandalonePolicy, error) {
	switch StandalonePolicy(s) {
	case "", StandaloneSkip:
		return StandaloneSkip, nil
	case StandaloneWait, StandaloneStop:
		return StandalonePolicy(s), nil
	}
	return "", fmt.Errorf("parse standalone policy %q: want %q, %q or %q", s, StandaloneSkip, StandaloneWait, StandaloneStop)
}

// maxNamed bounds how many tasks a skip reason names.
const maxNamed = 5

// Eligible reports whether an instance running tasks may be drained. Under StandaloneSkip it is
// eligible iff every task that has not stopped is service-owned; otherwise the outcome is skipped
// with code standalone-task and a message naming the tasks. Under StandaloneWait every instance is
// eligible, as under StandaloneStop. When ok is true the Outcome is the zero value.
func Eligible(tasks []TaskView, policy StandalonePolicy) (ok bool, reason Outcome) {
	if policy == StandaloneWait || policy == StandaloneStop {
		return true, Outcome{}
	}
	var standalone []string
	for _, t := range Standalone(tasks) {
		standalone = append(standalone, describeTask(t))
	}
	if len(standalone) == 0 {
		return true, Outcome{}
	}
	named := standalone
	if len(named) > maxNamed {
		named = append(named[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(standalone)-maxNamed))
	}
	noun := "task"
	if len(standalone) > 1 {
		noun = "tasks"
	}
	return false, Skipped(CodeStandaloneTask, fmt.Sprintf("runs %d %s not started by a service, which a drain would not stop: %s",
		len(standalone), noun, strings.Join(named, ", ")))
}

// Standalone returns the tasks that no service started (ServiceOwned) and that have not
// stopped: what a drain would not stop, and what the standalone policy is about.
func Standalone(tasks []TaskView) []TaskView {
	var out []TaskView
	for _, t := range tasks {
		if t.LastStatus != "STOPPED" && !t.ServiceOwned() {
			out = append(out, t)
		}
	}
	return out
}

func describeTask(t TaskView) string {
	id := t.ARN
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	by := t.StartedBy
	if by == "" {
		by = "nobody"
	}
	if t.Group != "" {
		return fmt.Sprintf("%s (%s, started by %s)", id, t.Group, by)
	}
	return fmt.Sprintf("%s (started by %s)", id, by)
}
