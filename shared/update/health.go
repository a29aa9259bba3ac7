package update

import (
	"fmt"
	"strings"
	"time"
)

// ServiceHealth is what the health gate needs to know about one service of the cluster
// (DescribeServices).
type ServiceHealth struct {
	Name                      string
	Desired, Running, Pending int
	Deployments               int
}

// Steady reports whether every service is settled: at least its desired count running, one
// deployment. It is the health gate before the next drain in a cluster: the services that the
// earlier drains moved (and the instances they updated, whose tasks come back through them) are
// whole again. Tasks pending or running beyond the desired count beside a whole set are the
// replacements ECS starts before it stops the tasks of an instance being drained (maximumPercent
// above 100): the work of a drain under way, not a sign of trouble, so they do not close the gate,
// or no two drains of a cluster could ever overlap and a limit above one would serialise into one
// drain per settled moment. A task missing, or a deployment under way, does close it; a task
// that does not start on an updated instance is the gate's other check (UpdatedInstance). When
// ok is false, why names the services that are not settled, for people.
func Steady(services []ServiceHealth) (ok bool, why string) {
	var unsettled []string
	for _, s := range services {
		if s.Running >= s.Desired && s.Deployments <= 1 {
			continue
		}
		unsettled = append(unsettled, fmt.Sprintf("%s running %d of %d, %d pending, %d deployments", s.Name, s.Running, s.Desired, s.Pending, s.Deployments))
	}
	if len(unsettled) == 0 {
		return true, ""
	}
	if len(unsettled) > maxNamed {
		unsettled = append(unsettled[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(unsettled)-maxNamed))
	}
	return false, "services not at steady state: " + strings.Join(unsettled, "; ")
}

// UpdatedInstance is an instance that rollwave updated and verified (it carries AttrVerifiedAt) and
// whose health the gate has not confirmed yet, as read from ECS before the next drain.
type UpdatedInstance struct {
	Name           string // the EC2 instance ID, for people
	VerifiedAt     time.Time
	Status         string // ACTIVE, DRAINING, ...
	AgentConnected bool
	Running        int // runningTasksCount
	Pending        int // pendingTasksCount
}

// runsAgain reports whether the instance is back in service running its tasks: ACTIVE, its agent
// connected and no task stuck PENDING on it (a task the scheduler placed there and that does not
// start). Its services' tasks RUNNING somewhere is what Steady checks.
func (u UpdatedInstance) runsAgain() (bool, string) {
	switch {
	case u.Status != "ACTIVE":
		return false, fmt.Sprintf("%s (updated last) is %s", u.Name, u.Status)
	case !u.AgentConnected:
		return false, fmt.Sprintf("%s (updated last) has its ECS agent disconnected", u.Name)
	case u.Pending > 0:
		return false, fmt.Sprintf("%s (updated last) has %d tasks that do not start (PENDING), %d running", u.Name, u.Pending, u.Running)
	}
	return true, ""
}

// GateVerdict is the health gate's answer before a drain.
type GateVerdict struct {
	// Open: the drain may go on; the updated instances passed and their marks may go.
	Open bool
	// Why says, when closed, what the gate waits for.
	Why string
	// Expired: closed, and the deadline (the newest verified-at + the gate timeout) has passed:
	// the cluster halts, and Suspects are the instances to roll back when the policy says so.
	Expired  bool
	Deadline time.Time
	Suspects []UpdatedInstance
}

// Gate is the health gate before the next drain in a cluster: every service is at steady state
// (Steady) and every instance rollwave updated since the gate last passed (updated) is back in
// service without tasks stuck PENDING. It stays closed, and the drain waits, until that holds; if
// it still does not hold timeout after the newest verified-at, the gate has failed (Expired).
// Suspects are the updated instances that do not run again, or, when only services fail to
// settle, the instance updated last.
func Gate(services []ServiceHealth, updated []UpdatedInstance, timeout time.Duration, now time.Time) GateVerdict {
	var whys []string
	steady, why := Steady(services)
	if !steady {
		whys = append(whys, why)
	}
	var suspects []UpdatedInstance
	var newest UpdatedInstance
	for _, u := range updated {
		if u.VerifiedAt.After(newest.VerifiedAt) {
			newest = u
		}
		if ok, why := u.runsAgain(); !ok {
			suspects = append(suspects, u)
			whys = append(whys, why)
		}
	}
	if len(whys) == 0 {
		return GateVerdict{Open: true}
	}
	v := GateVerdict{Why: strings.Join(whys, "; ")}
	if len(updated) == 0 || timeout <= 0 {
		return v
	}
	v.Deadline = newest.VerifiedAt.Add(timeout)
	if now.Before(v.Deadline) {
		return v
	}
	v.Expired = true
	v.Suspects = suspects
	if len(suspects) == 0 {
		v.Suspects = []UpdatedInstance{newest}
	}
	v.Why = fmt.Sprintf("not healthy %s after %s was verified at %s: %s", timeout, newest.Name, newest.VerifiedAt.UTC().Format(time.RFC3339), v.Why)
	return v
}
