package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// lateWave is when the rollout's version reaches the last host of the target scenarios (seed
// 2047), after its release: 24 s at the tests' time scale, far longer than staging the others.
const lateWave = 20 * time.Minute

// publishTarget publishes targetVersion with two waves, the first half of the seeds at once, the
// rest lateWave later, and returns a virtual time no later than the release.
func (p *pipeline) publishTarget() time.Time {
	p.t.Helper()
	before := p.report().Now
	if err := p.fleet.PublishRelease(p.t.Context(), admin.Release{Version: targetVersion, Waves: []admin.Wave{
		{StartAfter: 0, FleetPercentage: 50}, {StartAfter: admin.Duration(lateWave), FleetPercentage: 100},
	}}); err != nil {
		p.t.Fatalf("publish %s: %v", targetVersion, err)
	}
	return before
}

// attributeSet returns the first time the instance's attribute name was set to a value starting
// with prefix, from fleetsim's report.
func attributeSet(r admin.Report, id, name, prefix string) (time.Time, bool) {
	for _, in := range r.Instances {
		if in.EC2InstanceID != id {
			continue
		}
		for _, c := range in.AttributeChanges {
			if c.Name == name && !c.Deleted && strings.HasPrefix(c.Value, prefix) {
				return c.T, true
			}
		}
	}
	return time.Time{}, false
}

// checkAllOn checks that every instance's job succeeded to version and that the host runs it,
// its version-lock back at latest.
func (p *pipeline) checkAllOn(ended map[string]ended, ids []string, version string) {
	p.t.Helper()
	for _, id := range ids {
		if e := ended[id]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != version {
			p.t.Errorf("%s ended %s to %q (%s), want succeeded to %s", id, e.DetailType, e.ToVersion, e.Message, version)
		}
	}
	for _, ins := range p.instances() {
		for _, in := range ins {
			if in.Version != version || in.VersionLock != "latest" {
				p.t.Errorf("%s runs %s with version-lock %s, want %s and the lock back at latest", in.EC2InstanceID, in.Version, in.VersionLock, version)
			}
		}
	}
}

// TestRolloutWaitsForTheWave: a rollout to the newest version (ROLLWAVE_TARGET_VERSION=latest)
// takes the hosts its wave reached at once; the host in the last wave waits, visibly (reason
// version-not-offered), and is drained only once its wave came, never forced there before.
func TestRolloutWaitsForTheWave(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/wave.yaml", "ROLLWAVE_TARGET_VERSION=latest",
		"ROLLWAVE_OFFER_RECHECK=2s", "ROLLWAVE_WAITING_THRESHOLD=1s")
	res := p.newResults()
	released := p.publishTarget()
	p.scan()
	ids := sortedIDs(p.instances()["wave"])
	late := ids[3]
	ended := res.waitEnded(240*time.Second, ids)
	p.checkAllOn(ended, ids, targetVersion)

	var announced bool
	for _, e := range res.all {
		if e.DetailType == notify.InstanceUpdateWaiting && e.EC2InstanceID == late && e.Reason == string(update.WaitVersionNotOffered) {
			announced = true
		}
	}
	if !announced {
		t.Errorf("no Instance Update Waiting event with reason %s for %s, the host of the last wave", update.WaitVersionNotOffered, late)
	}
	r := p.report()
	waited, ok := attributeSet(r, late, update.AttrWaiting, string(update.WaitVersionNotOffered)+" since ")
	if !ok {
		t.Errorf("%s never carried %s=%s: its wait was not visible", late, update.AttrWaiting, update.WaitVersionNotOffered)
	}
	drained, ok := attributeSet(r, late, update.AttrStage, string(update.StageStaged))
	if !ok || drained.Before(released.Add(lateWave)) || drained.Before(waited) {
		t.Errorf("%s staged at %s, want after its wave (%s) and after its wait began (%s)", late, drained, released.Add(lateWave), waited)
	}
	p.checkNoDeadLetters()
}

// TestRolloutKeepsItsVersion: a rollout to "the newest patch of 1.20" (the scan request's
// targetVersion) chooses 1.20.3 when it starts; a newer version released while the last host still
// waits for its wave is offered to that host, yet it is pinned to 1.20.3 and ends there.
func TestRolloutKeepsItsVersion(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/pinned.yaml", "ROLLWAVE_OFFER_RECHECK=2s")
	res := p.newResults()
	p.publishTarget()
	p.send("scanner", `{"schema":"rollwave.scan/v1","requestedBy":"e2e","reason":"`+t.Name()+`","targetVersion":"1.20"}`)
	ids := sortedIDs(p.instances()["pinned"])
	late := ids[3]
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		_, ok := attributeSet(p.report(), late, update.AttrWaiting, string(update.WaitVersionNotOffered))
		return ok, late + " is not waiting for its wave yet"
	})
	if err := p.fleet.PublishRelease(t.Context(), admin.Release{Version: "1.21.0"}); err != nil {
		t.Fatalf("publish 1.21.0: %v", err)
	}
	ended := res.waitEnded(240*time.Second, ids)
	p.checkAllOn(ended, ids, targetVersion)
	p.checkNoDeadLetters()
}
