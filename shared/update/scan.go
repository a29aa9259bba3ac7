package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ScanSchema is the schema of a scan request, the message that makes the scanner look for updates.
const ScanSchema = "rollwave.scan/v1"

// ScanRequest asks the scanner to look for updates. Every field is optional: an empty body, `{}`,
// or the constant input of a schedule scans every configured cluster.
type ScanRequest struct {
	Schema      string   `json:"schema,omitempty"`
	Clusters    []string `json:"clusters,omitempty"` // empty: the scanner's configured clusters
	RequestedBy string   `json:"requestedBy,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	DryRun      bool     `json:"dryRun,omitempty"` // the jobs it emits change nothing
}

// DecodeScan parses a scan request. Unknown fields and another schema are permanent errors
// (*InvalidJobError), so a malformed request goes to the dead-letter queue with its reason.
func DecodeScan(data []byte) (ScanRequest, error) {
	var r ScanRequest
	if len(bytes.TrimSpace(data)) == 0 {
		return r, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return ScanRequest{}, invalid(fmt.Errorf("scan request: %w", err))
	}
	var errs []error
	if r.Schema != "" && r.Schema != ScanSchema {
		errs = append(errs, fmt.Errorf("schema: %q is not %q", r.Schema, ScanSchema))
	}
	for i, c := range r.Clusters {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, fmt.Errorf("clusters[%d]: empty cluster name", i))
		}
	}
	if len(errs) > 0 {
		return ScanRequest{}, invalid(errors.Join(errs...))
	}
	return r, nil
}
