// Package history reads back rollwave's durable record: every pipeline event (docs/events.md)
// that the workers and the CLI publish is archived, as the whole EventBridge event, by the rule
// of topology.History into a CloudWatch Logs group ("/aws/events/<prefix>-history"), which keeps
// it for the group's retention (90 days unless the deployment says otherwise). A Reader turns
// those log events back into Records, oldest first.
//
// The record is what the events say: when a job started, each decision on its way (staged, held
// by admission and why, admitted, drained, rebooted), its long waits, and how it ended (the
// outcome, the reason code, the message), each by its worker with the receives its step took; and
// a cluster's pauses, halts and reclaims. It is not a trace of every receive: a look at a held
// job that changes nothing leaves nothing.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/rollwave/rollwave/shared/notify"
)

// Record is one pipeline event as the history keeps it. Its JSON field names are a contract
// with scripts (rollwave jobs describe -o json).
type Record struct {
	// At is when it happened (the detail's "at"; the event's time when the detail has none).
	At time.Time `json:"at"`
	// Event is the event's detail-type ("Instance Update Failed", ...).
	Event string `json:"event"`
	// Worker is who published it (Publisher): patcher, drainer, verifier, scanner or cli.
	Worker string `json:"worker"`

	JobID                string `json:"jobId,omitempty"`
	Cluster              string `json:"cluster,omitempty"`
	Instance             string `json:"instance,omitempty"`
	EC2InstanceID        string `json:"ec2InstanceId,omitempty"`
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	Step                 string `json:"step,omitempty"`
	// Decision is what the worker decided at step (Instance Update Progressed: staged, held,
	// admitted, drained, rebooted).
	Decision string `json:"decision,omitempty"`
	// Receives is the receive count of the job's message at step when the event was published.
	Receives     int       `json:"receives,omitempty"`
	Outcome      string    `json:"outcome,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Message      string    `json:"message,omitempty"`
	FromVersion  string    `json:"fromVersion,omitempty"`
	ToVersion    string    `json:"toVersion,omitempty"`
	RequestedBy  string    `json:"requestedBy,omitempty"`
	DryRun       bool      `json:"dryRun,omitempty"`
	WaitingSince time.Time `json:"waitingSince,omitzero"`
	// JobIDs and Instances are a halt's (notify.HaltedDetail).
	JobIDs    []string `json:"jobIds,omitempty"`
	Instances []string `json:"instances,omitempty"`
	// AutoScalingGroup is a launch template finding's group (launchtemplate.Finding).
	AutoScalingGroup string `json:"autoScalingGroup,omitempty"`
}

// Ended reports whether the record ends its job (Succeeded, Failed, Skipped).
func (r Record) Ended() bool { return r.Outcome != "" }

// About reports whether the record concerns the job or the instance named by id: its job ID,
// either identity of its instance, or a halt's job IDs and instances.
func (r Record) About(id string) bool {
	return id != "" && (r.JobID == id || r.Instance == id || r.EC2InstanceID == id ||
		r.ContainerInstanceARN == id || slices.Contains(r.JobIDs, id) || slices.Contains(r.Instances, id))
}

// Publisher names the worker that publishes an event of detailType at step (docs/events.md,
// "Published by"): the patcher starts a job, and decides, waits and ends it at stage and
// reboot; the drainer at drain; the verifier at verify; the scanner reclaims, the CLI pauses.
func Publisher(detailType, step string) string {
	switch detailType {
	case notify.InstanceUpdateStarted:
		return "patcher"
	case notify.InstanceUpdateSucceeded:
		return "verifier"
	case notify.InstanceReclaimed:
		return "scanner"
	case notify.ClusterRolloutPaused, notify.ClusterRolloutResumed:
		return "cli"
	}
	switch step {
	case "stage", "reboot":
		return "patcher"
	case "drain":
		return "drainer"
	case "verify":
		return "verifier"
	}
	return ""
}

// envelope is the EventBridge event as the rule writes it into the log group.
type envelope struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// Decode turns one archived event into a Record. A message that is not a rollwave pipeline
// event is an error.
func Decode(message string) (Record, error) {
	var e envelope
	if err := json.Unmarshal([]byte(message), &e); err != nil {
		return Record{}, fmt.Errorf("decode history event: %w", err)
	}
	if e.Source != notify.Source || e.DetailType == "" {
		return Record{}, fmt.Errorf("decode history event: source %q, detail-type %q is not a rollwave pipeline event", e.Source, e.DetailType)
	}
	var r Record
	if len(e.Detail) > 0 {
		if err := json.Unmarshal(e.Detail, &r); err != nil {
			return Record{}, fmt.Errorf("decode history event %q: %w", e.DetailType, err)
		}
	}
	r.Event = e.DetailType
	r.Worker = Publisher(e.DetailType, r.Step)
	if r.At.IsZero() {
		r.At, _ = time.Parse(time.RFC3339, e.Time) // zero when the event has no time either
	}
	return r, nil
}

// Query selects records. The zero Query is every record of the retention.
type Query struct {
	// Since and Until bound the records' archive time; zero is unbounded.
	Since, Until time.Time
	// About keeps only the records about this job ID or instance (Record.About).
	About string
	// Cluster keeps only the records of this cluster.
	Cluster string
}

func (q Query) match(r Record) bool {
	return (q.About == "" || r.About(q.About)) && (q.Cluster == "" || r.Cluster == q.Cluster)
}

// ErrNoHistory is returned when the history log group does not exist.
var ErrNoHistory = errors.New("no history log group")

// filterAPI is the part of *cloudwatchlogs.Client that Reader uses.
type filterAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// Reader reads one deployment's history log group.
type Reader struct {
	api   filterAPI
	group string
}

// NewReader returns a Reader of the log group (topology.HistoryLogGroup).
func NewReader(api filterAPI, logGroup string) *Reader { return &Reader{api: api, group: logGroup} }

// LogGroup is the log group the Reader reads.
func (r *Reader) LogGroup() string { return r.group }

// Read returns the records that q selects, oldest first. It narrows the read on the server with
// a quoted-term filter pattern for q.About (one filtered read rather than the whole group), then
// keeps the records that really match; log events that are not rollwave events are skipped. A
// missing log group is ErrNoHistory.
func (r *Reader) Read(ctx context.Context, q Query) ([]Record, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(r.group)}
	if !q.Since.IsZero() {
		in.StartTime = aws.Int64(q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		in.EndTime = aws.Int64(q.Until.UnixMilli())
	}
	if q.About != "" {
		in.FilterPattern = aws.String(strconv.Quote(q.About))
	}
	var out []Record
	for {
		page, err := r.api.FilterLogEvents(ctx, in)
		var missing *logstypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("read history %s: %w", r.group, ErrNoHistory)
		}
		if err != nil {
			return nil, fmt.Errorf("read history %s: %w", r.group, err)
		}
		for _, e := range page.Events {
			rec, err := Decode(aws.ToString(e.Message))
			if err != nil || !q.match(rec) {
				continue
			}
			out = append(out, rec)
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
