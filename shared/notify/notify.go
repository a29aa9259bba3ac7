// Package notify publishes rollwave's pipeline events to Amazon EventBridge, so that people can
// route what rollwave does (an instance updated, an update failed, a rollout halted) to SNS, chat
// or a ticket with an ordinary EventBridge rule on source "rollwave".
//
// Every event carries the job's identity (job ID, cluster, instance) in its detail and the
// container instance ARN in its resources, so one rule can select by cluster or by outcome.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Source is the EventBridge source of every rollwave pipeline event.
const Source = "rollwave"

// Detail types of rollwave's pipeline events. They are a public contract: docs/events.md lists
// them with examples, and users write rules against them.
const (
	InstanceUpdateStarted   = "Instance Update Started"
	InstanceUpdateSucceeded = "Instance Update Succeeded"
	InstanceUpdateFailed    = "Instance Update Failed"
	InstanceUpdateSkipped   = "Instance Update Skipped"
	ClusterRolloutPaused    = "Cluster Rollout Paused"
	ClusterRolloutResumed   = "Cluster Rollout Resumed"
	ClusterRolloutHalted    = "Cluster Rollout Halted"

	// InstanceUpdateWaiting is published once per wait of a job whose drain the drainer has held
	// for longer than its threshold (ROLLWAVE_WAITING_THRESHOLD): reason is the
	// update.WaitReason, waitingSince when the wait began.
	InstanceUpdateWaiting = "Instance Update Waiting"
	InstanceReclaimed     = "Instance Reclaimed"
)

// JobDetail is the detail of the Instance Update events.
type JobDetail struct {
	JobID                string    `json:"jobId"`
	Cluster              string    `json:"cluster"`
	Instance             string    `json:"instance"`
	ContainerInstanceARN string    `json:"containerInstanceArn,omitempty"`
	EC2InstanceID        string    `json:"ec2InstanceId,omitempty"`
	Outcome              string    `json:"outcome,omitempty"`
	Reason               string    `json:"reason,omitempty"`
	Message              string    `json:"message,omitempty"`
	FromVersion          string    `json:"fromVersion,omitempty"`
	ToVersion            string    `json:"toVersion,omitempty"`
	RequestedBy          string    `json:"requestedBy,omitempty"`
	Step                 string    `json:"step,omitempty"`
	DryRun               bool      `json:"dryRun,omitempty"`
	At                   time.Time `json:"at"`

	// WaitingSince is when the job began to wait for admission (Instance Update Waiting only).
	WaitingSince time.Time `json:"waitingSince,omitzero"`
}

// HaltedDetail is the detail of "Cluster Rollout Halted": rollwave stopped admitting drains in
// a cluster on its own, because too many of its jobs failed (reason "error-budget",
// shared/budget), until a person resumes it.
type HaltedDetail struct {
	Cluster   string    `json:"cluster"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message,omitempty"`
	JobIDs    []string  `json:"jobIds,omitempty"`    // the failed job that spent the budget
	Instances []string  `json:"instances,omitempty"` // the instances whose failures counted, newest first
	At        time.Time `json:"at"`
}

// ReclaimedDetail is the detail of "Instance Reclaimed": the scanner took back an instance whose
// job was lost (its lease expired long ago: no worker held the job any more), undid what the job
// had done and removed its marks; the same scan sends a fresh job for it.
type ReclaimedDetail struct {
	Cluster              string `json:"cluster"`
	ContainerInstanceARN string `json:"containerInstanceArn"`
	EC2InstanceID        string `json:"ec2InstanceId,omitempty"`
	// JobID and Stage are the lost job's rollwave.job and rollwave.stage.
	JobID string `json:"jobId"`
	Stage string `json:"stage,omitempty"`
	// LeaseExpiredAt is when the lost job's lease (rollwave.lease) expired.
	LeaseExpiredAt time.Time `json:"leaseExpiredAt"`
	// Reactivated: rollwave had drained the instance, and it is ACTIVE again.
	Reactivated bool `json:"reactivated"`
	// UpdateCancelled: the host had the update staged (Ready), and it was cancelled.
	UpdateCancelled bool      `json:"updateCancelled"`
	Message         string    `json:"message"`
	At              time.Time `json:"at"`
}

type putEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher sends pipeline events to one event bus.
type Publisher struct {
	api putEventsAPI
	bus string
}

// New returns a Publisher for the named event bus ("default" when empty).
func New(api putEventsAPI, bus string) *Publisher {
	if bus == "" {
		bus = "default"
	}
	return &Publisher{api: api, bus: bus}
}

// Publish sends one event. resources are ARNs the event is about (EventBridge's resources field).
// A partial failure reported by EventBridge is an error: an event nobody receives is a failure
// nobody sees.
func (p *Publisher) Publish(ctx context.Context, detailType string, detail any, resources ...string) error {
	body, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode %s detail: %w", detailType, err)
	}
	out, err := p.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		Source:       aws.String(Source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(body)),
		EventBusName: aws.String(p.bus),
		Resources:    resources,
	}}})
	if err != nil {
		return fmt.Errorf("put event %q: %w", detailType, err)
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		e := out.Entries[0]
		return fmt.Errorf("put event %q: %s: %s", detailType, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return nil
}
