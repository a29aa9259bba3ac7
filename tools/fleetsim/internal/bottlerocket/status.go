package bottlerocket

import (
	"bytes"
	"encoding/json"
	"time"
)

// status is thar-be-updates' status.json. Fields are declared in the order
// serde_json prints a Value (sorted keys), which is how apiclient prints it.
type status struct {
	ActivePartition   *partitionInfo `json:"active_partition"`
	AvailableUpdates  []string       `json:"available_updates"`
	ChosenUpdate      *updateImage   `json:"chosen_update"`
	MostRecentCommand commandResult  `json:"most_recent_command"`
	StagingPartition  *partitionInfo `json:"staging_partition"`
	UpdateState       string         `json:"update_state"`
}

type updateImage struct {
	Arch    string `json:"arch"`
	Version string `json:"version"`
	Variant string `json:"variant"`
}

type partitionInfo struct {
	Image      updateImage `json:"image"`
	NextToBoot bool        `json:"next_to_boot"`
}

type commandResult struct {
	CmdStatus  string `json:"cmd_status"` // Success | Failed | Unknown
	CmdType    string `json:"cmd_type"`   // refresh | prepare | activate | deactivate
	ExitStatus *int   `json:"exit_status"`
	Stderr     string `json:"stderr"`
	Timestamp  string `json:"timestamp"`
}

// Command types and outcomes in most_recent_command.
const (
	cmdRefresh    = "refresh"
	cmdPrepare    = "prepare"
	cmdActivate   = "activate"
	cmdDeactivate = "deactivate"

	cmdSuccess = "Success"
	cmdFailed  = "Failed"
	cmdUnknown = "Unknown"
)

// Stderr that thar-be-updates records for the simulated failures.
const (
	refreshFailure = "Failed to check for updates: Failed to load repository: Failed to fetch timestamp metadata: error sending request: operation timed out"
	prepareFailure = "Failed to write update image to the inactive partition: Failed to download image: error sending request: operation timed out"
)

// ensureStatus initialises the status the way thar-be-updates does on its
// first command after a boot.
func (h *Host) ensureStatus() {
	if h.status != nil {
		return
	}
	h.status = &status{
		AvailableUpdates: []string{},
		UpdateState:      StateIdle,
		MostRecentCommand: commandResult{
			CmdType:   cmdRefresh,
			CmdStatus: cmdUnknown,
			Timestamp: h.timestamp(),
		},
	}
	h.syncPartitions()
}

func (h *Host) timestamp() string { return h.clock.Now().UTC().Format(time.RFC3339Nano) }

func (h *Host) image(version string) updateImage {
	return updateImage{Arch: h.arch, Version: version, Variant: h.variant}
}

// record sets most_recent_command.
func (h *Host) record(cmdType string, exit int, stderr string) {
	st := cmdSuccess
	if exit != 0 {
		st = cmdFailed
	}
	h.status.MostRecentCommand = commandResult{
		CmdType: cmdType, CmdStatus: st, ExitStatus: &exit, Stderr: stderr, Timestamp: h.timestamp(),
	}
}

// syncPartitions derives active_partition and staging_partition from the
// partition sets: a staging partition exists once an image was prepared.
func (h *Host) syncPartitions() {
	h.status.ActivePartition = &partitionInfo{Image: h.image(h.parts[h.active]), NextToBoot: h.next == h.active}
	h.status.StagingPartition = nil
	if s := h.status.UpdateState; s == StateStaged || s == StateReady {
		in := h.inactive()
		h.status.StagingPartition = &partitionInfo{Image: h.image(h.parts[in]), NextToBoot: h.next == in}
	}
}

// refresh runs updog's refresh and drives the state machine; it reports
// whether the refresh succeeded.
func (h *Host) refresh() bool {
	h.ensureStatus()
	st := h.status
	if h.faults.CheckFails {
		h.record(cmdRefresh, 1, refreshFailure)
		if st.UpdateState == StateAvailable {
			st.UpdateState = StateIdle
		}
		return false
	}
	c := h.repo.choose(h.variant, h.arch, h.Version(), h.versionLock, h.ignoreWaves, h.seed, h.clock.Now())
	st.AvailableUpdates = append([]string{}, c.available...)
	st.ChosenUpdate = nil
	if c.chosen != nil {
		img := h.image(c.chosen.Version)
		st.ChosenUpdate = &img
	}
	if st.UpdateState == StateIdle || st.UpdateState == StateAvailable {
		st.UpdateState = StateIdle
		if st.ChosenUpdate != nil {
			st.UpdateState = StateAvailable
		}
	}
	h.record(cmdRefresh, 0, "")
	h.syncPartitions()
	return true
}

// statusJSON renders the status as apiclient prints it (pretty) or as the
// API returns it (compact).
func (h *Host) statusJSON(pretty bool) string {
	return marshal(h.status, pretty)
}

func marshal(v any, pretty bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		panic("bottlerocket: marshal: " + err.Error()) // only plain structs and maps reach here
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
