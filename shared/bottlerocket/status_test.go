package bottlerocket

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// available is the stdout of `apiclient update check` on a host with an update available,
// field for field as Bottlerocket prints it.
const available = `{
  "update_state": "Available",
  "available_updates": [
    "1.20.3",
    "1.20.2",
    "1.19.5"
  ],
  "chosen_update": {
    "arch": "x86_64",
    "version": "1.20.3",
    "variant": "aws-ecs-2"
  },
  "active_partition": {
    "image": {
      "arch": "x86_64",
      "version": "1.19.5",
      "variant": "aws-ecs-2"
    },
    "next_to_boot": true
  },
  "staging_partition": null,
  "most_recent_command": {
    "cmd_type": "refresh",
    "cmd_status": "Success",
    "timestamp": "2025-01-01T00:00:00Z",
    "exit_status": 0,
    "stderr": ""
  }
}
`

func TestParseUpdateCheck(t *testing.T) {
	zero := 0
	tests := []struct {
		name   string
		stdout string
		want   Status
	}{
		{
			name:   "an available update is parsed field by field",
			stdout: available,
			want: Status{
				UpdateState:      StateAvailable,
				AvailableUpdates: []string{"1.20.3", "1.20.2", "1.19.5"},
				ChosenUpdate:     &Image{Arch: "x86_64", Version: "1.20.3", Variant: "aws-ecs-2"},
				ActivePartition:  &Partition{Image: Image{Arch: "x86_64", Version: "1.19.5", Variant: "aws-ecs-2"}, NextToBoot: true},
				MostRecentCommand: &Command{Type: "refresh", Status: "Success",
					Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ExitStatus: &zero},
			},
		},
		{
			name: "a ready host shows the staging partition next to boot",
			stdout: `{"update_state":"Ready","chosen_update":null,
				"active_partition":{"image":{"arch":"aarch64","version":"1.19.5","variant":"aws-ecs-2"},"next_to_boot":false},
				"staging_partition":{"image":{"arch":"aarch64","version":"1.20.3","variant":"aws-ecs-2"},"next_to_boot":true}}`,
			want: Status{
				UpdateState:      StateReady,
				ActivePartition:  &Partition{Image: Image{Arch: "aarch64", Version: "1.19.5", Variant: "aws-ecs-2"}},
				StagingPartition: &Partition{Image: Image{Arch: "aarch64", Version: "1.20.3", Variant: "aws-ecs-2"}, NextToBoot: true},
			},
		},
		{
			name:   "only the two mandatory fields are enough",
			stdout: `{"update_state":"Idle","active_partition":{"image":{"version":"1.20.3"}}}`,
			want:   Status{UpdateState: StateIdle, ActivePartition: &Partition{Image: Image{Version: "1.20.3"}}},
		},
		{
			name:   "fields a newer Bottlerocket adds are ignored",
			stdout: `{"update_state":"Idle","active_partition":{"image":{"version":"1.20.3"}},"new_field":{"x":1}}`,
			want:   Status{UpdateState: StateIdle, ActivePartition: &Partition{Image: Image{Version: "1.20.3"}}},
		},
		{
			name:   "surrounding whitespace is tolerated",
			stdout: "\n  " + `{"update_state":"Idle","active_partition":{"image":{"version":"1.20.3"}}}` + "\n\n",
			want:   Status{UpdateState: StateIdle, ActivePartition: &Partition{Image: Image{Version: "1.20.3"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUpdateCheck([]byte(tt.stdout))
			if err != nil {
				t.Fatalf("ParseUpdateCheck() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseUpdateCheck() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseUpdateCheckRejectsMalformedOutput(t *testing.T) {
	tests := []struct {
		name     string
		stdout   string
		wantErrs []string // substrings the error must contain
	}{
		{"empty stdout (apiclient failed and printed only to stderr)", "", []string{"empty output"}},
		{"the stderr log line instead of JSON", "Refreshing updates...", []string{"not a JSON object"}},
		{"truncated JSON", `{"update_state":"Idle",`, []string{"unexpected EOF"}},
		{"two objects", `{"update_state":"Idle","active_partition":{"image":{"version":"1.20.3"}}} {}`, []string{"data after the JSON object"}},
		{"update_state missing", `{"active_partition":{"image":{"version":"1.20.3"}}}`, []string{"update_state is missing"}},
		{"an unknown update_state", `{"update_state":"Rebooting","active_partition":{"image":{"version":"1.20.3"}}}`, []string{`update_state "Rebooting" is not`}},
		{"active_partition missing", `{"update_state":"Idle"}`, []string{"active_partition.image.version is missing"}},
		{"active version empty", `{"update_state":"Idle","active_partition":{"image":{"version":""}}}`, []string{"active_partition.image.version is missing"}},
		{"active version not a version", `{"update_state":"Idle","active_partition":{"image":{"version":"latest"}}}`, []string{`invalid version "latest"`}},
		{"both mandatory fields missing are both reported", `{}`, []string{"update_state is missing", "active_partition.image.version is missing"}},
		{"a field of the wrong type", `{"update_state":3}`, []string{"cannot unmarshal number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseUpdateCheck([]byte(tt.stdout))
			if err == nil {
				t.Fatalf("ParseUpdateCheck(%q) error = nil, want one containing %q", tt.stdout, tt.wantErrs)
			}
			if !errors.Is(err, ErrMalformedOutput) {
				t.Errorf("ParseUpdateCheck(%q) error %v does not wrap ErrMalformedOutput", tt.stdout, err)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseUpdateCheck(%q) error = %q, want it to contain %q", tt.stdout, err, want)
				}
			}
		})
	}
}

func TestStatusAccessors(t *testing.T) {
	ready := Status{
		UpdateState:      StateReady,
		ChosenUpdate:     &Image{Version: "1.20.3"},
		ActivePartition:  &Partition{Image: Image{Version: "1.19.5"}},
		StagingPartition: &Partition{Image: Image{Version: "1.20.3"}, NextToBoot: true},
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"the active version is the running one", ready.ActiveVersion(), "1.19.5"},
		{"the chosen version is the one an update would install", ready.ChosenVersion(), "1.20.3"},
		{"the staged version is the one on the staging partition", ready.StagedVersion(), "1.20.3"},
		{"nothing chosen gives an empty version", Status{}.ChosenVersion(), ""},
		{"nothing staged gives an empty version", Status{}.StagedVersion(), ""},
		{"no active partition gives an empty version", Status{}.ActiveVersion(), ""},
		{"Idle has no update", Status{UpdateState: StateIdle}.HasUpdate(), false},
		{"Available has an update", Status{UpdateState: StateAvailable}.HasUpdate(), true},
		{"Staged has an update", Status{UpdateState: StateStaged}.HasUpdate(), true},
		{"Ready has an update (applied, waiting for a reboot)", Status{UpdateState: StateReady}.HasUpdate(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestParseOS(t *testing.T) {
	want := OS{Arch: "x86_64", BuildID: "abc123", PrettyName: "Bottlerocket OS 1.20.3 (aws-ecs-2)",
		VariantID: "aws-ecs-2", VersionID: "1.20.3"}
	inner := `{"arch":"x86_64","build_id":"abc123","pretty_name":"Bottlerocket OS 1.20.3 (aws-ecs-2)","variant_id":"aws-ecs-2","version_id":"1.20.3"}`
	tests := []struct {
		name   string
		stdout string
	}{
		{"apiclient get os wraps the object in \"os\"", `{"os":` + inner + "}\n"},
		{"apiclient -u /os prints the object alone", inner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOS([]byte(tt.stdout))
			if err != nil {
				t.Fatalf("ParseOS() error: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseOS() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOSRejectsMalformedOutput(t *testing.T) {
	tests := []struct {
		name    string
		stdout  string
		wantErr string
	}{
		{"empty", "", "empty output"},
		{"not JSON", "Bottlerocket OS", "not a JSON object"},
		{"version_id missing", `{"os":{"variant_id":"aws-ecs-2"}}`, "version_id is missing"},
		{"version_id not a version", `{"os":{"version_id":"v1.20"}}`, `invalid version "v1.20"`},
		{"os of the wrong type", `{"os":"1.20.3"}`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOS([]byte(tt.stdout))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseOS(%q) error = %v, want one containing %q", tt.stdout, err, tt.wantErr)
			}
			if !errors.Is(err, ErrMalformedOutput) {
				t.Errorf("ParseOS(%q) error %v does not wrap ErrMalformedOutput", tt.stdout, err)
			}
		})
	}
}
