// Package notify publishes rollwave's pipeline events to Amazon EventBridge, so that people can
// route what rollwave does (an instance updated, an update failed, a rollout halted) to SNS, chat
// or a ticket with an ordinary EventBridge rule on source "rollwave".
//
// Every event carries the job's identity (job ID, cluster, instance) in its detail and the
// container instance ARN in its resources, so one rule can select by cluster or by outcome; and
// the deployment that published it (detail.deployment, its ROLLWAVE_PREFIX), so that two
// deployments on one bus each archive and alert on their own events only.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/rollwave/rollwave/shared/ecsevent"
)

// Source is the EventBridge source of every rollwave pipeline event.
const Source = ecsevent.SourceRollwave

// Detail types of rollwave's pipeline events. They are a public contract: docs/events.md lists
// them with examples, and users write rules against them.
const (
	InstanceUpdateStarted   = "Instance Update Started"
	InstanceUpdateSucceeded = ecsevent.DetailInstanceUpdateSucceeded
	InstanceUpdateFailed    = ecsevent.DetailInstanceUpdateFailed
	InstanceUpdateSkipped   = ecsevent.DetailInstanceUpdateSkipped
	ClusterRolloutPaused    = "Cluster Rollout Paused"
	ClusterRolloutResumed   = "Cluster Rollout Resumed"
	ClusterRolloutHalted    = "Cluster Rollout Halted"

	// InstanceUpdateWaiting is published once per wait of a job whose drain the drainer has held
	// for longer than its threshold (ROLLWAVE_WAITING_THRESHOLD): reason is the
	// update.WaitReason, waitingSince when the wait began.
	InstanceUpdateWaiting = "Instance Update Waiting"
	InstanceReclaimed     = "Instance Reclaimed"
	// PromotionHalted is published by the drainer when a staged promotion of a version halts at
	// a stage: a job of the stage failed, or a gate alarm fired during its bake.
	PromotionHalted = "Promotion Halted"

	// LaunchTemplateDrift is published by the scanner for each Auto Scaling group behind a
	// cluster whose every host runs one version while the group's launch template launches
	// another image: the detail (launchtemplate.Finding) says whether it was fixed, would be in
	// a dry run, or is left alone and why.
	LaunchTemplateDrift = "Launch Template Drift"

	// InstanceUpdateProgressed is published once per decision of a job between its start and
	// its end: the update staged, a hold by admission (when it begins and when its reason
	// changes), the drain admitted, the instance drained, the reboot sent. decision says which
	// (the Decision* constants), the history keeps it, and rollwave jobs describe shows it.
	InstanceUpdateProgressed = "Instance Update Progressed"
)

// Decisions of "Instance Update Progressed", in the order a job meets them.
const (
	DecisionStaged   = "staged"   // patcher: the update is staged; the job goes to the drainer
	DecisionHeld     = "held"     // drainer: admission holds the job; reason is the wait reason
	DecisionAdmitted = "admitted" // drainer: every gate admits the drain
	DecisionDrained  = "drained"  // drainer: no task is left; the job goes to the patcher
	DecisionRebooted = "rebooted" // patcher: the reboot is sent; the job goes to the verifier
)

// JobDetail is the detail of the Instance Update events.
type JobDetail struct {
	JobID                string `json:"jobId"`
	Cluster              string `json:"cluster"`
	Instance             string `json:"instance"`
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	EC2InstanceID        string `json:"ec2InstanceId,omitempty"`
	Outcome              string `json:"outcome,omitempty"`
	Reason               string `json:"reason,omitempty"`
	Message              string `json:"message,omitempty"`
	FromVersion          string `json:"fromVersion,omitempty"`
	ToVersion            string `json:"toVersion,omitempty"`
	RequestedBy          string `json:"requestedBy,omitempty"`
	Step                 string `json:"step,omitempty"`
	// Decision is what a worker decided at step (Instance Update Progressed only).
	Decision string `json:"decision,omitempty"`
	// Receives is the receive count of the job's message at step when the event was published
	// (queue.Receives: SQS's ApproximateReceiveCount plus the failed tries before a failure
	// requeued it): 1 on the first try; more means retries after failures
	// or, for a job held by admission, looks. 0 when no message was being handled.
	Receives int       `json:"receives,omitempty"`
	DryRun   bool      `json:"dryRun,omitempty"`
	At       time.Time `json:"at"`

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

// PromotionHaltedDetail is the detail of "Promotion Halted": the promotion of version halted at
// stage (the later stages do not start on it) for reason failed (a job of cluster failed) or alarm
// (a gate alarm fired while the stage baked), until a person resumes it (rollwave resume) or a
// rollout to another version starts.
type PromotionHaltedDetail struct {
	Stage   string    `json:"stage"`
	Version string    `json:"version"`
	Reason  string    `json:"reason"`
	Cluster string    `json:"cluster,omitempty"`
	Message string    `json:"message,omitempty"`
	JobID   string    `json:"jobId,omitempty"` // the held job whose admission found the halt
	At      time.Time `json:"at"`
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

// Publisher sends one deployment's pipeline events to one event bus.
type Publisher struct {
	api        putEventsAPI
	bus        string
	deployment string
}

// New returns a Publisher for the named event bus ("default" when empty) that marks every
// event's detail with deployment, the publishing deployment's prefix (DeploymentField).
func New(api putEventsAPI, bus, deployment string) *Publisher {
	if bus == "" {
		bus = "default"
	}
	return &Publisher{api: api, bus: bus, deployment: deployment}
}

// DeploymentField is the detail field that names the deployment (its prefix) that published an
// event. The deployment's own rules (history, alarms) match on it: the default bus is shared by
// everything in an account and region, other rollwave deployments included.
const DeploymentField = "deployment"

// Publish sends one event. resources are ARNs the event is about (EventBridge's resources field).
// A partial failure reported by EventBridge is an error: an event nobody receives is a failure
// nobody sees.
func (p *Publisher) Publish(ctx context.Context, detailType string, detail any, resources ...string) error {
	body, err := p.detail(detail)
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

// detail is detail's JSON object with the deployment field added.
func (p *Publisher) detail(detail any) ([]byte, error) {
	body, err := json.Marshal(detail)
	if err != nil || p.deployment == "" {
		return body, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("a detail is a JSON object: %w", err)
	}
	if _, taken := fields[DeploymentField]; taken {
		return nil, fmt.Errorf("the detail has a field %q of its own", DeploymentField)
	}
	fields[DeploymentField], _ = json.Marshal(p.deployment)
	return json.Marshal(fields)
}
