package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// Schema is the schema this package reads and writes, in the job's "schema" field. A job of an
// older v1-compatible shape decodes; a newer major version is refused (ErrNewerSchema).
const Schema = "rollwave.job/v1"

const (
	schemaPrefix = "rollwave.job/v"
	schemaMajor  = 1
)

// Job is the message that carries one instance's update through the pipeline. A person can write
// one by hand with Schema, Cluster, Instance, RequestedBy, Reason and optionally TargetVersion;
// the workers fill in the rest as they learn it. docs/job.md describes every field.
type Job struct {
	Schema string `json:"schema"`
	// ID identifies the job; it is the value of the rollwave.job attribute. When a hand-written
	// job has none, the first worker calls EnsureID with the SQS message ID, so a redelivery of the
	// same message gets the same ID.
	ID string `json:"id,omitempty"`
	// Cluster is the ECS cluster name or ARN.
	Cluster string `json:"cluster"`
	// Instance is what the requester named: an EC2 instance ID (i-…) or a container instance ARN.
	Instance string `json:"instance"`
	// TargetVersion is the Bottlerocket version to end on, without "v". Empty means whatever
	// Bottlerocket chooses (chosen_update); the job then succeeds when the version changed.
	TargetVersion string `json:"targetVersion,omitempty"`
	// LockVersion makes the job a rollback (or any pinned move): before staging, the patcher sets
	// Bottlerocket's settings.updates.version-lock to TargetVersion, so that the host offers that
	// version even when it is older than the one it runs. The lock stays set after the job: a
	// person clears it (`apiclient set updates.version-lock=latest`), or the next such job
	// replaces it. Requires TargetVersion.
	LockVersion bool `json:"lockVersion,omitempty"`
	// PinTarget makes the job part of a rollout to one version (TargetVersion, chosen when the
	// rollout started): the patcher stages only once the host's own update check offers
	// TargetVersion or a newer one (Bottlerocket's waves), the job waiting with reason
	// version-not-offered until then; it then pins the host with version-lock so that exactly
	// TargetVersion is staged even if a newer version was released meanwhile, and sets the lock
	// back to latest once the update is staged. Requires TargetVersion; not with LockVersion.
	PinTarget   bool   `json:"pinTarget,omitempty"`
	RequestedBy string `json:"requestedBy"`
	Reason      string `json:"reason"`
	// Step is the step the job is at, which is also the queue it travels on. Decode sets
	// StepStage when the field is absent.
	Step Step `json:"step,omitempty"`
	// DryRun asks every worker to decide and record, but change nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Promotion places the job in a staged promotion (ROLLWAVE_STAGES): set by the scan that sent
	// it, it is what the drainer's promotion gate decides by. A job without it is not held by the
	// promotion.
	Promotion *Promotion `json:"promotion,omitempty"`

	// Learned by the pipeline.
	ContainerInstanceARN string    `json:"containerInstanceArn,omitempty"`
	EC2InstanceID        string    `json:"ec2InstanceId,omitempty"`
	FromVersion          string    `json:"fromVersion,omitempty"`   // active version before the update
	StagedVersion        string    `json:"stagedVersion,omitempty"` // version written by the stage step
	CreatedAt            time.Time `json:"createdAt,omitzero"`      // when the first worker accepted the job
	// Applying is the apply the patcher sent and waits for: the job comes back to the patcher's
	// queue to look at it, holding no worker while the host stages the update.
	Applying *Applying `json:"applying,omitempty"`
	History  []Entry   `json:"history,omitempty"` // one entry per step entered, oldest first
	// Outcome is set once, when the job ends.
	Outcome *Outcome `json:"outcome,omitempty"`
}

// Applying is an `apiclient update apply` under way on the job's host.
type Applying struct {
	// Command is the SSM command ID.
	Command string `json:"command"`
	// Since is when the patcher sent it (or, for a copy of the job that found it sent, when it
	// found it), by the patcher's clock: the apply's timeout counts from it.
	Since time.Time `json:"since"`
}

// Entry records that a worker moved the job to a step (or ended it).
type Entry struct {
	Step Step      `json:"step"`
	At   time.Time `json:"at"`
	By   string    `json:"by"` // the worker, e.g. "patcher"
	Note string    `json:"note,omitempty"`
}

// EnsureID sets the job's ID to fallback when it has none. Workers pass the SQS message ID, which
// is stable across redeliveries, so every retry of a hand-written job claims the instance under
// the same ID.
func (j *Job) EnsureID(fallback string) {
	if j.ID == "" {
		j.ID = fallback
	}
}

// Advance moves the job to step next, recording who moved it and when. It refuses a step that
// does not follow the current one (see Step.Next); moving to the current step again is a no-op
// that returns nil, so a redelivered message does not grow the history. CreatedAt is set on the
// first call if it is still zero.
func (j *Job) Advance(next Step, by, note string, now time.Time) error {
	cur := j.Step
	if cur == "" {
		cur = StepStage
	}
	if next == cur && len(j.History) > 0 && j.History[len(j.History)-1].Step == next {
		return nil
	}
	if next != cur {
		want, ok := cur.Next()
		if !ok || want != next {
			return fmt.Errorf("advance job %s: step %q does not follow %q", j.ID, next, cur)
		}
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = now.UTC()
	}
	j.Step = next
	j.History = append(j.History, Entry{Step: next, At: now.UTC(), By: by, Note: note})
	return nil
}

// Finish records the job's outcome, once. A second call keeps the first outcome and reports
// false, so a redelivered final message cannot change how a job ended.
func (j *Job) Finish(o Outcome, by string, now time.Time) bool {
	if j.Outcome != nil {
		return false
	}
	j.Outcome = &o
	j.History = append(j.History, Entry{Step: j.Step, At: now.UTC(), By: by, Note: o.String()})
	return true
}

// EnteredAt returns when the job entered step, from its history (the first entry for the step).
// Deadlines are measured from it: a step that has waited longer than its timeout fails.
func (j Job) EnteredAt(step Step) (time.Time, bool) {
	for _, e := range j.History {
		if e.Step == step {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// Overdue reports whether the job has been at its current step for longer than timeout at now.
// A job with no history entry for its step is not overdue (the clock starts when a worker
// records the step).
func (j Job) Overdue(timeout time.Duration, now time.Time) bool {
	at, ok := j.EnteredAt(j.Step)
	return ok && now.Sub(at) > timeout
}

// ErrNewerSchema is wrapped by the error Decode returns for a job whose schema is a newer major
// version than this package understands: the worker is older than the job's author.
var ErrNewerSchema = errors.New("newer job schema")

// InvalidJobError is returned by Decode, Encode and Validate for a job that is not a valid
// rollwave.job/v1 document. It is permanent: retrying cannot fix the message, so a worker sends it
// to the dead-letter queue with Error() as the reason. Problems lists every problem found, each
// naming its field.
type InvalidJobError struct {
	Problems error // an errors.Join of one error per problem
	// Subject is what was invalid: "job" when empty, "scan request" for DecodeScan.
	Subject string
}

func (e *InvalidJobError) Error() string {
	subject := e.Subject
	if subject == "" {
		subject = "job"
	}
	return "invalid " + subject + ": " + strings.ReplaceAll(e.Problems.Error(), "\n", "; ")
}

func (e *InvalidJobError) Unwrap() error { return e.Problems }

// Permanent reports true: the message will never become valid by retrying.
func (e *InvalidJobError) Permanent() bool { return true }

func invalid(errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return &InvalidJobError{Problems: err}
	}
	return nil
}

// Limits of a job, each what the API downstream of the field accepts (docs/job.md, "Limits").
// Decode refuses a job beyond any of them, so a job that would fail at a later step (the reboot's
// SSM comment, an ECS attribute, an SQS message) is refused before any step changed anything.
const (
	// MaxJobBytes bounds the encoded job: a real one is a few KiB (its history holds one short
	// entry per step), far below the queues' maximum message size (topology.MaxMessageBytes), so
	// that a job can always be forwarded and copied into a dead-letter queue with its reason.
	MaxJobBytes = 64 << 10
	// MaxIDLength is the longest job ID: the comment of the job's apply and reboot commands is
	// CommandComment(id), and SSM takes comments of at most 100 characters.
	MaxIDLength = ssmCommentMax - len(commandCommentPrefix)
	// MaxTextLength bounds requestedBy and reason (bytes): what a person writes about the job,
	// repeated in every pipeline event.
	MaxTextLength = 1024
	// MaxVersionLength bounds a version (bytes); Bottlerocket's are like 1.20.3.
	MaxVersionLength = 64
	// MaxCodeLength bounds an outcome's code: it becomes the rollwave.failure attribute's value.
	MaxCodeLength = 64

	ssmCommentMax        = 100
	commandCommentPrefix = "rollwave job "
)

// CommandComment is the comment of the apply and reboot commands of job id: SSM's command history
// then names the job that sent each, and tells whether this job's reboot was already sent. Every
// valid ID gives a comment SSM accepts.
func CommandComment(id string) string { return commandCommentPrefix + id }

// Decode parses and validates a job message. It refuses a message longer than MaxJobBytes before
// parsing it, rejects unknown fields (a typo in a
// hand-written job is an error, not a silently ignored field), trailing data, and a newer major
// schema (before looking at any other field, since a newer schema may well have new fields), and
// reports every validation problem at once. Every error is an *InvalidJobError. An absent step
// becomes StepStage.
func Decode(data []byte) (Job, error) {
	if len(data) > MaxJobBytes {
		return Job{}, invalid(fmt.Errorf("the message is %d bytes, a job at most %d", len(data), MaxJobBytes))
	}
	var probe struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Job{}, invalid(fmt.Errorf("not one JSON object: %w", err))
	}
	var schema string
	if len(probe.Schema) > 0 && json.Unmarshal(probe.Schema, &schema) == nil {
		if major, ok := schemaMajorOf(schema); ok && major > schemaMajor {
			return Job{}, invalid(fmt.Errorf("schema: %w: %q is newer than %q, which this worker understands; upgrade the worker",
				ErrNewerSchema, schema, Schema))
		}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j Job
	if err := dec.Decode(&j); err != nil {
		return Job{}, invalid(describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Job{}, invalid(errors.New("data after the job object"))
	}
	if j.Step == "" {
		j.Step = StepStage
	}
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// describeJSONError names the field of a JSON error in the job's terms.
func describeJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("%s: want a %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%s: unknown field (misspelt?)", strings.Trim(f, `"`))
	}
	return err
}

// Encode validates j and returns it as indented JSON ending in a newline, the form the golden
// files and docs/job.md show. A job that does not validate is not encoded: a worker must never
// forward a message the next worker would dead-letter.
func Encode(j Job) ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // notes and reasons are read by people, "->" must stay "->"
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	if buf.Len() > MaxJobBytes {
		return nil, invalid(fmt.Errorf("the encoded job is %d bytes, at most %d", buf.Len(), MaxJobBytes))
	}
	return buf.Bytes(), nil
}

var (
	ec2InstanceIDRe = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// arn:partition:ecs:region:account:container-instance/[cluster/]id; the ID is 32 hex digits
	// (or a UUID in the old format without the cluster)
	containerInstanceARNRe = regexp.MustCompile(`^arn:aws[a-z-]{0,16}:ecs:[a-z0-9-]{1,32}:[0-9]{12}:container-instance/([A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9-]{1,64}$`)
	// ECS cluster names: 1-255 letters, digits, hyphens and underscores
	clusterNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	clusterARNRe  = regexp.MustCompile(`^arn:aws[a-z-]{0,16}:ecs:[a-z0-9-]{1,32}:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$`)
	// an outcome code: lowercase words joined by hyphens
	codeRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	// an ECS attribute value: 1-128 of letters, digits, - _ . @ / \ : and space, no space at the ends
	attributeValueRe = regexp.MustCompile(`^[A-Za-z0-9_.@/\\:-]([A-Za-z0-9_.@/\\: -]{0,126}[A-Za-z0-9_.@/\\:-])?$`)
)

// IsEC2InstanceID reports whether s looks like an EC2 instance ID (i- and 8 or 17 hex digits).
func IsEC2InstanceID(s string) bool { return ec2InstanceIDRe.MatchString(s) }

// IsCluster reports whether s is an ECS cluster name (1-255 letters, digits, hyphens and
// underscores) or a cluster ARN.
func IsCluster(s string) bool { return clusterNameRe.MatchString(s) || clusterARNRe.MatchString(s) }

// IsContainerInstanceARN reports whether s looks like an ECS container instance ARN.
func IsContainerInstanceARN(s string) bool { return containerInstanceARNRe.MatchString(s) }

// Validate reports every problem of j at once, each naming its field, as an *InvalidJobError; nil
// when j is a valid rollwave.job/v1 job. An empty Step is valid (it means StepStage).
func (j Job) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch major, ok := schemaMajorOf(j.Schema); {
	case j.Schema == "":
		add("schema", "missing; want %q", Schema)
	case !ok:
		add("schema", "%q is not a rollwave job schema; want %q", j.Schema, Schema)
	case major > schemaMajor:
		errs = append(errs, fmt.Errorf("schema: %w: %q is newer than %q, which this worker understands; upgrade the worker",
			ErrNewerSchema, j.Schema, Schema))
	case major < schemaMajor:
		add("schema", "%q is no longer supported; want %q", j.Schema, Schema)
	}
	switch {
	case j.ID == "":
	case len(j.ID) > MaxIDLength:
		add("id", "%s is %d characters, at most %d (the SSM comment %q of its commands takes at most %d)",
			quoteShort(j.ID), len(j.ID), MaxIDLength, CommandComment("<id>"), ssmCommentMax)
	case !attributeValueRe.MatchString(j.ID):
		add("id", "%s cannot be an ECS attribute value (1-128 letters, digits, - _ . @ / \\ : or inner spaces)", quoteShort(j.ID))
	}
	switch {
	case j.Cluster == "":
		add("cluster", "missing")
	case !IsCluster(j.Cluster):
		add("cluster", "%s is neither a cluster name (1-255 letters, digits, - or _) nor a cluster ARN", quoteShort(j.Cluster))
	}
	switch {
	case j.Instance == "":
		add("instance", "missing; want an EC2 instance ID (i-…) or a container instance ARN")
	case !IsEC2InstanceID(j.Instance) && !IsContainerInstanceARN(j.Instance):
		add("instance", "%s is neither an EC2 instance ID (i-…) nor a container instance ARN", quoteShort(j.Instance))
	}
	checkVersion := func(field, v string) {
		if v == "" {
			return
		}
		if _, err := bottlerocket.ParseVersion(v); err != nil || len(v) > MaxVersionLength {
			add(field, "%s is not a version like 1.20.3 (no leading v), of at most %d characters", quoteShort(v), MaxVersionLength)
		}
	}
	checkVersion("targetVersion", j.TargetVersion)
	if j.LockVersion && j.TargetVersion == "" {
		add("lockVersion", "needs targetVersion: the version to lock the host to")
	}
	if j.PinTarget && j.TargetVersion == "" {
		add("pinTarget", "needs targetVersion: the rollout's version")
	}
	if j.PinTarget && j.LockVersion {
		add("pinTarget", "not with lockVersion: a job either keeps the host locked or pins it only to stage")
	}
	checkVersion("fromVersion", j.FromVersion)
	checkVersion("stagedVersion", j.StagedVersion)
	if strings.TrimSpace(j.RequestedBy) == "" {
		add("requestedBy", "missing; say who asked for the update")
	}
	if strings.TrimSpace(j.Reason) == "" {
		add("reason", "missing; say why the update is wanted")
	}
	for _, f := range []struct{ name, v string }{{"requestedBy", j.RequestedBy}, {"reason", j.Reason}} {
		if len(f.v) > MaxTextLength {
			add(f.name, "%d bytes, at most %d", len(f.v), MaxTextLength)
		}
	}
	if j.Step != "" && !j.Step.Valid() {
		add("step", "%q is not one of %s", j.Step, quoteSteps())
	}
	if j.ContainerInstanceARN != "" && !IsContainerInstanceARN(j.ContainerInstanceARN) {
		add("containerInstanceArn", "%s is not a container instance ARN", quoteShort(j.ContainerInstanceARN))
	}
	if j.EC2InstanceID != "" && !IsEC2InstanceID(j.EC2InstanceID) {
		add("ec2InstanceId", "%s is not an EC2 instance ID (i-…)", quoteShort(j.EC2InstanceID))
	}
	for i, e := range j.History {
		field := "history[" + strconv.Itoa(i) + "]"
		if !e.Step.Valid() {
			add(field+".step", "%q is not one of %s", e.Step, quoteSteps())
		}
		if e.At.IsZero() {
			add(field+".at", "missing")
		}
		if e.By == "" {
			add(field+".by", "missing")
		}
		if !sqsText(e.By) || !sqsText(e.Note) {
			add(field, "holds U+FFFE or U+FFFF, which an SQS message cannot carry")
		}
	}
	if a := j.Applying; a != nil {
		switch {
		case a.Command == "" || len(a.Command) > 64 || !sqsText(a.Command):
			add("applying.command", "%s is not an SSM command ID", quoteShort(a.Command))
		case a.Since.IsZero():
			add("applying.since", "missing")
		case j.Step != "" && j.Step != StepStage:
			add("applying", "only at step stage, not %q", j.Step)
		}
	}
	if p := j.Promotion; p != nil {
		if err := p.validate(j.TargetVersion); err != nil {
			add("promotion", "%v", err)
		}
	}
	if o := j.Outcome; o != nil {
		if err := o.validate(); err != nil {
			add("outcome", "%v", err)
		}
	}
	if !sqsText(j.RequestedBy) || !sqsText(j.Reason) {
		add("requestedBy/reason", "holds U+FFFE or U+FFFF, which an SQS message cannot carry")
	}
	return invalid(errs...)
}

// sqsText reports whether s can travel in an SQS message once JSON-encoded. SQS accepts #x9, #xA,
// #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF; encoding/json escapes the control
// characters and has replaced invalid UTF-8 (and so surrogates) by U+FFFD, which leaves the two
// noncharacters U+FFFE and U+FFFF.
func sqsText(s string) bool { return !strings.ContainsAny(s, "\uFFFE\uFFFF") }

// quoteShort quotes s for an error message, cut to its first 256 bytes: a dead-letter reason
// names the bad value without repeating a huge one.
func quoteShort(s string) string {
	const max = 256
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// schemaMajorOf returns N of "rollwave.job/vN".
func schemaMajorOf(s string) (int, bool) {
	n, ok := strings.CutPrefix(s, schemaPrefix)
	if !ok || n == "" || (len(n) > 1 && n[0] == '0') {
		return 0, false
	}
	major, err := strconv.Atoi(n)
	if err != nil || major < 1 {
		return 0, false
	}
	return major, true
}

func quoteSteps() string {
	q := make([]string, len(steps))
	for i, s := range steps {
		q[i] = strconv.Quote(string(s))
	}
	return strings.Join(q, ", ")
}

// JobIDFor is the ID of the job that seed names, the same for the same seed: "j-" and 20 hex
// digits, the one form of the IDs of the jobs rollwave makes. The scanner derives its jobs' IDs
// from the scan request and the instance, so that a scan redelivered after a crash sends the jobs
// the patcher already has, not duplicates; rollwave jobs send from a random seed.
func JobIDFor(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return jobIDPrefix + hex.EncodeToString(sum[:jobIDBytes])
}

// The form of the IDs of the jobs rollwave makes: "j-" and 20 hex digits.
const (
	jobIDPrefix = "j-"
	jobIDBytes  = 10
)
