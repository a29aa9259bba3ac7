package bottlerocket

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxSeed bounds settings.updates.seed: a host's position in the wave
// schedule is its seed modulo MaxSeed.
const MaxSeed = 2048

// Wave is one step of a release's rollout, as in updog's manifest: from
// StartAfter past the release time, hosts whose seed falls below
// FleetPercentage percent of MaxSeed may see the release. Waves are
// cumulative: a host that missed its wave sees the release later anyway.
type Wave struct {
	StartAfter      time.Duration
	FleetPercentage int
}

// DefaultWaves is Bottlerocket's default-waves.toml.
func DefaultWaves() []Wave {
	return []Wave{
		{StartAfter: time.Hour, FleetPercentage: 1},
		{StartAfter: 4 * time.Hour, FleetPercentage: 5},
		{StartAfter: 24 * time.Hour, FleetPercentage: 10},
		{StartAfter: 3 * 24 * time.Hour, FleetPercentage: 25},
		{StartAfter: 6 * 24 * time.Hour, FleetPercentage: 100},
	}
}

// Release is one version on offer in the update repository.
type Release struct {
	Variant string // e.g. "aws-ecs-2"
	// Arch is "x86_64" or "aarch64"; empty offers the release on every arch.
	Arch    string
	Version string // semver without "v", e.g. "1.20.3"
	// MaxVersion, when set, lets a host running a version above it move to
	// this release even if the release is older (updog's max_version).
	MaxVersion string
	// Released is the moment the waves count from. Without Waves the release
	// is visible to every host at once.
	Released time.Time
	Waves    []Wave
}

// VisibleAt reports when a host with the given seed first sees r under
// "latest", ignoring version ordering. A seed in wave i becomes eligible at
// that wave's start plus its proportional place in the seed range of the wave,
// spread over the time to the next wave's start (deterministic jitter); seeds
// above the last wave's percentage wait for the last wave.
func (r Release) VisibleAt(seed uint32) time.Time {
	if len(r.Waves) == 0 {
		return r.Released
	}
	waves := slices.Clone(r.Waves)
	slices.SortStableFunc(waves, func(a, b Wave) int { return a.FleetPercentage - b.FleetPercentage })
	s := int(seed % MaxSeed)
	prevBound := 0
	for i, w := range waves {
		bound := w.FleetPercentage * MaxSeed / 100
		if s >= bound {
			prevBound = bound
			continue
		}
		start := r.Released.Add(w.StartAfter)
		if i+1 == len(waves) || bound == prevBound {
			return start
		}
		span := waves[i+1].StartAfter - w.StartAfter
		if span <= 0 {
			return start
		}
		frac := float64(s-prevBound) / float64(bound-prevBound)
		return start.Add(time.Duration(frac * float64(span)))
	}
	return r.Released.Add(waves[len(waves)-1].StartAfter)
}

func (r Release) offers(variant, arch string) bool {
	return r.Variant == variant && (r.Arch == "" || r.Arch == arch)
}

// Repo is the update repository (TUF manifest) shared by many hosts. Publish
// and Withdraw may be called at any time, also concurrently with hosts
// reading it; hosts see the change at their next refresh.
type Repo struct {
	mu       sync.Mutex
	releases []Release // newest first
}

// NewRepo returns a repository offering releases.
func NewRepo(releases ...Release) *Repo {
	r := &Repo{}
	for _, rel := range releases {
		r.Publish(rel)
	}
	return r
}

// Publish adds rel, replacing a release with the same variant, arch and
// version, and keeps the list newest first.
func (r *Repo) Publish(rel Release) {
	rel.Version = normalizeVersion(rel.Version)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releases = slices.DeleteFunc(r.releases, func(o Release) bool {
		return o.Variant == rel.Variant && o.Arch == rel.Arch && o.Version == rel.Version
	})
	r.releases = append(r.releases, rel)
	slices.SortStableFunc(r.releases, func(a, b Release) int { return compareVersions(b.Version, a.Version) })
}

// Withdraw removes a version from offer for variant (every arch) and reports
// whether it was on offer.
func (r *Repo) Withdraw(variant, version string) bool {
	version = normalizeVersion(version)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.releases)
	r.releases = slices.DeleteFunc(r.releases, func(o Release) bool {
		return o.Variant == variant && o.Version == version
	})
	return len(r.releases) != n
}

// Releases returns the releases on offer for variant and arch, newest first.
func (r *Repo) Releases(variant, arch string) []Release {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Release
	for _, rel := range r.releases {
		if rel.offers(variant, arch) {
			out = append(out, rel)
		}
	}
	return out
}

// choice is the outcome of updog's refresh for one host.
type choice struct {
	available []string
	chosen    *Release
}

// choose mirrors updog: list every version on offer, then pick per
// version-lock (see the package comment).
func (r *Repo) choose(variant, arch, running, lock string, ignoreWaves bool, seed uint32, now time.Time) choice {
	rels := r.Releases(variant, arch)
	var c choice
	for _, rel := range rels {
		if !slices.Contains(c.available, rel.Version) {
			c.available = append(c.available, rel.Version)
		}
	}
	if lock != "" && lock != "latest" {
		lock = normalizeVersion(lock)
		for _, rel := range rels {
			if rel.Version == lock && rel.Version != running {
				c.chosen = &rel
				break
			}
		}
		return c
	}
	for _, rel := range rels {
		newer := compareVersions(running, rel.Version) < 0 ||
			(rel.MaxVersion != "" && compareVersions(running, rel.MaxVersion) > 0 && rel.Version != running)
		if newer && (ignoreWaves || !now.Before(rel.VisibleAt(seed))) {
			c.chosen = &rel
			break
		}
	}
	return c
}

// normalizeVersion strips the "v" that version-lock accepts ("v1.20.3").
func normalizeVersion(v string) string {
	return strings.TrimPrefix(strings.TrimSpace(v), "v")
}

// compareVersions orders semver strings: -1 if a < b, 0 if equal, +1 if
// a > b. A pre-release sorts before its release; unparsable parts compare as
// strings.
func compareVersions(a, b string) int {
	a, b = normalizeVersion(a), normalizeVersion(b)
	aCore, aPre, _ := strings.Cut(a, "-")
	bCore, bPre, _ := strings.Cut(b, "-")
	ap, bp := strings.Split(aCore, "."), strings.Split(bCore, ".")
	for i := range max(len(ap), len(bp)) {
		x, y := "0", "0"
		if i < len(ap) {
			x = ap[i]
		}
		if i < len(bp) {
			y = bp[i]
		}
		xi, errX := strconv.Atoi(x)
		yi, errY := strconv.Atoi(y)
		switch {
		case errX == nil && errY == nil:
			if c := xi - yi; c != 0 {
				return sign(c)
			}
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case aPre == bPre:
		return 0
	case aPre == "":
		return 1
	case bPre == "":
		return -1
	}
	return strings.Compare(aPre, bPre)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
