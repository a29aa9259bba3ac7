// Package bottlerocket parses what Bottlerocket's apiclient prints and compares Bottlerocket
// versions. It is pure: no I/O, no clock, standard library only.
//
// The output shapes are those of `apiclient update check` (the update status object) and
// `apiclient get os`; see docs/job.md and the reference notes on the update API. Fields the
// pipeline does not use are ignored, so that a newer Bottlerocket that adds fields still parses.
package bottlerocket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Bottlerocket version: semantic versioning without a leading "v", such as
// "1.20.3" or "1.21.0-rc.1". Build metadata ("+abc") is kept but ignored in comparisons.
type Version struct {
	Major, Minor, Patch int
	Pre                 []string // dot-separated pre-release identifiers; empty for a release
	Build               string
}

// ErrInvalidVersion is wrapped by every error ParseVersion and Compare return.
var ErrInvalidVersion = errors.New("invalid version")

// ParseVersion parses s as MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]. It rejects a leading "v",
// leading zeros and empty identifiers, as semantic versioning does.
func ParseVersion(s string) (Version, error) {
	fail := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("%w %q: %s", ErrInvalidVersion, s, why)
	}
	if s == "" {
		return fail("empty")
	}
	rest := s
	var v Version
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build = rest[i+1:]
		rest = rest[:i]
		if v.Build == "" {
			return fail("empty build metadata")
		}
		for _, id := range strings.Split(v.Build, ".") {
			if id == "" || !isAlnumHyphen(id) {
				return fail("bad build metadata")
			}
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if pre == "" {
			return fail("empty pre-release")
		}
		for _, id := range strings.Split(pre, ".") {
			if id == "" || !isAlnumHyphen(id) {
				return fail("bad pre-release identifier")
			}
			if isDigits(id) && len(id) > 1 && id[0] == '0' {
				return fail("leading zero in pre-release identifier")
			}
			v.Pre = append(v.Pre, id)
		}
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return fail("want MAJOR.MINOR.PATCH")
	}
	nums := make([]int, 3)
	for i, p := range parts {
		if p == "" || !isDigits(p) {
			return fail("not a number: " + strconv.Quote(p))
		}
		if len(p) > 1 && p[0] == '0' {
			return fail("leading zero")
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return fail("number too large")
		}
		nums[i] = n
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	return v, nil
}

// String formats v as ParseVersion accepts it.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer than w, by semantic
// versioning precedence (a pre-release is older than its release; build metadata is ignored).
func (v Version) Compare(w Version) int {
	for _, d := range [...]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		if d != 0 {
			return sign(d)
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		an, bn := isDigits(a), isDigits(b)
		switch {
		case an && bn:
			if len(a) != len(b) {
				return sign(len(a) - len(b))
			}
			if c := strings.Compare(a, b); c != 0 {
				return c
			}
		case an:
			return -1
		case bn:
			return 1
		default:
			if c := strings.Compare(a, b); c != 0 {
				return c
			}
		}
	}
	return sign(len(v.Pre) - len(w.Pre))
}

// Compare parses a and b and returns -1, 0 or +1 as a is older than, the same as, or newer than
// b. It returns an error wrapping ErrInvalidVersion when either does not parse.
func Compare(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
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

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnumHyphen(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
