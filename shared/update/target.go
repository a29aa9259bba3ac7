package update

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// Target says which Bottlerocket version a rollout updates every host to: one version for the
// whole rollout, chosen when it starts, so that a version released while it runs is not picked
// up by the hosts it reaches later. The zero Target is "none": each host goes to whatever its
// own update check chooses, as before targets existed.
type Target struct {
	kind  targetKind
	minor bottlerocket.Version // the major.minor of a TargetNewestPatch
	exact string               // the version of a TargetExact
}

type targetKind int

const (
	targetNone targetKind = iota
	targetLatest
	targetNewestPatch
	targetExact
)

// ParseTarget reads a target policy: "" (none), "latest" (the newest version the hosts are
// offered), "1.20" (the newest patch of 1.20 on offer) or "1.20.3" (exactly that version).
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return Target{}, nil
	case "latest":
		return Target{kind: targetLatest}, nil
	}
	if v, err := bottlerocket.ParseVersion(s); err == nil {
		return Target{kind: targetExact, exact: v.String()}, nil
	}
	major, minor, ok := strings.Cut(s, ".")
	if ok {
		ma, errMa := strconv.Atoi(major)
		mi, errMi := strconv.Atoi(minor)
		if errMa == nil && errMi == nil && ma >= 0 && mi >= 0 && major == strconv.Itoa(ma) && minor == strconv.Itoa(mi) {
			return Target{kind: targetNewestPatch, minor: bottlerocket.Version{Major: ma, Minor: mi}}, nil
		}
	}
	return Target{}, fmt.Errorf("target version %q: want latest, a minor version such as 1.20 (its newest patch) or a version such as 1.20.3", s)
}

// String is the policy as ParseTarget reads it ("" for none).
func (t Target) String() string {
	switch t.kind {
	case targetLatest:
		return "latest"
	case targetNewestPatch:
		return fmt.Sprintf("%d.%d", t.minor.Major, t.minor.Minor)
	case targetExact:
		return t.exact
	}
	return ""
}

// IsZero reports whether t is "none".
func (t Target) IsZero() bool { return t.kind == targetNone }

// Resolve chooses the rollout's version from the update checks of the hosts it starts with
// (those of its first stage): the newest version one of them is offered (chosen_update) for
// latest; the newest 1.20.x one of them lists (available_updates) for a minor version; the
// version itself for an exact one, when one of them lists it. ok is false when none fits: the
// rollout has nothing to do yet.
func (t Target) Resolve(checks []bottlerocket.Status) (version string, ok bool) {
	var best bottlerocket.Version
	consider := func(s string) {
		v, err := bottlerocket.ParseVersion(s)
		if err != nil {
			return
		}
		if t.kind == targetNewestPatch && (v.Major != t.minor.Major || v.Minor != t.minor.Minor || len(v.Pre) > 0) {
			return
		}
		if t.kind == targetExact && v.String() != t.exact {
			return
		}
		if !ok || v.Compare(best) > 0 {
			best, ok = v, true
		}
	}
	for _, st := range checks {
		switch t.kind {
		case targetLatest:
			consider(st.ChosenVersion())
		case targetNewestPatch, targetExact:
			for _, a := range st.AvailableUpdates {
				consider(a)
			}
		}
	}
	if !ok {
		return "", false
	}
	return best.String(), true
}

// NeedsTarget reports whether a host whose update check is st has to move to target: it runs an
// older version and its repository lists target (available_updates), so that pinning it there
// can work. A host that runs target or newer (a rollout never moves a host back: that is a
// rollback's job), or whose repository does not carry it (another variant), is left out.
func NeedsTarget(st bottlerocket.Status, target string) bool {
	if c, err := bottlerocket.Compare(st.ActiveVersion(), target); err != nil || c >= 0 {
		return false
	}
	for _, a := range st.AvailableUpdates {
		if a == target {
			return true
		}
	}
	return false
}

// Offered reports whether a host's own update check, under version-lock latest, offers target:
// it chooses target or a newer version, so Bottlerocket's waves have reached the host. A host not
// offered the target yet waits (WaitVersionNotOffered); it is never forced there, which is what
// pinning it with version-lock before its wave would do.
func Offered(st bottlerocket.Status, target string) bool {
	chosen := st.ChosenVersion()
	if chosen == "" {
		return false
	}
	c, err := bottlerocket.Compare(chosen, target)
	return err == nil && c >= 0
}
