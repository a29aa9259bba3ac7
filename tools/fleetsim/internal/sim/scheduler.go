package sim

import (
	"fmt"
	"time"
)

// newTask places a PENDING task on in and emits the task and instance events.
func (w *World) newTask(c *Cluster, in *Instance, svc *Service, family, group, startedBy string, cpu, mem int) *Task {
	now := w.clock.Now()
	id := w.hexID()
	t := &Task{
		ARN:          w.arn("task/" + c.Name + "/" + id),
		ContainerARN: w.arn("container/" + c.Name + "/" + id + "/" + w.uuid()),
		cluster:      c, inst: in, svc: svc, Family: family, Group: group, StartedBy: startedBy,
		TaskDefARN: w.arn("task-definition/" + family + ":1"), LastStatus: TaskPending,
		DesiredStatus: TaskRunning, CPU: cpu, Memory: mem, CreatedAt: now,
	}
	w.tasks = append(w.tasks, t)
	w.taskByARN[t.ARN] = t
	in.tasks = append(in.tasks, t)
	w.taskChanged(t)
	w.instanceChanged(in)
	return t
}

func (w *World) setRunning(t *Task) {
	t.LastStatus = TaskRunning
	t.StartedAt = w.clock.Now()
	w.taskChanged(t)
	w.instanceChanged(t.inst)
}

// startServiceTask places a task of s on in; it turns RUNNING after the service's start time
// (at once when immediate, used for the initial steady state). While the host has the fault
// tasksNeverStartOnVersion for the version it runs, the task stays PENDING, looking again every
// start time, so that it starts once the fault is cleared.
func (w *World) startServiceTask(s *Service, in *Instance, immediate bool) {
	t := w.newTask(s.cluster, in, s, s.Family, "service:"+s.Name, s.DeploymentID, s.CPU, s.Memory)
	if immediate && !w.tasksBlocked(in) {
		w.setRunning(t)
		return
	}
	var try func()
	try = func() {
		if t.LastStatus != TaskPending || t.DesiredStatus != TaskRunning {
			return
		}
		if w.tasksBlocked(t.inst) {
			w.clock.AfterFunc(max(s.TaskStart, time.Second), try)
			return
		}
		w.setRunning(t)
	}
	w.clock.AfterFunc(s.TaskStart, try)
}

// tasksBlocked reports whether service tasks on in do not start: its fault
// tasksNeverStartOnVersion names the version its host runs.
func (w *World) tasksBlocked(in *Instance) bool {
	v := in.faults.TasksNeverStartOnVersion
	return v != "" && v == w.hostVersion(in)
}

// stopTask sets the task's desired status to STOPPED; a PENDING task stops at once, a RUNNING
// one after stop (its containers' stop time).
func (w *World) stopTask(t *Task, code, reason string, stop time.Duration) {
	if t.DesiredStatus == TaskStopped || t.LastStatus == TaskStopped {
		return
	}
	t.DesiredStatus = TaskStopped
	t.StopCode, t.StoppedReason = code, reason
	t.StoppingAt = w.clock.Now()
	if t.LastStatus == TaskPending || stop <= 0 {
		w.finishStop(t, code, reason, w.clock.Now())
		return
	}
	w.taskChanged(t)
	t.stopTimer = w.clock.AfterFunc(stop, func() {
		if t.LastStatus != TaskStopped {
			w.finishStop(t, code, reason, w.clock.Now())
		}
	})
}

func (w *World) finishStop(t *Task, code, reason string, now time.Time) {
	if t.LastStatus == TaskStopped {
		return
	}
	if t.stopTimer != nil {
		t.stopTimer()
	}
	if t.DesiredStatus != TaskStopped || t.StopCode == "" {
		t.StopCode, t.StoppedReason = code, reason
	}
	t.DesiredStatus = TaskStopped
	if t.StoppingAt.IsZero() {
		t.StoppingAt = now
	}
	t.LastStatus = TaskStopped
	t.StoppedAt = now
	exit := 0
	if code == "TaskFailedToStart" {
		exit = 137
	}
	t.ExitCode = &exit
	in := t.inst
	for i, x := range in.tasks {
		if x == t {
			in.tasks = append(in.tasks[:i], in.tasks[i+1:]...)
			break
		}
	}
	w.taskChanged(t)
	w.instanceChanged(in)
}

// placeable reports whether the scheduler may place a task of cpu/mem on in.
func (w *World) placeable(in *Instance, cpu, mem int) bool {
	if in.Status != StatusActive || !in.AgentConnected || !w.hostUpNow(in) {
		return false
	}
	uc, um := in.used()
	return in.CPU-uc >= cpu && in.Memory-um >= mem
}

// pick chooses an instance for a task of s: spread over instances (fewest tasks of s), then
// over availability zones, then the most free CPU.
func (w *World) pick(s *Service) *Instance {
	perAZ := map[string]int{}
	for _, in := range s.cluster.instances {
		for _, t := range in.tasks {
			if t.svc == s && t.DesiredStatus == TaskRunning {
				perAZ[in.AZ]++
			}
		}
	}
	var best *Instance
	var bestN, bestAZ, bestFree int
	for _, in := range s.cluster.instances {
		if !w.placeable(in, s.CPU, s.Memory) {
			continue
		}
		n := 0
		for _, t := range in.tasks {
			if t.svc == s && t.DesiredStatus == TaskRunning {
				n++
			}
		}
		uc, _ := in.used()
		free := in.CPU - uc
		az := perAZ[in.AZ]
		if best == nil || n < bestN || (n == bestN && (az < bestAZ || (az == bestAZ && free > bestFree))) {
			best, bestN, bestAZ, bestFree = in, n, az, free
		}
	}
	return best
}

// placeService places tasks for s until it has its desired count (used on load, immediate).
func (w *World) placeService(s *Service, immediate bool) {
	if s.Daemon {
		for _, in := range s.cluster.instances {
			if w.placeable(in, s.CPU, s.Memory) {
				w.startServiceTask(s, in, immediate)
			}
		}
		return
	}
	for i := 0; i < s.Desired; i++ {
		in := w.pick(s)
		if in == nil {
			w.unableToPlace(s)
			return
		}
		w.startServiceTask(s, in, immediate)
	}
}

func (w *World) unableToPlace(s *Service) {
	if s.stalled {
		return
	}
	s.stalled = true
	w.serviceEvent(s, fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements. Reason: No Container Instances were found in your cluster.", s.Name))
}

// schedule runs one pass of the service scheduler and reports whether it changed anything.
func (w *World) schedule() bool {
	changed := false
	for _, s := range w.services {
		if s.Daemon {
			changed = w.scheduleDaemon(s) || changed
		} else {
			changed = w.scheduleReplica(s) || changed
		}
	}
	return changed
}

func (w *World) serviceTasks(s *Service) (live []*Task, nonStopped int) {
	for _, in := range s.cluster.instances {
		for _, t := range in.tasks {
			if t.svc != s {
				continue
			}
			nonStopped++
			if t.DesiredStatus == TaskRunning {
				live = append(live, t)
			}
		}
	}
	return live, nonStopped
}

// scheduleReplica keeps a REPLICA service at its desired count and moves its tasks off
// instances that are not ACTIVE, never letting healthy (RUNNING, not stopping) tasks fall below
// ceil(desired × minimumHealthyPercent) nor all non-stopped tasks exceed
// floor(desired × maximumPercent).
func (w *World) scheduleReplica(s *Service) bool {
	changed := false
	live, nonStopped := w.serviceTasks(s)
	for _, t := range live {
		if t.inst.Status != StatusActive && t.LastStatus == TaskPending {
			w.stopTask(t, "ServiceSchedulerInitiated", "Service "+s.Name+": container instance is in DRAINING state", 0)
			changed = true
		}
	}
	if changed {
		live, nonStopped = w.serviceTasks(s)
	}
	var good, draining []*Task
	healthy := 0
	for _, t := range live {
		if t.LastStatus == TaskRunning {
			healthy++
		}
		if t.inst.Status == StatusActive {
			good = append(good, t)
		} else {
			draining = append(draining, t)
		}
	}
	floor := (s.Desired*s.MinPct + 99) / 100
	maxTotal := s.Desired * s.MaxPct / 100
	need := s.Desired - len(good)
	for need > 0 && nonStopped < maxTotal {
		in := w.pick(s)
		if in == nil {
			w.unableToPlace(s)
			break
		}
		w.startServiceTask(s, in, false)
		nonStopped++
		need--
		changed = true
	}
	if need <= 0 && s.stalled {
		s.stalled = false
	}
	// Scale in, as ECS does: an instance made ACTIVE again while its tasks were being replaced
	// leaves more tasks than desired on ACTIVE instances.
	for excess := len(good) - s.Desired; excess > 0; excess-- {
		i := w.scaleInVictim(good)
		w.stopTask(good[i], "ServiceSchedulerInitiated", "Service "+s.Name+": scaling in to the desired count", s.TaskStop)
		good = append(good[:i], good[i+1:]...)
		changed = true
	}
	for _, t := range draining {
		if t.LastStatus != TaskRunning || healthy-1 < floor {
			continue
		}
		w.stopTask(t, "ServiceSchedulerInitiated", "Service "+s.Name+": container instance is in DRAINING state", s.TaskStop)
		healthy--
		changed = true
	}
	if changed {
		w.serviceEvent(s, fmt.Sprintf("(service %s) has started or stopped tasks.", s.Name))
	}
	return changed
}

// scaleInVictim picks the task of tasks (one service's, on ACTIVE instances) that scaling in
// stops: a PENDING one first, then one on the instance that holds the most of them, the newest.
func (w *World) scaleInVictim(tasks []*Task) int {
	perInstance := map[*Instance]int{}
	for _, t := range tasks {
		perInstance[t.inst]++
	}
	best := 0
	better := func(a, b *Task) bool {
		if (a.LastStatus == TaskPending) != (b.LastStatus == TaskPending) {
			return a.LastStatus == TaskPending
		}
		if perInstance[a.inst] != perInstance[b.inst] {
			return perInstance[a.inst] > perInstance[b.inst]
		}
		return a.CreatedAt.After(b.CreatedAt)
	}
	for i, t := range tasks {
		if better(t, tasks[best]) {
			best = i
		}
	}
	return best
}

// scheduleDaemon keeps one task of s on every ACTIVE, connected instance and stops the ones on
// instances that are not ACTIVE.
func (w *World) scheduleDaemon(s *Service) bool {
	changed := false
	for _, in := range s.cluster.instances {
		var mine []*Task
		for _, t := range in.tasks {
			if t.svc == s && t.DesiredStatus == TaskRunning {
				mine = append(mine, t)
			}
		}
		if in.Status != StatusActive {
			for _, t := range mine {
				w.stopTask(t, "ServiceSchedulerInitiated", "Service "+s.Name+": container instance is in DRAINING state", s.TaskStop)
				changed = true
			}
			continue
		}
		if len(mine) == 0 && w.placeable(in, s.CPU, s.Memory) {
			w.startServiceTask(s, in, false)
			changed = true
		}
	}
	return changed
}

// daemonDesired is the desired count ECS shows for a daemon service.
func (w *World) daemonDesired(s *Service) int {
	n := 0
	for _, in := range s.cluster.instances {
		if in.Status == StatusActive && in.AgentConnected {
			n++
		}
	}
	return n
}
