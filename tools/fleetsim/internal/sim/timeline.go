package sim

import (
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// timeline follows one instance from sample to sample: the events of its admin.InstanceEvent
// timeline and the intervals out of service, draining and rebooting. An interval is open while
// its since is set; closed intervals are summed.
type timeline struct {
	seen                  bool
	status                string
	agent, up, drained    bool
	events                []admin.InstanceEvent
	outSince, drainSince  time.Time
	downSince             time.Time
	out, drain, reboot    time.Duration
	rebooting, outOfSvc   bool
	draining, drainClosed bool
}

// observe compares the instance now with the last sample and records what changed at now.
func (tl *timeline) observe(in *Instance, up bool, now time.Time) {
	out := in.Status != StatusActive || !in.AgentConnected
	if !tl.seen {
		// The world's first sample: nothing happened yet, but an instance may start out of
		// service (a fault holds its agent off).
		tl.seen, tl.status, tl.agent, tl.up = true, in.Status, in.AgentConnected, up
		if out {
			tl.outOfSvc, tl.outSince = true, now
		}
		return
	}
	add := func(ev string) { tl.events = append(tl.events, admin.InstanceEvent{T: now, Event: ev}) }
	endDrain := func() {
		if tl.draining && !tl.drainClosed {
			tl.drain += now.Sub(tl.drainSince)
			tl.drainClosed = true
		}
	}
	if in.Status != tl.status && in.Status == StatusDraining {
		add(admin.EventDraining)
		tl.draining, tl.drainClosed, tl.drained, tl.drainSince = true, false, false, now
	}
	if tl.draining && !tl.drained && in.Status == StatusDraining && len(in.tasks) == 0 {
		add(admin.EventDrained)
		tl.drained = true
		endDrain()
	}
	if tl.up && !up {
		add(admin.EventHostDown)
		endDrain() // a host that goes down mid-drain ends the drain: the reboot stopped its tasks
		tl.rebooting, tl.downSince = true, now
	}
	if tl.agent && !in.AgentConnected {
		add(admin.EventAgentDisconnected)
	}
	if !tl.up && up {
		add(admin.EventHostUp)
	}
	if !tl.agent && in.AgentConnected {
		add(admin.EventAgentConnected)
		if tl.rebooting {
			tl.reboot += now.Sub(tl.downSince)
			tl.rebooting = false
		}
	}
	if in.Status != tl.status && in.Status == StatusActive {
		add(admin.EventActive)
		endDrain() // re-activated before the drain finished: the time was spent draining
		tl.draining = false
	}
	switch {
	case out && !tl.outOfSvc:
		tl.outOfSvc, tl.outSince = true, now
	case !out && tl.outOfSvc:
		tl.out += now.Sub(tl.outSince)
		tl.outOfSvc = false
	}
	tl.status, tl.agent, tl.up = in.Status, in.AgentConnected, up
}

// fill sets the timeline and the durations of r, closing the open intervals at now.
func (tl *timeline) fill(r *admin.InstanceReport, now time.Time) {
	r.Timeline = append([]admin.InstanceEvent{}, tl.events...)
	out, drain, reboot := tl.out, tl.drain, tl.reboot
	if tl.outOfSvc {
		out += now.Sub(tl.outSince)
	}
	if tl.draining && !tl.drainClosed {
		drain += now.Sub(tl.drainSince)
	}
	if tl.rebooting {
		reboot += now.Sub(tl.downSince)
	}
	r.OutOfService, r.Drain, r.Reboot = admin.Duration(out), admin.Duration(drain), admin.Duration(reboot)
	r.Beyond = admin.Duration(max(out-drain-reboot, 0))
}
