package update

import (
	"testing"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// check is an update check of a host running active, offered chosen ("" for none), whose
// repository lists available.
func check(active, chosen string, available ...string) bottlerocket.Status {
	st := bottlerocket.Status{UpdateState: bottlerocket.StateIdle, AvailableUpdates: available,
		ActivePartition: &bottlerocket.Partition{Image: bottlerocket.Image{Version: active}}}
	if chosen != "" {
		st.UpdateState, st.ChosenUpdate = bottlerocket.StateAvailable, &bottlerocket.Image{Version: chosen}
	}
	return st
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "", false},
		{"latest", "latest", false},
		{" 1.20 ", "1.20", false},
		{"1.20.3", "1.20.3", false},
		{"1.21.0-rc.1", "1.21.0-rc.1", false},
		{"v1.20.3", "", true},
		{"1.020", "", true},
		{"1", "", true},
		{"newest", "", true},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || got.String() != tt.want {
			t.Errorf("ParseTarget(%q) = %q, %v, want %q, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTargetResolve(t *testing.T) {
	fleet := []bottlerocket.Status{
		check("1.19.5", "1.20.3", "1.21.0", "1.20.3", "1.20.2", "1.19.5"), // 1.21.0 not yet in this host's wave
		check("1.19.5", "", "1.21.0", "1.20.3", "1.20.2", "1.19.5"),       // no wave reached this one
		check("1.20.2", "1.20.3", "1.21.0", "1.20.3", "1.20.2", "1.19.5"),
	}
	tests := []struct {
		name   string
		policy string
		checks []bottlerocket.Status
		want   string // "" when there is nothing to target
	}{
		{"latest is the newest version a host is offered, not the newest listed", "latest", fleet, "1.20.3"},
		{"a minor version takes its newest patch listed", "1.20", fleet, "1.20.3"},
		{"a minor version with no release is nothing", "1.22", fleet, ""},
		{"an exact version listed", "1.20.2", fleet, "1.20.2"},
		{"an exact version listed but in no host's wave yet", "1.21.0", fleet, "1.21.0"},
		{"an exact version nobody lists is nothing", "1.20.9", fleet, ""},
		{"latest when no host is offered anything", "latest", []bottlerocket.Status{check("1.20.3", "", "1.20.3")}, ""},
		{"no hosts", "latest", nil, ""},
		{"a pre-release is not a minor version's patch", "1.21", []bottlerocket.Status{check("1.20.3", "", "1.21.1-rc.1", "1.21.0")}, "1.21.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, err := ParseTarget(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := target.Resolve(tt.checks)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Resolve(%s) = %q, %t, want %q", tt.policy, got, ok, tt.want)
			}
		})
	}
}

func TestNeedsAndOffered(t *testing.T) {
	tests := []struct {
		name          string
		st            bottlerocket.Status
		needs, offers bool
	}{
		{"offered the target", check("1.19.5", "1.20.3", "1.20.3", "1.19.5"), true, true},
		{"offered a newer version: its wave is past the target", check("1.19.5", "1.21.0", "1.21.0", "1.20.3"), true, true},
		{"listed but its wave has not come: waits", check("1.19.5", "", "1.20.3", "1.19.5"), true, false},
		{"offered an older version only: waits", check("1.19.5", "1.20.2", "1.20.3", "1.20.2"), true, false},
		{"runs the target already", check("1.20.3", "", "1.20.3"), false, false},
		{"runs a newer version: a rollout never moves a host back", check("1.21.0", "", "1.21.0", "1.20.3"), false, false},
		{"its repository does not carry the target", check("1.19.5", "1.19.6", "1.19.6", "1.19.5"), false, false},
	}
	for _, tt := range tests {
		if got := NeedsTarget(tt.st, "1.20.3"); got != tt.needs {
			t.Errorf("%s: NeedsTarget = %t, want %t", tt.name, got, tt.needs)
		}
		if got := Offered(tt.st, "1.20.3"); got != tt.offers {
			t.Errorf("%s: Offered = %t, want %t", tt.name, got, tt.offers)
		}
	}
}
