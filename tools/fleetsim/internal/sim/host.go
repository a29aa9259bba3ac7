package sim

import (
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/bottlerocket"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
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
// and without waves, and the scenario's releases: those released at load at once, the later
// ones when their time comes (on clock).
func newRepo(sc *scenario.Scenario, clock *Clock) *bottlerocket.Repo {
	start := clock.Now()
	r := bottlerocket.NewRepo()
	for variant, versions := range sc.Repository {
		for _, v := range versions {
			r.Publish(bottlerocket.Release{Variant: variant, Version: v, Released: start})
		}
	}
	for _, rel := range sc.Releases {
		publishLater(r, clock, rel)
	}
	return r
}

// publishLater publishes rel to repo rel.ReleasedAt from now on clock (at once when zero), its
// waves counting from then.
func publishLater(repo *bottlerocket.Repo, clock *Clock, rel scenario.Release) {
	if rel.ReleasedAt <= 0 {
		repo.Publish(repoRelease(rel, clock.Now()))
		return
	}
	clock.AfterFunc(rel.ReleasedAt.D(), func() { repo.Publish(repoRelease(rel, clock.Now())) })
}

// repoRelease is rel as the host model's repository holds it, released at released.
func repoRelease(rel scenario.Release, released time.Time) bottlerocket.Release {
	out := bottlerocket.Release{Variant: rel.Variant, Arch: rel.Arch, Version: rel.Version,
		MaxVersion: rel.MaxVersion, Released: released}
	for _, w := range rel.Waves {
		out.Waves = append(out.Waves, bottlerocket.Wave{StartAfter: w.StartAfter.D(), FleetPercentage: w.FleetPercentage})
	}
	return out
}

// PublishRelease publishes rel to the update repository rel.ReleasedAt (virtual) from now. It
// reports every problem of rel instead.
func (w *World) PublishRelease(rel admin.Release) error {
	if rel.Variant == "" {
		rel.Variant = "aws-ecs-2"
	}
	if err := rel.Validate(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	publishLater(w.repo, w.clock, rel)
	return nil
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
