package cluster

import (
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// The adapter speaks the domain: what shared/update decides by, built here from what ECS said,
// so that no worker maps the adapter's types field by field.

// View is what admission, the capacity check, the global limit and `rollwave status` know of
// the instance: its identity, status, agent and rollwave's marks. An unknown stage counts by
// status and agent only.
func (in Instance) View() update.InstanceView {
	stage, _ := update.ParseStage(in.Attributes[update.AttrStage])
	return update.InstanceView{
		ARN: in.ARN, EC2InstanceID: in.EC2InstanceID, Status: in.Status, AgentConnected: in.AgentConnected,
		Job: in.Attributes[update.AttrJob], Stage: stage,
	}
}

// Views returns the View of each instance.
func Views(all []Instance) []update.InstanceView {
	out := make([]update.InstanceView, 0, len(all))
	for _, in := range all {
		out = append(out, in.View())
	}
	return out
}

// Name names the instance for people and in the domain's reasons: its EC2 instance ID, or its
// ARN when ECS gave none.
func (in Instance) Name() string {
	if in.EC2InstanceID != "" {
		return in.EC2InstanceID
	}
	return in.ARN
}

// Waiting is the wait for admission that the instance records (rollwave.waiting), as the CLI
// shows it: ok is false when it records none. A value that does not parse comes back as written
// in Reason, with no Since, so that a person still sees it.
func (in Instance) Waiting() (w update.Waiting, ok bool) {
	raw, ok := in.Attributes[update.AttrWaiting]
	if !ok {
		return update.Waiting{}, false
	}
	w, err := update.ParseWaiting(raw)
	if err != nil {
		return update.Waiting{Reason: update.WaitReason(raw)}, true
	}
	return w, true
}

// Claim is what the scanner's reclaim (update.Reclaimable) reads of the instance: rollwave's
// marks, as written, and its status.
func (in Instance) Claim() update.Claim {
	return update.Claim{Job: in.Attributes[update.AttrJob], Stage: in.Attributes[update.AttrStage],
		Lease: in.Attributes[update.AttrLease], Status: in.Status}
}

// Updated returns what the health gate (update.Gate) knows of the instances of all that carry
// rollwave.verified-at: updated by rollwave and not yet proven healthy, each named by Name. A
// value that does not parse counts as verified at the zero time (long ago), so that it cannot
// keep a gate waiting forever.
func Updated(all []Instance) []update.UpdatedInstance {
	var out []update.UpdatedInstance
	for _, in := range all {
		v, ok := in.Attributes[update.AttrVerifiedAt]
		if !ok {
			continue
		}
		at, _ := time.Parse(time.RFC3339, v)
		out = append(out, update.UpdatedInstance{Name: in.Name(), VerifiedAt: at, Status: in.Status,
			AgentConnected: in.AgentConnected, Running: in.RunningTasks, Pending: in.PendingTasks})
	}
	return out
}

// Health is what the health gate (update.Steady) knows of the service.
func (s Service) Health() update.ServiceHealth {
	return update.ServiceHealth{Name: s.Name, Desired: s.Desired, Running: s.Running, Pending: s.Pending, Deployments: s.Deployments}
}

// Healths returns the Health of each service.
func Healths(services []Service) []update.ServiceHealth {
	out := make([]update.ServiceHealth, 0, len(services))
	for _, s := range services {
		out = append(out, s.Health())
	}
	return out
}

// View is what eligibility and the standalone policy know of the task.
func (t Task) View() update.TaskView {
	return update.TaskView{ARN: t.ARN, StartedBy: t.StartedBy, Group: t.Group, LastStatus: t.LastStatus}
}

// TaskViews returns the View of each task.
func TaskViews(tasks []Task) []update.TaskView {
	out := make([]update.TaskView, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, t.View())
	}
	return out
}

// Loads returns the services with RUNNING tasks among tasks (the tasks of one instance), with
// how many run there and the largest task's CPU and memory: what a drain of the instance asks the
// other instances to take. A task of a service not in services (a daemon service's, a vanished
// service's) has nothing to re-place and is left out.
func Loads(services []Service, tasks []Task) []update.ServiceLoad {
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	idx := map[string]int{}
	var out []update.ServiceLoad
	for _, t := range tasks {
		name, ok := strings.CutPrefix(t.Group, "service:")
		if !ok || !strings.HasPrefix(t.StartedBy, "ecs-svc/") || t.LastStatus != "RUNNING" {
			continue
		}
		s, known := byName[name]
		if !known {
			continue
		}
		i, seen := idx[name]
		if !seen {
			i = len(out)
			idx[name] = i
			out = append(out, update.ServiceLoad{Name: name, Desired: s.Desired, Running: s.Running,
				MinHealthyPercent: s.MinHealthyPercent, MaxPercent: s.MaxPercent})
		}
		out[i].OnInstance++
		out[i].TaskCPU = max(out[i].TaskCPU, t.CPU)
		out[i].TaskMemory = max(out[i].TaskMemory, t.Memory)
	}
	return out
}

// Hosts returns the free room of the instances that can take replacements: those in service as
// the limit counts them (update.InstanceView.OutOfService: ACTIVE, agent connected, not claimed
// by rollwave; a failed instance returned to service is one), but not draining, the one about to
// drain. A host is named by Name.
func Hosts(all []Instance, draining string) []update.Host {
	var out []update.Host
	for _, in := range all {
		if in.ARN == draining || in.View().OutOfService() {
			continue
		}
		out = append(out, update.Host{Name: in.Name(), CPU: in.RemainingCPU, Memory: in.RemainingMemory})
	}
	return out
}
