package bottlerocket

import (
	"time"
)

// Clock is the simulator's virtual clock. AfterFunc callbacks run under the
// simulator's lock, so Host need not be goroutine-safe. AfterFunc must not
// call f before it returns, even for d == 0; callbacks due at the same instant
// should run in the order they were scheduled.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Hooks lets the world react when the host goes down for a reboot (the ECS
// and SSM agents disconnect) and when it has booted (they may reconnect).
// Both are called from inside a Clock callback, after the host's own state
// has changed: Up reports false in HostDown and true in HostUp.
type Hooks interface {
	HostDown(h *Host)
	HostUp(h *Host)
}

// Update states as reported in update_state.
const (
	StateIdle      = "Idle"
	StateAvailable = "Available"
	StateStaged    = "Staged"
	StateReady     = "Ready"
)

// Exit codes Run reports besides 0 and apiclient's 1 for a failed request.
const (
	// ExitHostDown is reported, synchronously, by Run on a host that is down.
	// The real host would not answer at all; queueing or timing out the
	// command is the caller's business.
	ExitHostDown = -1
	// ExitUsage is apiclient's exit code for a command line it cannot parse.
	ExitUsage = 2
	// ExitNotFound is the shell's exit code for a command that is not apiclient.
	ExitNotFound = 127
)

// HostConfig describes one host at creation.
type HostConfig struct {
	ID      string // EC2 instance ID
	Arch    string // default "x86_64"
	Variant string // default "aws-ecs-2"
	Version string // version on the active partition set at creation
	Repo    *Repo  // may be shared; nil offers nothing
	Timings Timings
	Faults  Faults
	// Seed is settings.updates.seed; its value modulo MaxSeed places the host
	// in each release's waves.
	Seed uint32
	// VersionLock is settings.updates.version-lock: "latest" (the default
	// when empty) or a version, with or without "v".
	VersionLock string
	// IgnoreWaves is settings.updates.ignore-waves.
	IgnoreWaves bool
}

// Timings are the virtual durations of the host's operations.
type Timings struct {
	Refresh  time.Duration // update check (refresh-updates)
	Prepare  time.Duration // download and write the inactive partition set
	Activate time.Duration // mark the inactive set next to boot
	Cancel   time.Duration // deactivate
	Shutdown time.Duration // from the reboot request until the host is down
	Boot     time.Duration // from down until booted (doubled for a failed boot try)
}

// DefaultTimings are plausible durations for an aws-ecs-2 host on EC2.
func DefaultTimings() Timings {
	return Timings{
		Refresh:  2 * time.Second,
		Prepare:  90 * time.Second,
		Activate: 2 * time.Second,
		Cancel:   time.Second,
		Shutdown: 10 * time.Second,
		Boot:     45 * time.Second,
	}
}

// Faults make the host misbehave; SetFaults changes them at any time. Each
// is read at the moment noted, so a change affects operations that reach that
// moment afterwards.
type Faults struct {
	// CheckFails fails every refresh (read when the refresh completes): update
	// check exits 1 with nothing on stdout, and Available falls back to Idle.
	CheckFails bool
	// ApplyFails fails the prepare step (read when it completes): apply exits
	// 1 and the state returns to Available without a staging partition.
	ApplyFails bool
	// ApplyHangs makes apply never finish (read when apply starts): done is
	// never called and the update lock stays held until the next reboot.
	ApplyHangs bool
	// RebootNeverReturns keeps the host down after a reboot (read when the
	// host goes down): HostUp is never called.
	RebootNeverReturns bool
	// NewVersionFailsToBoot makes a freshly activated partition set fail its
	// one boot try (read when the host goes down), so the host comes back on
	// its old version.
	NewVersionFailsToBoot bool
}

// Result is what one command line printed and how it exited.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Host is one simulated Bottlerocket host. It is created up and running
// HostConfig.Version with an uninitialised update status (as after a boot),
// without calling any hook.
type Host struct {
	id, arch, variant string
	repo              *Repo
	timings           Timings
	faults            Faults
	seed              uint32
	versionLock       string
	ignoreWaves       bool
	clock             Clock
	hooks             Hooks

	parts  [2]string // image version on partition sets A and B; "" = nothing valid
	active int       // the set the host booted from
	next   int       // the set marked to boot next

	status *status // nil until the first update command after a boot (tmpfs)
	locked bool    // thar-be-updates' lock, held while a mutating command runs

	up        bool
	goingDown bool
	reboots   int

	gen      int // incremented when the host goes down; stale callbacks are dropped
	timerSeq int
	pending  map[int]func() bool
}

// NewHost returns a running host. hooks may be nil.
func NewHost(cfg HostConfig, clock Clock, hooks Hooks) *Host {
	h := &Host{
		id:          cfg.ID,
		arch:        cfg.Arch,
		variant:     cfg.Variant,
		repo:        cfg.Repo,
		timings:     cfg.Timings,
		faults:      cfg.Faults,
		seed:        cfg.Seed,
		versionLock: cfg.VersionLock,
		ignoreWaves: cfg.IgnoreWaves,
		clock:       clock,
		hooks:       hooks,
		up:          true,
		pending:     map[int]func() bool{},
	}
	if h.arch == "" {
		h.arch = "x86_64"
	}
	if h.variant == "" {
		h.variant = "aws-ecs-2"
	}
	if h.versionLock == "" {
		h.versionLock = "latest"
	}
	h.parts[0] = normalizeVersion(cfg.Version)
	return h
}

// ID returns the EC2 instance ID.
func (h *Host) ID() string { return h.id }

// Up reports whether the host is running (true from creation, false from
// HostDown until HostUp).
func (h *Host) Up() bool { return h.up }

// Version returns the version of the active partition set: the one the host
// last booted from.
func (h *Host) Version() string { return h.parts[h.active] }

// Faults returns the current faults.
func (h *Host) Faults() Faults { return h.faults }

// SetFaults replaces the faults.
func (h *Host) SetFaults(f Faults) { h.faults = f }

// Reboots counts how many times the host went down for a reboot.
func (h *Host) Reboots() int { return h.reboots }

// Seed returns settings.updates.seed modulo MaxSeed: the host's place in a release's waves.
func (h *Host) Seed() uint32 { return h.seed % MaxSeed }

// VersionLock returns settings.updates.version-lock.
func (h *Host) VersionLock() string { return h.versionLock }

// UpdateState returns the update state thar-be-updates would report: "Idle"
// while the status is still uninitialised after a boot, "" while the host is
// down.
func (h *Host) UpdateState() string {
	switch {
	case !h.up:
		return ""
	case h.status == nil:
		return StateIdle
	}
	return h.status.UpdateState
}

// after runs f after d unless the host goes down first.
func (h *Host) after(d time.Duration, f func()) {
	id, gen := h.timerSeq, h.gen
	h.timerSeq++
	h.pending[id] = nil
	stop := h.clock.AfterFunc(d, func() {
		delete(h.pending, id)
		if h.gen == gen {
			f()
		}
	})
	if _, ok := h.pending[id]; ok {
		h.pending[id] = stop
	}
}

// inactive is the partition set the host did not boot from.
func (h *Host) inactive() int { return 1 - h.active }

// beginShutdown starts a reboot; a second request while one is under way is
// absorbed by the first.
func (h *Host) beginShutdown() {
	if h.goingDown {
		return
	}
	h.goingDown = true
	h.after(h.timings.Shutdown, h.goDown)
}

// goDown takes the host down: every running command is cut off, the tmpfs
// status and lock vanish, and the firmware picks the set to boot.
func (h *Host) goDown() {
	h.up, h.goingDown = false, false
	h.gen++
	for id, stop := range h.pending {
		if stop != nil {
			stop()
		}
		delete(h.pending, id)
	}
	h.status, h.locked = nil, false
	h.reboots++
	neverReturns := h.faults.RebootNeverReturns
	tryFails := h.next != h.active && h.faults.NewVersionFailsToBoot
	if h.hooks != nil {
		h.hooks.HostDown(h)
	}
	if neverReturns {
		return
	}
	boot := h.timings.Boot
	if tryFails {
		boot *= 2 // the failed try, then the fallback boot
	}
	h.after(boot, func() { h.boot(tryFails) })
}

// boot brings the host up on the set marked next to boot, or back on the old
// set when the new one used up its single try.
func (h *Host) boot(tryFailed bool) {
	if h.next != h.active {
		if tryFailed {
			h.next = h.active
		} else {
			h.active = h.next
		}
	}
	h.up = true
	if h.hooks != nil {
		h.hooks.HostUp(h)
	}
}
