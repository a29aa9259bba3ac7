package wake

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/ecsevent"
	"github.com/rollwave/rollwave/shared/update"
)

// AnyCluster is the Room key of jobs that wait for a return to service in any cluster (the
// global limit).
const AnyCluster = "*"

// Room holds the jobs parked until an instance of their cluster returns to service: their
// messages wait hidden in their queue (a backstop delay), and the Room wakes them, first parked
// first woken, when an ECS event shows an instance that it saw out of service back in service, or
// when a job of their cluster that had taken its instance out of service ends (Ended): the ECS
// event of an updated instance going ACTIVE comes while the verifier's marks still count it, and
// the removal of the marks publishes no ECS event, so the end of the job is what frees its slot.
// It wakes one job per return, not all of them, so that a freed slot does not bring every
// waiter back to compete for it; whoever finds more room free wakes more (Wake). Like Registry,
// it is an in-process hint: an event that reaches another replica, or a wake lost in flight,
// leaves the job to its backstop.
type Room struct {
	mu     sync.Mutex
	now    func() time.Time
	parked map[string][]parked
	// out is the instances last seen out of service (update.InstanceView.OutOfService), from the
	// events and from what admission read (Seen): a return is an instance of out seen in service.
	out map[string]bool
}

type parked struct {
	job   string
	until time.Time
	wake  func()
}

// NewRoom returns an empty room; now is the clock that expires parked jobs.
func NewRoom(now func() time.Time) *Room {
	return &Room{now: now, parked: map[string][]parked{}, out: map[string]bool{}}
}

// Key is the Room key of a cluster named by its name or its ARN.
func Key(cluster string) string {
	return cluster[strings.LastIndexByte(cluster, '/')+1:]
}

// SettleKey is the Room key of the jobs of a cluster held by its health gate: they are woken, one
// per event, by an instance of the cluster in service with no task pending (Observe).
func SettleKey(cluster string) string { return "settle:" + Key(cluster) }

// Park parks job under key (Key of its cluster, or AnyCluster) until until, when its message
// comes back by itself and the entry lapses; wake is called at most once, when the job is woken
// before. Parking a job again replaces its earlier entry.
func (r *Room) Park(key, job string, until time.Time, wake func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remove(job)
	r.parked[key] = append(r.parked[key], parked{job: job, until: until, wake: wake})
}

// Leave removes job from the room (it was admitted or ended).
func (r *Room) Leave(job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remove(job)
}

func (r *Room) remove(job string) {
	for k, ps := range r.parked {
		for i, p := range ps {
			if p.job == job {
				r.parked[k] = append(ps[:i:i], ps[i+1:]...)
				if len(r.parked[k]) == 0 {
					delete(r.parked, k)
				}
				return
			}
		}
	}
}

// Wake wakes up to n jobs parked under key, first parked first, and returns how many it woke.
// Lapsed entries are dropped, not woken: their messages are back already.
func (r *Room) Wake(key string, n int) int {
	r.mu.Lock()
	var woken []func()
	now := r.now()
	ps := r.parked[key]
	for len(ps) > 0 && len(woken) < n {
		p := ps[0]
		ps = ps[1:]
		if p.until.After(now) {
			woken = append(woken, p.wake)
		}
	}
	if len(ps) == 0 {
		delete(r.parked, key)
	} else {
		r.parked[key] = ps
	}
	r.mu.Unlock()
	for _, w := range woken {
		w()
	}
	return len(woken)
}

// Parked returns how many jobs wait under key, lapsed ones included.
func (r *Room) Parked(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parked[key])
}

// Keys returns the keys under which jobs wait.
func (r *Room) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.parked))
	for k := range r.parked {
		keys = append(keys, k)
	}
	return keys
}

// Seen records whether an instance was out of service when admission read it, so that the event
// of its return wakes a job even if the Room saw no event of its leaving.
func (r *Room) Seen(v update.InstanceView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(v.ARN, v.OutOfService())
}

func (r *Room) note(arn string, out bool) (returned bool) {
	returned = r.out[arn] && !out
	if out {
		r.out[arn] = true
	} else {
		delete(r.out, arn)
	}
	return returned
}

// Observe is an EventHandler observer: an event that shows an instance the Room saw out of
// service back in service wakes one job of its cluster and one that waits for any cluster; an
// event that shows an instance in service with no task pending (a task started there, an
// instance back with its tasks running) wakes one job of its cluster held by the health gate,
// since what the gate waits for may have happened.
func (r *Room) Observe(_ context.Context, ci *ecsevent.ContainerInstanceStateChange) {
	stage, _ := ci.Attribute(update.AttrStage)
	job, _ := ci.Attribute(update.AttrJob)
	st, _ := update.ParseStage(stage)
	v := update.InstanceView{ARN: ci.ContainerInstanceARN, Status: ci.Status, AgentConnected: ci.AgentConnected, Job: job, Stage: st}
	r.mu.Lock()
	returned := r.note(v.ARN, v.OutOfService())
	r.mu.Unlock()
	if returned {
		r.Wake(Key(ci.ClusterARN), 1)
		r.Wake(AnyCluster, 1)
	}
	if !v.OutOfService() && ci.PendingTasksCount == 0 {
		r.Wake(SettleKey(ci.ClusterARN), 1)
	}
}

// Ended is an Observer's: the end of a job that had reached its drain (step drain, reboot or
// verify) may have freed a slot of its cluster, so it wakes one job of the cluster and one that
// waits for any cluster. A job that ended while staging never held a slot, and a dry run never
// takes one: they wake nothing. The woken job looks again; if the ended job left its instance
// out of service (a failed host kept for a person), it parks again.
func (r *Room) Ended(_ context.Context, e *ecsevent.JobEnded) {
	if e.DryRun || !slotSteps[e.Step] {
		return
	}
	if e.ContainerInstanceARN != "" && e.Outcome != "failed" {
		r.mu.Lock()
		delete(r.out, e.ContainerInstanceARN) // unmarked: in service, no return left to see
		r.mu.Unlock()
	}
	r.Wake(Key(e.Cluster), 1)
	r.Wake(AnyCluster, 1)
}

// slotSteps are the steps at which a job may hold a slot of its cluster's limit.
var slotSteps = map[string]bool{string(update.StepDrain): true, string(update.StepReboot): true, string(update.StepVerify): true}
