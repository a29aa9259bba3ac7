package bottlerocket

import (
	"errors"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal releases are the same", "1.20.3", "1.20.3", 0},
		{"a newer patch is newer", "1.20.4", "1.20.3", 1},
		{"an older patch is older", "1.20.2", "1.20.3", -1},
		{"minor outranks patch", "1.21.0", "1.20.9", 1},
		{"major outranks minor", "2.0.0", "1.99.99", 1},
		{"numbers compare as numbers, not text", "1.10.0", "1.9.0", 1},
		{"a pre-release is older than its release", "1.21.0-rc.1", "1.21.0", -1},
		{"a release is newer than its pre-release", "1.21.0", "1.21.0-rc.1", 1},
		{"numeric pre-release identifiers compare as numbers", "1.0.0-rc.10", "1.0.0-rc.9", 1},
		{"numeric identifiers are older than alphanumeric ones", "1.0.0-1", "1.0.0-alpha", -1},
		{"alphanumeric identifiers compare as text", "1.0.0-beta", "1.0.0-alpha", 1},
		{"more pre-release identifiers are newer", "1.0.0-alpha.1", "1.0.0-alpha", 1},
		{"build metadata is ignored", "1.20.3+abc", "1.20.3+def", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.a, tt.b)
			if err != nil {
				t.Fatalf("Compare(%q, %q) error: %v", tt.a, tt.b, err)
			}
			if got != tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCompareRejectsMalformedVersions(t *testing.T) {
	tests := []struct {
		name    string
		a, b    string
		wantErr string
	}{
		{"empty", "", "1.0.0", `invalid version "": empty`},
		{"a leading v", "v1.20.3", "1.20.3", `invalid version "v1.20.3": not a number: "v1"`},
		{"two parts", "1.20", "1.20.3", `invalid version "1.20": want MAJOR.MINOR.PATCH`},
		{"four parts", "1.20.3", "1.20.3.1", `invalid version "1.20.3.1": want MAJOR.MINOR.PATCH`},
		{"a leading zero", "1.02.3", "1.20.3", `invalid version "1.02.3": leading zero`},
		{"an empty pre-release", "1.20.3-", "1.20.3", `invalid version "1.20.3-": empty pre-release`},
		{"an empty pre-release identifier", "1.20.3-rc..1", "1.20.3", `invalid version "1.20.3-rc..1": bad pre-release identifier`},
		{"a leading zero in a numeric pre-release", "1.20.3-01", "1.20.3", `invalid version "1.20.3-01": leading zero in pre-release identifier`},
		{"empty build metadata", "1.20.3+", "1.20.3", `invalid version "1.20.3+": empty build metadata`},
		{"spaces", " 1.20.3", "1.20.3", `invalid version " 1.20.3": not a number: " 1"`},
		{"a number that overflows", "1.99999999999999999999.0", "1.0.0", `invalid version "1.99999999999999999999.0": number too large`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(tt.a, tt.b)
			if err == nil {
				t.Fatalf("Compare(%q, %q) error = nil, want %q", tt.a, tt.b, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidVersion) {
				t.Errorf("Compare(%q, %q) error %v does not wrap ErrInvalidVersion", tt.a, tt.b, err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Compare(%q, %q) error = %q, want %q", tt.a, tt.b, err, tt.wantErr)
			}
		})
	}
}

func TestVersionStringRoundTrips(t *testing.T) {
	for _, s := range []string{"1.20.3", "0.0.0", "1.21.0-rc.1", "1.21.0-rc.1+build.5"} {
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatalf("ParseVersion(%q) error: %v", s, err)
		}
		if got := v.String(); got != s {
			t.Errorf("ParseVersion(%q).String() = %q, want %q", s, got, s)
		}
	}
}
