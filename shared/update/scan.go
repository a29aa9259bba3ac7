package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ScanSchema is the schema of a scan request, the message that makes the scanner look for updates.
const ScanSchema = "rollwave.scan/v1"

// MaxScanClusters bounds the clusters one scan request may name.
const MaxScanClusters = 100

// ScannerRequestedBy is what the scanner writes in the requestedBy of the jobs it sends for a
// request, before the request's own requestedBy: "scanner for alice".
const ScannerRequestedBy = "scanner for "

// ScanRequest asks the scanner to look for updates. Schema is required: an empty body is refused,
// never read as "scan everything". Clusters, when present, names the clusters to scan; a request
// without the field (`{"schema":"rollwave.scan/v1"}`, the schedule's constant input) is the
// deliberate form for "every managed cluster".
type ScanRequest struct {
	Schema      string   `json:"schema"`
	Clusters    []string `json:"clusters,omitempty"` // absent: the scanner's configured clusters
	RequestedBy string   `json:"requestedBy,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	DryRun      bool     `json:"dryRun,omitempty"` // the jobs it emits change nothing
	// TargetVersion is the rollout's target policy (ParseTarget: latest, 1.20 or 1.20.3), over
	// the scanner's ROLLWAVE_TARGET_VERSION; absent: the scanner's.
	TargetVersion string `json:"targetVersion,omitempty"`
}

// DecodeScan parses and validates a scan request, reporting every problem at once as an
// *InvalidJobError (permanent: the request goes to the dead-letter queue with the reason). It
// refuses an empty or blank body, a body longer than MaxJobBytes, unknown fields, trailing data,
// a missing or other schema, an empty clusters list, a cluster that is neither an ECS cluster
// name nor a cluster ARN, and a requestedBy or reason that would not fit the jobs the scanner
// writes from them.
func DecodeScan(data []byte) (ScanRequest, error) {
	scanInvalid := func(errs ...error) error {
		err := invalid(errs...)
		var inv *InvalidJobError
		if errors.As(err, &inv) {
			inv.Subject = "scan request"
		}
		return err
	}
	if len(data) > MaxJobBytes {
		return ScanRequest{}, scanInvalid(fmt.Errorf("the message is %d bytes, a scan request at most %d", len(data), MaxJobBytes))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return ScanRequest{}, scanInvalid(fmt.Errorf(`empty; to scan every managed cluster send {"schema":%q}`, ScanSchema))
	}
	var r struct {
		ScanRequest
		Clusters *[]string `json:"clusters"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return ScanRequest{}, scanInvalid(describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return ScanRequest{}, scanInvalid(errors.New("data after the scan request object"))
	}
	req := r.ScanRequest
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch req.Schema {
	case ScanSchema:
	case "":
		add("schema: missing; want %q", ScanSchema)
	default:
		add("schema: %s is not %q", quoteShort(req.Schema), ScanSchema)
	}
	if r.Clusters != nil {
		req.Clusters = *r.Clusters
		switch n := len(req.Clusters); {
		case n == 0:
			add("clusters: empty list; leave the field out to scan every managed cluster")
		case n > MaxScanClusters:
			add("clusters: %d clusters, at most %d", n, MaxScanClusters)
		}
		for i, c := range req.Clusters {
			if !IsCluster(c) {
				add("clusters[%d]: %s is neither a cluster name (1-255 letters, digits, - or _) nor a cluster ARN", i, quoteShort(c))
			}
		}
	}
	if n := len(req.RequestedBy); n > MaxTextLength-len(ScannerRequestedBy) {
		add("requestedBy: %d bytes, at most %d", n, MaxTextLength-len(ScannerRequestedBy))
	}
	if n := len(req.Reason); n > MaxTextLength {
		add("reason: %d bytes, at most %d", n, MaxTextLength)
	}
	if _, err := ParseTarget(req.TargetVersion); err != nil {
		add("targetVersion: %v", err)
	}
	if !sqsText(req.RequestedBy) || !sqsText(req.Reason) {
		add("requestedBy/reason: holds U+FFFE or U+FFFF, which an SQS message cannot carry")
	}
	if len(errs) > 0 {
		return ScanRequest{}, scanInvalid(errs...)
	}
	return req, nil
}

// Requester is the requestedBy and reason of the jobs the scanner sends for r: "scanner for
// <requestedBy>" (or "scanner") and r's reason (or "scheduled scan"); a blank field counts as
// absent. For a request DecodeScan accepted, both fit a valid job.
func (r ScanRequest) Requester() (by, reason string) {
	by = "scanner"
	if strings.TrimSpace(r.RequestedBy) != "" {
		by = ScannerRequestedBy + r.RequestedBy
	}
	reason = r.Reason
	if strings.TrimSpace(reason) == "" {
		reason = "scheduled scan"
	}
	return by, reason
}
