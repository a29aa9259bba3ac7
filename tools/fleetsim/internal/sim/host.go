package sim

import (
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/bottlerocket"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/scenario"
)

func hostFaults(f scenario.HostFaults) bottlerocket.Faults {
	return bottlerocket.Faults{
		CheckFails:            f.UpdateCheckFails,
		ApplyFails:            f.ApplyFails,
		ApplyHangs:            f.ApplyHangs,
		RebootNeverReturns:    f.RebootNeverReturns,
		NewVersionFailsToBoot: f.NewVersionFailsToBoot,
	}
}

func hostTimings(t scenario.Timings) bottlerocket.Timings {
	d := bottlerocket.DefaultTimings()
	d.Refresh = t.UpdateCheck.D()
	d.Prepare = t.Apply.D()
	d.Activate = t.Activate.D()
	d.Shutdown = t.Shutdown.D()
	d.Boot = t.Reboot.D()
	return d
}

// newRepo offers every version of the scenario's repository, released when the world starts
// and without waves.
func newRepo(sc *scenario.Scenario, released time.Time) *bottlerocket.Repo {
	r := bottlerocket.NewRepo()
	for variant, versions := range sc.Repository {
		for _, v := range versions {
			r.Publish(bottlerocket.Release{Variant: variant, Version: v, Released: released})
		}
	}
	return r
}

// hooks adapts the world to bottlerocket.Hooks.
type hooks struct{ w *World }

func (h hooks) HostDown(host *bottlerocket.Host) {
	if in := h.w.instByEC2[host.ID()]; in != nil {
		h.w.hostDown(in)
	}
}

func (h hooks) HostUp(host *bottlerocket.Host) {
	if in := h.w.instByEC2[host.ID()]; in != nil {
		h.w.hostUp(in)
	}
}
