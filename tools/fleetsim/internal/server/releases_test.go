package server

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// chosen is the version the host's update check chooses now, "" for none.
func (e *env) chosen(instance string) string {
	e.t.Helper()
	if c := e.check(instance); c.ChosenUpdate != nil {
		return c.ChosenUpdate.Version
	}
	return ""
}

// waves is two hosts on 1.19.5 at the two ends of the seed range, at one virtual hour per real
// second, and the scenario's releases.
func waves(releases string) string {
	return `
timeScale: 3600
repository:
  aws-ecs-2: ["1.19.5"]
releases:
` + releases + `
clusters:
  - name: c
    instances:
      - {count: 2, version: 1.19.5, seeds: [0, 2047]}
`
}

// TestReleaseWaves shows a release offered to hosts over time by its waves: the first seed of the
// first wave at once, the last seed only once the last wave starts, two virtual hours later.
func TestReleaseWaves(t *testing.T) {
	// In a synctest bubble: "before the wave" holds however slow the machine is.
	synctest.Test(t, func(t *testing.T) {
		e := startInProcess(t, waves(`
  - version: 1.20.3
    waves:
      - {startAfter: 0s, fleetPercentage: 50}
      - {startAfter: 2h, fleetPercentage: 100}
`))
		first, last := e.instance("c", 0), e.instance("c", 1)
		if first.Seed != 0 || last.Seed != 2047 {
			t.Fatalf("seeds = %d, %d, want the scenario's 0, 2047", first.Seed, last.Seed)
		}
		if got := e.chosen(first.EC2InstanceID); got != "1.20.3" {
			t.Errorf("first wave's host chooses %q at the release, want 1.20.3", got)
		}
		c := e.check(last.EC2InstanceID)
		if c.ChosenUpdate != nil {
			t.Errorf("last wave's host chooses %s at the release, want nothing before its wave", c.ChosenUpdate.Version)
		}
		if len(c.AvailableUpdates) == 0 || c.AvailableUpdates[0] != "1.20.3" {
			t.Errorf("last wave's host lists %v, want 1.20.3 available though not chosen", c.AvailableUpdates)
		}
		e.waitFor("the last wave to reach its host", 30*time.Second, func() bool { return e.chosen(last.EC2InstanceID) == "1.20.3" })
	})
}

// TestReleaseLater shows a release published mid-scenario: before its time the repository does
// not list it, afterwards every host is offered it (it has no waves).
func TestReleaseLater(t *testing.T) {
	// In a synctest bubble: "before the wave" holds however slow the machine is.
	synctest.Test(t, func(t *testing.T) {
		e := startInProcess(t, waves(`
  - {version: 1.20.3, releasedAt: 2h}
`))
		id := e.instance("c", 0).EC2InstanceID
		if c := e.check(id); len(c.AvailableUpdates) != 1 || c.ChosenUpdate != nil {
			t.Errorf("before the release: available %v, chosen %v, want only 1.19.5 and nothing chosen", c.AvailableUpdates, c.ChosenUpdate)
		}
		e.waitFor("the release", 30*time.Second, func() bool { return e.chosen(id) == "1.20.3" })
	})
}

// TestPublishRelease publishes a release through the admin API, and refuses a bad one with every
// problem named.
func TestPublishRelease(t *testing.T) {
	e := start(t, waves("  []"))
	id := e.instance("c", 1).EC2InstanceID
	if got := e.chosen(id); got != "" {
		t.Fatalf("before the release the host chooses %q, want nothing", got)
	}
	if err := e.admin.PublishRelease(context.Background(), admin.Release{Version: "1.21.0"}); err != nil {
		t.Fatalf("PublishRelease: %v", err)
	}
	if got := e.chosen(id); got != "1.21.0" {
		t.Errorf("after the release the host chooses %q, want 1.21.0", got)
	}
	err := e.admin.PublishRelease(context.Background(), admin.Release{Waves: []admin.Wave{{FleetPercentage: 50}, {FleetPercentage: 150}}})
	if err == nil {
		t.Fatal("PublishRelease(bad release) = nil, want an error")
	}
	for _, want := range []string{"without a version", "fleetPercentage 150"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("PublishRelease(bad release) = %v, want it to mention %q", err, want)
		}
	}
}
