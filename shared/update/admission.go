package update

import (
	"fmt"
	"strconv"
	"strings"
)

// Limit is the most instances of a cluster that may be out of service at once: a count ("1",
// "2") or a percentage of the cluster's instances ("20%"). The zero Limit is invalid; use
// ParseLimit or DefaultLimit.
type Limit struct {
	n       int
	percent bool
}

// DefaultLimit is one instance per cluster, as the original updater.
var DefaultLimit = Limit{n: 1}

// ParseLimit parses a count of at least 1 ("1", "2") or a percentage from 1% to 100% ("20%").
func ParseLimit(s string) (Limit, error) {
	num, percent := strings.CutSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(num)
	switch {
	case err != nil:
		return Limit{}, fmt.Errorf("parse limit %q: want a count like 2 or a percentage like 20%%", s)
	case percent && (n < 1 || n > 100):
		return Limit{}, fmt.Errorf("parse limit %q: a percentage must be from 1%% to 100%%", s)
	case n < 1:
		return Limit{}, fmt.Errorf("parse limit %q: a count must be at least 1", s)
	}
	return Limit{n: n, percent: percent}, nil
}

// Max returns how many of total instances may be out of service: the count, or the percentage
// of total rounded down but at least 1 (so a small cluster still makes progress).
func (l Limit) Max(total int) int {
	if !l.percent {
		return l.n
	}
	return max(total*l.n/100, 1)
}

// String formats l as ParseLimit accepts it.
func (l Limit) String() string {
	if l.percent {
		return strconv.Itoa(l.n) + "%"
	}
	return strconv.Itoa(l.n)
}

// InstanceView is what admission needs to know about one container instance of the cluster, as
// read from ECS (DescribeContainerInstances) just before deciding.
type InstanceView struct {
	ARN            string
	EC2InstanceID  string // optional; names the instance in reasons when set
	Status         string // ACTIVE, DRAINING, REGISTERING, ...
	AgentConnected bool
	Job            string // rollwave.job value, "" when absent
	Stage          Stage  // rollwave.stage value
}

// OutOfService reports whether the instance counts against the limit. The limit promises that no
// more instances are out of service than allowed, whoever and whatever took them out, so every
// instance that does not serve counts:
//
//   - its status is not ACTIVE: drained by rollwave, drained by a person, or parked DRAINING after
//     a failed update (stage failed) until a person deals with it;
//   - its ECS agent is disconnected: ECS places no task on it, whatever its status says (a host
//     that is down, or whose agent went away). An agent that flaps costs a drain a back-off,
//     never the promise;
//   - rollwave claimed it (stage admitting or later), even before it set it DRAINING.
//
// An instance that a failed job returned to service (ACTIVE, agent connected, stage failed)
// serves, and does not count (docs/decisions/failed-instances-and-the-limit.md).
func (v InstanceView) OutOfService() bool {
	return v.Status != "ACTIVE" || !v.AgentConnected || v.Stage.TakenOutOfService()
}

// CountOutOfService returns how many of instances are out of service (OutOfService): what the
// limits count.
func CountOutOfService(instances []InstanceView) int {
	n := 0
	for _, v := range instances {
		if v.OutOfService() {
			n++
		}
	}
	return n
}

// Census is a cluster as the limits read it: how many instances it has, and the views of the
// instances that may count against its limit. Instances need not hold every instance of the
// cluster, only every one that is out of service (OutOfService) and the job's own: the others
// serve, and count only in Total.
type Census struct {
	// Total is the cluster's size, which a percentage limit is taken of.
	Total     int
	Instances []InstanceView
}

// OutOfServiceFilter is the ECS cluster query that finds, among a cluster's instances, those that
// are out of service for a reason other than their status: an agent that is disconnected, or a
// stage at which rollwave took the instance out (TakenOutOfService). With the cluster's
// instances of every status but ACTIVE it finds every instance OutOfService counts.
func OutOfServiceFilter() string {
	var taken []string
	for _, s := range stages {
		if s.TakenOutOfService() {
			taken = append(taken, string(s))
		}
	}
	return fmt.Sprintf("agentConnected == false or attribute:%s in [%s]", AttrStage, strings.Join(taken, ", "))
}

func (v InstanceView) name() string {
	if v.EC2InstanceID != "" {
		return v.EC2InstanceID
	}
	if i := strings.LastIndexByte(v.ARN, '/'); i >= 0 {
		return v.ARN[i+1:]
	}
	return v.ARN
}

// why says in a word or two why the instance is out of service: "draining" (rollwave's stage),
// "failed, draining", "draining, not by rollwave", "agent disconnected".
func (v InstanceView) why() string {
	if v.Stage.TakenOutOfService() {
		return string(v.Stage)
	}
	var parts []string
	if v.Stage == StageFailed {
		parts = append(parts, "failed")
	}
	if v.Status != "ACTIVE" {
		parts = append(parts, strings.ToLower(v.Status))
		if v.Stage != StageFailed {
			parts = append(parts, "not by rollwave")
		}
	}
	if !v.AgentConnected {
		parts = append(parts, "agent disconnected")
	}
	return strings.Join(parts, ", ")
}

// Action is what admission tells the drainer to do.
type Action string

// The three actions.
const (
	// Proceed: drain (CanClaim: write the claim, then call Admit).
	Proceed Action = "proceed"
	// BackOff: not now; withdraw the claim (stage back to staged) if one was written, and ask again
	// later with jitter.
	BackOff Action = "back-off"
	// Refuse: never for this job; the instance is out of service for someone else's reasons (or
	// the job's claim is gone). Withdraw any claim and end the job as Decision.Outcome says.
	Refuse Action = "refuse"
)

// Decision is the answer of CanClaim or Admit.
type Decision struct {
	Action       Action
	OutOfService int     // instances counted out of service, including the job's own claim
	Max          int     // Limit.Max(total)
	Reason       string  // for people: "cluster prod: 1 of at most 1 instances out of service (i-abc draining)"
	Outcome      Outcome // set when Action is Refuse
}

// Proceed reports whether the decision is to proceed.
func (d Decision) Proceed() bool { return d.Action == Proceed }

// CanClaim is the drainer's pre-check before it writes its claim (stage=admitting) on the
// instance that job me owns (rollwave.job == me): whether the cluster's out-of-service count, with
// the claim added, would stay within the limit. It saves a write and an immediate back-off when
// the cluster is plainly full; it decides nothing on its own: only Admit, after the claim is
// written and the cluster re-read, may let the drain proceed. An instance already past admitting
// (a redelivered message) proceeds: it was admitted before. c need hold only the instances that
// may be out of service and the job's own (Census).
func CanClaim(cluster string, limit Limit, c Census, me string) Decision {
	instances := c.Instances
	mine, ok := find(instances, me)
	if !ok {
		return refuse(cluster, limit, c.Total, Failed(CodeInstanceGone, "no instance of the cluster carries rollwave.job="+me))
	}
	if mine.Stage.DrainedByRollwave() {
		return admittedBefore(cluster, limit, c.Total, mine)
	}
	if d, refused := refuseForeignDrain(cluster, limit, c.Total, mine); refused {
		return d
	}
	count, others := 1, []string{}
	for _, v := range instances {
		if v.Job == me && v.ARN == mine.ARN {
			continue
		}
		if v.OutOfService() {
			count++
			others = append(others, v.name()+" "+v.why())
		}
	}
	return decide(cluster, limit, c.Total, count, others, "claim")
}

// Admit is the drainer's check after it wrote its claim (stage=admitting on the instance whose
// rollwave.job is me) and re-read the cluster: proceed only if the number of out-of-service
// instances, counting every claim (ours and other jobs', since any of them may be proceeding), is
// within the limit. Two drainers that claim at the same time cannot both proceed beyond the limit:
// whichever re-reads last sees both claims and backs off when they do not both fit (the first may
// back off too; both then retry with jitter). An instance already past admitting was admitted
// before (a redelivered message): Proceed. A claim that is missing is refused, as is a claimed
// instance that someone else set DRAINING meanwhile (rollwave must not re-activate it later). c
// need hold only the instances that may be out of service, the job's own among them (Census).
func Admit(cluster string, limit Limit, c Census, me string) Decision {
	instances := c.Instances
	mine, ok := find(instances, me)
	if !ok {
		return refuse(cluster, limit, c.Total, Failed(CodeInstanceGone, "no instance of the cluster carries rollwave.job="+me))
	}
	switch {
	case mine.Stage.DrainedByRollwave():
		return admittedBefore(cluster, limit, c.Total, mine)
	case mine.Stage != StageAdmitting:
		return refuse(cluster, limit, c.Total, Failed(CodeDrainFailed,
			fmt.Sprintf("%s has no claim to admit (stage %q)", mine.name(), mine.Stage)))
	}
	if d, refused := refuseForeignDrain(cluster, limit, c.Total, mine); refused {
		return d
	}
	count, others := 0, []string{}
	for _, v := range instances {
		if !v.OutOfService() {
			continue
		}
		count++
		if v.ARN != mine.ARN {
			others = append(others, v.name()+" "+v.why())
		}
	}
	return decide(cluster, limit, c.Total, count, others, "admit")
}

// admittedBefore is the decision for a redelivered job whose instance is already past admitting.
func admittedBefore(cluster string, limit Limit, total int, mine InstanceView) Decision {
	return Decision{Action: Proceed, Max: limit.Max(total),
		Reason: fmt.Sprintf("cluster %s: %s was admitted before (stage %s)", cluster, mine.name(), mine.Stage)}
}

func find(instances []InstanceView, job string) (InstanceView, bool) {
	for _, v := range instances {
		if job != "" && v.Job == job {
			return v, true
		}
	}
	return InstanceView{}, false
}

// refuseForeignDrain refuses when the job's own instance is out of service by its status before
// rollwave drained it: someone else drained it, and rollwave must neither count it as its own
// nor ever re-activate it.
func refuseForeignDrain(cluster string, limit Limit, total int, mine InstanceView) (Decision, bool) {
	if mine.Status == "ACTIVE" {
		return Decision{}, false
	}
	return refuse(cluster, limit, total, Skipped(CodeDrainedByOther,
		fmt.Sprintf("%s is %s and rollwave did not drain it; it is left as it is", mine.name(), mine.Status))), true
}

func refuse(cluster string, limit Limit, total int, o Outcome) Decision {
	return Decision{Action: Refuse, Max: limit.Max(total), Outcome: o,
		Reason: fmt.Sprintf("cluster %s: %s", cluster, o.Message)}
}

func decide(cluster string, limit Limit, total, count int, others []string, what string) Decision {
	d := Decision{Action: Proceed, OutOfService: count, Max: limit.Max(total)}
	if count > d.Max {
		d.Action = BackOff
	}
	detail := ""
	if len(others) > 0 {
		detail = " (" + strings.Join(others, ", ") + ")"
	}
	switch {
	case d.Action == Proceed:
		d.Reason = fmt.Sprintf("cluster %s: %d of at most %d instances out of service with this %s, limit %s%s",
			cluster, count, d.Max, what, limit, detail)
	default:
		d.Reason = fmt.Sprintf("cluster %s: %d of at most %d instances out of service with this %s, over the limit %s%s",
			cluster, count, d.Max, what, limit, detail)
	}
	return d
}

// WithinGlobalLimit reports whether out instances may be out of service across all the clusters
// rollwave manages (the job's own claim included, counted as OutOfService counts) under a global
// limit; 0 is no global limit.
func WithinGlobalLimit(limit, out int) (bool, string) {
	if limit <= 0 {
		return true, ""
	}
	if out > limit {
		return false, fmt.Sprintf("all clusters: %d instances out of service with this claim, over the global limit %d", out, limit)
	}
	return true, fmt.Sprintf("all clusters: %d of at most %d instances out of service", out, limit)
}
