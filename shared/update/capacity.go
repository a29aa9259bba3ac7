package update

import (
	"fmt"
	"slices"
	"strings"
)

// ServiceLoad is what the capacity check needs to know about one service with tasks on the
// instance about to drain: its counts and deployment configuration (DescribeServices) and its
// tasks on the instance with their reservations (DescribeTasks).
type ServiceLoad struct {
	Name              string
	Desired, Running  int
	MinHealthyPercent int
	MaxPercent        int
	OnInstance        int // its RUNNING tasks on the instance about to drain
	TaskCPU           int // CPU units one task reserves (0: unknown, counted as none)
	TaskMemory        int // MiB one task reserves (0: unknown, counted as none)
}

// Host is the free room of an instance that can take replacements: ACTIVE, agent connected, not
// claimed by rollwave, and not the instance about to drain.
type Host struct {
	Name        string
	CPU, Memory int
}

// MustMoveFirst returns how many of the service's tasks on the instance need a replacement
// running before they stop, and whether ECS may start those replacements at all. ECS stops a
// draining task first only while the service keeps ceil(desired × min% / 100) running tasks; the
// others wait for a replacement, which may start only while the service stays within
// floor(desired × max% / 100) tasks.
func (s ServiceLoad) MustMoveFirst() (n int, startable bool) {
	floor := (s.Desired*s.MinHealthyPercent + 99) / 100
	canStopFirst := max(s.Running-floor, 0)
	n = max(s.OnInstance-canStopFirst, 0)
	ceiling := s.Desired * s.MaxPercent / 100
	return n, n <= max(ceiling-s.Running, 0)
}

// CanHost reports whether the hosts can take the replacements that the services' tasks on the
// instance need before they stop, so that a drain never takes a service below its
// minimumHealthyPercent nor stalls. It packs the replacements largest first into the hosts' free
// CPU and memory (first fit). When ok is false, why says which service cannot move and the room
// there is, for people.
func CanHost(services []ServiceLoad, hosts []Host) (ok bool, why string) {
	type need struct {
		service     string
		cpu, memory int
	}
	var needs []need
	for _, s := range services {
		n, startable := s.MustMoveFirst()
		if n == 0 {
			continue
		}
		if !startable {
			return false, fmt.Sprintf("service %s: %d of its tasks here must be replaced before they stop, but its maximumPercent %d%% lets no replacement start (desired %d, running %d)",
				s.Name, n, s.MaxPercent, s.Desired, s.Running)
		}
		for range n {
			needs = append(needs, need{s.Name, s.TaskCPU, s.TaskMemory})
		}
	}
	if len(needs) == 0 {
		return true, ""
	}
	slices.SortStableFunc(needs, func(a, b need) int { return (b.cpu + b.memory) - (a.cpu + a.memory) })
	free := slices.Clone(hosts)
	for _, n := range needs {
		placed := false
		for i := range free {
			if free[i].CPU >= n.cpu && free[i].Memory >= n.memory {
				free[i].CPU -= n.cpu
				free[i].Memory -= n.memory
				placed = true
				break
			}
		}
		if !placed {
			return false, fmt.Sprintf("service %s: no room for a replacement task (%d CPU, %d MiB) before its task here stops without taking it below minimumHealthyPercent; free on the other ACTIVE instances: %s",
				n.service, n.cpu, n.memory, describeHosts(hosts))
		}
	}
	return true, ""
}

func describeHosts(hosts []Host) string {
	if len(hosts) == 0 {
		return "none"
	}
	var parts []string
	for i, h := range hosts {
		if i == maxNamed {
			parts = append(parts, fmt.Sprintf("and %d more", len(hosts)-maxNamed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d CPU/%d MiB", h.Name, h.CPU, h.Memory))
	}
	return strings.Join(parts, ", ")
}
