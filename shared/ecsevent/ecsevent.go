// Package ecsevent parses the EventBridge events rollwave's workers receive through SQS: the
// envelope, then the detail through a registry keyed by (source, detail-type), one typed model
// per event type: ECS's container instance and task state changes, and rollwave's own "Instance
// Update" events of a job's end (JobEnded), which tell the drainer that a slot may be free. An event of a type nobody registered is an Ignored value, not an error; JSON
// that is not an event is an error. Pure: standard library only.
//
// ECS emits duplicates and may deliver out of order; the per-resource detail.version, not the
// envelope time, orders them (see Versions).
package ecsevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Source and detail types rollwave understands.
const (
	SourceECS                          = "aws.ecs"
	DetailContainerInstanceStateChange = "ECS Container Instance State Change"
	DetailTaskStateChange              = "ECS Task State Change"
)

// rollwave's own pipeline events that end a job (shared/notify publishes them; docs/events.md).
const (
	SourceRollwave                = "rollwave"
	DetailInstanceUpdateSucceeded = "Instance Update Succeeded"
	DetailInstanceUpdateFailed    = "Instance Update Failed"
	DetailInstanceUpdateSkipped   = "Instance Update Skipped"
)

// Envelope is the EventBridge event around every detail.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Event is a parsed event: its envelope and its typed detail, which is one of
// *ContainerInstanceStateChange, *TaskStateChange, *JobEnded or Ignored.
type Event struct {
	Envelope
	Detail any
}

// Ignored is the detail of an event whose (source, detail-type) has no registered parser: the
// worker acknowledges and drops it.
type Ignored struct {
	Source, DetailType string
}

// Resource identifies what an event is about, for ordering and deduplication.
type Resource interface {
	// ResourceARN is the ARN of the container instance or task the event describes.
	ResourceARN() string
	// ResourceVersion is detail.version, which increases with every change of the resource.
	ResourceVersion() int64
}

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed event")

type key struct{ source, detailType string }

// parsers is the registry: one decoder per (source, detail-type). Never modified after init.
var parsers = map[key]func(json.RawMessage) (any, error){
	{SourceECS, DetailContainerInstanceStateChange}: decodeDetail[ContainerInstanceStateChange],
	{SourceECS, DetailTaskStateChange}:              decodeDetail[TaskStateChange],
	{SourceRollwave, DetailInstanceUpdateSucceeded}: decodeDetail[JobEnded],
	{SourceRollwave, DetailInstanceUpdateFailed}:    decodeDetail[JobEnded],
	{SourceRollwave, DetailInstanceUpdateSkipped}:   decodeDetail[JobEnded],
}

// validator is implemented by details that have mandatory fields.
type validator interface{ validate() error }

func decodeDetail[T any, PT interface {
	*T
	validator
}](raw json.RawMessage) (any, error) {
	var d T
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if err := PT(&d).validate(); err != nil {
		return nil, err
	}
	return PT(&d), nil
}

// Parse parses one EventBridge event (the body of an SQS message from an EventBridge rule). The
// envelope must have a source, a detail-type and a detail object. A registered type's detail is
// decoded into its model, and a detail that does not fit its model is an error; an unregistered
// type gives an Ignored detail and no error.
func Parse(data []byte) (Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return Event{}, fmt.Errorf("parse event: %w: not a JSON object", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return Event{}, fmt.Errorf("parse event: %w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, fmt.Errorf("parse event: %w: data after the event", ErrMalformed)
	}
	var missing []error
	if env.Source == "" {
		missing = append(missing, errors.New("source is missing"))
	}
	if env.DetailType == "" {
		missing = append(missing, errors.New("detail-type is missing"))
	}
	if d := bytes.TrimSpace(env.Detail); len(d) == 0 || d[0] != '{' {
		missing = append(missing, errors.New("detail is not an object"))
	}
	if err := errors.Join(missing...); err != nil {
		return Event{}, fmt.Errorf("parse event %s: %w: %w", env.ID, ErrMalformed, err)
	}
	parse, ok := parsers[key{env.Source, env.DetailType}]
	if !ok {
		return Event{Envelope: env, Detail: Ignored{Source: env.Source, DetailType: env.DetailType}}, nil
	}
	detail, err := parse(env.Detail)
	if err != nil {
		return Event{}, fmt.Errorf("parse event %s (%s): %w: %w", env.ID, env.DetailType, ErrMalformed, err)
	}
	return Event{Envelope: env, Detail: detail}, nil
}

// Versions remembers the highest detail.version seen per resource, to drop duplicates and events
// that arrive after a newer one. A Versions belongs to one goroutine; share it behind a mutex.
type Versions map[string]int64

// Newer reports whether version is newer than the last one seen for resource (true when none was
// seen). It does not record anything.
func (v Versions) Newer(resource string, version int64) bool {
	last, seen := v[resource]
	return !seen || version > last
}

// Observe records version for resource and reports whether it was newer than the last one seen;
// a duplicate or an older event returns false and changes nothing.
func (v Versions) Observe(resource string, version int64) bool {
	if !v.Newer(resource, version) {
		return false
	}
	v[resource] = version
	return true
}
