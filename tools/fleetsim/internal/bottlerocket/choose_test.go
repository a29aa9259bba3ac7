package bottlerocket

import (
	"strings"
	"testing"
	"time"
)

func TestVersionLockRollsBack(t *testing.T) {
	f := newFixture(t, func(c *HostConfig) { c.Version = "1.20.3" })
	if got := f.mustRun("apiclient update check"); !strings.Contains(got.Stdout, `"update_state": "Idle"`) {
		t.Fatalf("check on the newest version = %s, want Idle", got.Stdout)
	}
	f.mustRun("apiclient set settings.updates.version-lock=v1.19.5")
	if l := f.host.VersionLock(); l != "v1.19.5" {
		t.Errorf("VersionLock() = %s, want v1.19.5", l)
	}
	got := f.mustRun("apiclient update check")
	if !strings.Contains(got.Stdout, `"update_state": "Available"`) || !strings.Contains(got.Stdout, `"version": "1.19.5",`+"\n"+`    "variant"`) {
		t.Fatalf("check with version-lock=v1.19.5 = %s, want 1.19.5 chosen", got.Stdout)
	}
	f.mustRun("apiclient update apply --reboot")
	f.clock.Advance(timings.Shutdown + timings.Boot)
	if v := f.host.Version(); v != "1.19.5" {
		t.Errorf("Version() after rolling back = %s, want 1.19.5", v)
	}
	// Locked to the running version: nothing to do; the lock survives reboots.
	if got := f.mustRun("apiclient update check"); !strings.Contains(got.Stdout, `"chosen_update": null`) {
		t.Errorf("check locked to the running version = %s, want no chosen update", got.Stdout)
	}
}

func TestChoose(t *testing.T) {
	released := epoch.Add(-time.Hour)
	repo := NewRepo(
		Release{Variant: "aws-ecs-2", Version: "1.19.5"},
		Release{Variant: "aws-ecs-2", Version: "1.20.2"},
		Release{Variant: "aws-ecs-2", Version: "1.21.0", Released: released, Waves: DefaultWaves()},
		Release{Variant: "aws-k8s-1.31", Version: "1.22.0"},
	)
	tests := []struct {
		name        string
		running     string
		lock        string
		ignoreWaves bool
		seed        uint32
		now         time.Time
		want        string // chosen version, "" for none
	}{
		{"latest skips a release still hidden by its wave", "1.19.5", "latest", false, 1000, epoch, "1.20.2"},
		{"ignore-waves sees it at once", "1.19.5", "latest", true, 1000, epoch, "1.21.0"},
		{"the first seed of the first wave sees it after an hour", "1.19.5", "latest", false, 0, epoch, "1.21.0"},
		{"a later seed of the first wave waits its share of the wave", "1.19.5", "latest", false, 5, epoch, "1.20.2"},
		{"and then sees it", "1.19.5", "latest", false, 5, epoch.Add(45 * time.Minute), "1.21.0"},
		{"a seed in the last wave waits six days", "1.19.5", "latest", false, 2000, released.Add(5 * 24 * time.Hour), "1.20.2"},
		{"a seed in the last wave sees it after six days", "1.19.5", "latest", false, 2000, released.Add(6 * 24 * time.Hour), "1.21.0"},
		{"seed is taken modulo MaxSeed", "1.19.5", "latest", false, MaxSeed, epoch, "1.21.0"},
		{"nothing newer", "1.21.0", "latest", false, 5, epoch, ""},
		{"empty lock means latest", "1.20.2", "", false, 0, epoch, "1.21.0"},
		{"lock picks an older version", "1.20.2", "1.19.5", false, 1000, epoch, "1.19.5"},
		{"lock accepts a v prefix", "1.20.2", "v1.19.5", false, 1000, epoch, "1.19.5"},
		{"lock ignores waves", "1.19.5", "1.21.0", false, 2000, epoch, "1.21.0"},
		{"lock on the running version chooses nothing", "1.19.5", "1.19.5", false, 1000, epoch, ""},
		{"lock on a version not on offer chooses nothing", "1.19.5", "1.99.0", false, 1000, epoch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := repo.choose("aws-ecs-2", "x86_64", tt.running, tt.lock, tt.ignoreWaves, tt.seed, tt.now)
			got := ""
			if c.chosen != nil {
				got = c.chosen.Version
			}
			if got != tt.want {
				t.Errorf("choose(running %s, lock %q, seed %d) = %q, want %q", tt.running, tt.lock, tt.seed, got, tt.want)
			}
			if a := strings.Join(c.available, " "); a != "1.21.0 1.20.2 1.19.5" {
				t.Errorf("available = %s, want every aws-ecs-2 version newest first", a)
			}
		})
	}
}

func TestChooseMaxVersion(t *testing.T) {
	repo := NewRepo(
		Release{Variant: "aws-ecs-2", Version: "1.19.5"},
		Release{Variant: "aws-ecs-2", Version: "1.18.0", MaxVersion: "1.20.0"},
	)
	for running, want := range map[string]string{"1.17.0": "1.19.5", "1.19.5": "", "1.20.0": "", "1.20.5": "1.18.0"} {
		c := repo.choose("aws-ecs-2", "x86_64", running, "latest", false, 0, epoch)
		got := ""
		if c.chosen != nil {
			got = c.chosen.Version
		}
		if got != want {
			t.Errorf("choose(running %s) with max_version 1.20.0 on 1.18.0 = %q, want %q", running, got, want)
		}
	}
}

func TestWavesHideAnUpdateUntilTheSeedTime(t *testing.T) {
	f := newFixture(t, func(c *HostConfig) { c.Version = "1.20.3"; c.Seed = 30 }) // second wave: 1%..5%
	rel := Release{Variant: "aws-ecs-2", Version: "1.21.0", Released: epoch, Waves: DefaultWaves()}
	f.repo.Publish(rel) // a new release while hosts run
	visible := rel.VisibleAt(30)
	if visible.Before(epoch.Add(4*time.Hour)) || !visible.Before(epoch.Add(24*time.Hour)) {
		t.Fatalf("VisibleAt(30) = %v, want within the second wave [4h, 24h)", visible.Sub(epoch))
	}
	f.clock.Advance(visible.Sub(epoch) - time.Minute)
	if got := f.mustRun("apiclient update check"); !strings.Contains(got.Stdout, `"chosen_update": null`) || !strings.Contains(got.Stdout, `"1.21.0"`) {
		t.Errorf("check before the seed time = %s, want 1.21.0 listed but not chosen", got.Stdout)
	}
	f.clock.Advance(time.Minute)
	if got := f.mustRun("apiclient update check"); !strings.Contains(got.Stdout, `"update_state": "Available"`) {
		t.Errorf("check after the seed time = %s, want Available", got.Stdout)
	}
}

func TestVisibleAt(t *testing.T) {
	rel := Release{Released: epoch, Waves: DefaultWaves()}
	tests := []struct {
		seed uint32
		want time.Duration
	}{
		{0, time.Hour},                   // first seed of the 1% wave
		{10, time.Hour + 90*time.Minute}, // halfway through seeds 0..20, over the 3h to the next wave
		{20, 4 * time.Hour},              // first seed of the 5% wave
		{2047, 6 * 24 * time.Hour},       // last wave: no spread
		{MaxSeed + 20, 4 * time.Hour},    // modulo MaxSeed
	}
	for _, tt := range tests {
		if got := rel.VisibleAt(tt.seed).Sub(epoch); got != tt.want {
			t.Errorf("VisibleAt(%d) = %v, want %v", tt.seed, got, tt.want)
		}
	}
	if got := (Release{Released: epoch}).VisibleAt(7); !got.Equal(epoch) {
		t.Errorf("VisibleAt without waves = %v, want the release time", got)
	}
	partial := Release{Released: epoch, Waves: []Wave{{StartAfter: time.Hour, FleetPercentage: 50}}}
	if got := partial.VisibleAt(2000).Sub(epoch); got != time.Hour {
		t.Errorf("VisibleAt above the last wave = %v, want the last wave's start", got)
	}
}

func TestRepoPublishAndWithdraw(t *testing.T) {
	f := newFixture(t, func(c *HostConfig) { c.Version = "1.20.3" })
	f.mustRun("apiclient update check")
	if s := f.host.UpdateState(); s != StateIdle {
		t.Fatalf("UpdateState() = %s, want Idle", s)
	}
	f.repo.Publish(Release{Variant: "aws-ecs-2", Version: "1.20.10"})
	f.mustRun("apiclient update check")
	if s := f.host.UpdateState(); s != StateAvailable {
		t.Fatalf("UpdateState() after a release = %s, want Available", s)
	}
	if !f.repo.Withdraw("aws-ecs-2", "v1.20.10") {
		t.Fatalf("Withdraw(1.20.10) = false, want true")
	}
	got := f.run("apiclient update apply")
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "Previously chosen Update no longer exists") {
		t.Errorf("apply of a withdrawn release = %+v, want exit 1 naming the missing update", got)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.20.3", "1.20.3", 0},
		{"1.20.3", "v1.20.3", 0},
		{"1.20.10", "1.20.9", 1},
		{"1.9.0", "1.10.0", -1},
		{"2.0.0", "1.99.99", 1},
		{"1.20.0-rc1", "1.20.0", -1},
		{"1.20.0", "1.20.0-rc1", 1},
		{"1.20", "1.20.0", 0},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
