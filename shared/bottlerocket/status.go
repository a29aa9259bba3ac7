package bottlerocket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// UpdateState is the state of Bottlerocket's update state machine (thar-be-updates), reported
// as "update_state". The status lives on tmpfs, so it starts again from Idle/Available after
// every boot.
type UpdateState string

// The four update states. Transitions: refresh (Idle/Available -> Available or Idle), prepare
// (Available/Staged -> Staged), activate (Staged -> Ready), cancel (Ready -> Staged).
const (
	StateIdle      UpdateState = "Idle"      // no update chosen
	StateAvailable UpdateState = "Available" // an update is chosen, nothing written
	StateStaged    UpdateState = "Staged"    // written to the inactive partition set, not active
	StateReady     UpdateState = "Ready"     // activated: the next boot boots it
)

// Valid reports whether s is one of the four known states.
func (s UpdateState) Valid() bool {
	switch s {
	case StateIdle, StateAvailable, StateStaged, StateReady:
		return true
	}
	return false
}

// Image identifies an OS image: architecture, version and variant (for example "aws-ecs-2").
type Image struct {
	Arch    string `json:"arch"`
	Version string `json:"version"`
	Variant string `json:"variant"`
}

// Partition is a partition set and whether the next boot uses it.
type Partition struct {
	Image      Image `json:"image"`
	NextToBoot bool  `json:"next_to_boot"`
}

// Command is the most recent update command and its result.
type Command struct {
	Type       string    `json:"cmd_type"`   // refresh, prepare, activate, deactivate
	Status     string    `json:"cmd_status"` // Success, Failed, Unknown
	Timestamp  time.Time `json:"timestamp"`
	ExitStatus *int      `json:"exit_status,omitempty"`
	Stderr     string    `json:"stderr,omitempty"`
}

// Status is the update status object that `apiclient update check` prints on stdout.
type Status struct {
	UpdateState       UpdateState `json:"update_state"`
	AvailableUpdates  []string    `json:"available_updates,omitempty"`
	ChosenUpdate      *Image      `json:"chosen_update"`     // nil when no update is chosen
	ActivePartition   *Partition  `json:"active_partition"`  // never nil after ParseUpdateCheck
	StagingPartition  *Partition  `json:"staging_partition"` // nil until an update is prepared
	MostRecentCommand *Command    `json:"most_recent_command,omitempty"`
}

// ActiveVersion is the version the host is running now.
func (s Status) ActiveVersion() string {
	if s.ActivePartition == nil {
		return ""
	}
	return s.ActivePartition.Image.Version
}

// ChosenVersion is the version an update would install, or "" when none is chosen.
func (s Status) ChosenVersion() string {
	if s.ChosenUpdate == nil {
		return ""
	}
	return s.ChosenUpdate.Version
}

// StagedVersion is the version written to the staging partition, or "" when nothing is staged.
func (s Status) StagedVersion() string {
	if s.StagingPartition == nil {
		return ""
	}
	return s.StagingPartition.Image.Version
}

// HasUpdate reports whether the host has an update to go through the pipeline: Available,
// Staged or Ready (the candidates of the original updater). Idle means nothing to do.
func (s Status) HasUpdate() bool {
	switch s.UpdateState {
	case StateAvailable, StateStaged, StateReady:
		return true
	}
	return false
}

// ErrMalformedOutput is wrapped by every parse error of this package: the command printed
// something that is not the documented shape.
var ErrMalformedOutput = errors.New("malformed apiclient output")

// ParseUpdateCheck parses the stdout of `apiclient update check`. update_state (one of the four
// states) and active_partition.image.version (a valid version) are mandatory, as they were for
// the original updater; other fields are optional and unknown fields are ignored. Surrounding
// whitespace is tolerated, anything else after the object is not.
func ParseUpdateCheck(stdout []byte) (Status, error) {
	var s Status
	if err := decodeOne(stdout, &s); err != nil {
		return Status{}, fmt.Errorf("parse update status: %w", err)
	}
	var errs []error
	switch {
	case s.UpdateState == "":
		errs = append(errs, errors.New("update_state is missing"))
	case !s.UpdateState.Valid():
		errs = append(errs, fmt.Errorf("update_state %q is not Idle, Available, Staged or Ready", s.UpdateState))
	}
	switch {
	case s.ActivePartition == nil || s.ActivePartition.Image.Version == "":
		errs = append(errs, errors.New("active_partition.image.version is missing"))
	default:
		if _, err := ParseVersion(s.ActivePartition.Image.Version); err != nil {
			errs = append(errs, fmt.Errorf("active_partition.image.version: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Status{}, fmt.Errorf("parse update status: %w: %w", ErrMalformedOutput, err)
	}
	return s, nil
}

// OS is the OS release information that `apiclient get os` prints.
type OS struct {
	Arch       string `json:"arch"`
	BuildID    string `json:"build_id"`
	PrettyName string `json:"pretty_name"`
	VariantID  string `json:"variant_id"`
	VersionID  string `json:"version_id"`
}

// ParseOS parses the output of `apiclient get os` ({"os": {...}}) or of `apiclient -u /os` (the
// inner object alone). version_id is mandatory and must be a valid version.
func ParseOS(stdout []byte) (OS, error) {
	var probe map[string]json.RawMessage
	if err := decodeOne(stdout, &probe); err != nil {
		return OS{}, fmt.Errorf("parse os: %w", err)
	}
	body := stdout
	if inner, ok := probe["os"]; ok {
		body = inner
	}
	var o OS
	if err := decodeOne(body, &o); err != nil {
		return OS{}, fmt.Errorf("parse os: %w", err)
	}
	if o.VersionID == "" {
		return OS{}, fmt.Errorf("parse os: %w: version_id is missing", ErrMalformedOutput)
	}
	if _, err := ParseVersion(o.VersionID); err != nil {
		return OS{}, fmt.Errorf("parse os: %w: version_id: %w", ErrMalformedOutput, err)
	}
	return o, nil
}

// decodeOne decodes exactly one JSON object from b into v.
func decodeOne(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("%w: empty output", ErrMalformedOutput)
	}
	if b[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformedOutput)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedOutput, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformedOutput)
	}
	return nil
}
