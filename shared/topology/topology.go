// Package topology is the single source of truth for rollwave's queues and event routing: the
// SQS queue names, their dead-letter queues and redrive policies, visibility timeouts, retention
// and long-poll waits, the EventBridge rules that route ECS events to the workers that wait on
// them, and the queue policies that let EventBridge deliver.
//
//	rollwave-scanner ─► scanner ─► rollwave-patcher ─► patcher (stage lane) ─► rollwave-drainer ─► drainer
//	                                                                                             │
//	         rollwave-verifier ◄─ patcher (reboot lane) ◄─ rollwave-reboot ◄──────────────────────┘
//	                 │
//	                 ▼
//	              verifier
//	EventBridge: aws.ecs "ECS Container Instance State Change" of a DRAINING or ACTIVE instance
//	                                                   ─► rollwave-drainer-events
//	             ... of a DRAINING instance without running tasks ─► rollwave-verifier-events
//	Every queue Q has a dead-letter queue Q-dlq and a redrive policy.
//
// The patcher consumes two queues, each with its own handlers (docs/decisions/lanes.md): staging
// (rollwave-patcher, the intake) may take minutes per instance while the instance still serves,
// and a reboot (rollwave-reboot) is due at once, its instance already out of service, so a
// reboot never waits behind staging.
//
// The values are data (Default) so that the local bootstrap (Bootstrap) and the Terraform
// module's tests compare against the same thing; Resolve finds an existing deployment.
package topology

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// DefaultPrefix is the prefix of every queue and rule name unless configured otherwise.
const DefaultPrefix = "rollwave"

// Logical queue names: the keys of Topology.Queues and Resolved.Queues. The physical name is
// "<prefix>-<logical>".
const (
	Scanner        = "scanner"
	Patcher        = "patcher"
	Drainer        = "drainer"
	Verifier       = "verifier"
	Reboot         = "reboot"
	DrainerEvents  = "drainer-events"
	VerifierEvents = "verifier-events"
)

// The workers, as Queue.Consumer names them.
const (
	ScannerWorker  = "scanner"
	PatcherWorker  = "patcher"
	DrainerWorker  = "drainer"
	VerifierWorker = "verifier"
)

// DeadLetterSuffix is appended to a queue's name to name its dead-letter queue.
const DeadLetterSuffix = "-dlq"

// ECS events routed to the workers.
const (
	ECSSource                       = "aws.ecs"
	ECSContainerInstanceStateChange = "ECS Container Instance State Change"
)

// rollwave's own pipeline events (published by shared/notify). The topology archives a
// deployment's own ones into its history log group (History); a deployment that wants alerts adds
// a rule with its PipelineEventPattern and its own target. Bootstrap never creates a rule without
// a target (on moto such a rule would match nothing harmful, but a schedule-only rule would match
// everything; see Bootstrap).
const (
	PipelineEventSource = "rollwave"
	// PipelineSourcePattern matches the pipeline events of every deployment on a bus.
	PipelineSourcePattern = `{"source":["rollwave"]}`
	pipelineRuleSuffix    = "-pipeline-events"
)

// PipelineEventPattern matches the pipeline events of the deployment under prefix only: every
// event's detail names the deployment that published it (notify.DeploymentField), and the
// default bus is shared by every deployment of an account and region.
func PipelineEventPattern(prefix string) string {
	b, _ := json.Marshal(map[string]any{ // cannot fail: strings only
		"source": []string{PipelineEventSource},
		"detail": map[string][]string{"deployment": {prefix}},
	})
	return string(b)
}

// DeadLetterRetention is how long a dead-letter queue keeps a message: the SQS maximum, so that
// a person has two weeks to look at a failure.
const DeadLetterRetention = 14 * 24 * time.Hour

// MaxMessageBytes is every queue's and dead-letter queue's MaximumMessageSize: 1 MiB, the most
// SQS allows (256 KiB was the ceiling until 2025). A job is at most update.MaxJobBytes (64 KiB), so
// a valid message is far below it; the queue adapter refuses to send more, as SQS would (moto does
// not), and a worker copies a message too large for its dead-letter queue as a truncated copy
// with the original's size and SHA-256 (shared/queue).
const MaxMessageBytes = 1 << 20

// JobRetention is how long a job queue (and the scanner's) keeps a message: the SQS maximum,
// longer than any wait a policy allows (a maintenance window opens at least once a week,
// update.LongestWindowWait), so that a job held by its window is never lost to the retention. A
// job held longer (a pause no person resumed for two weeks) is lost; the lease on its instance
// then expires and the scanner reclaims it (update.Reclaimable).
const JobRetention = 14 * 24 * time.Hour

// DefaultHistoryRetention is how long the history log group keeps the pipeline events unless a
// deployment says otherwise (Terraform's history_retention_days): long enough to look back at
// last quarter's rollouts.
const DefaultHistoryRetention = 90 * 24 * time.Hour

// Topology is the whole set of queues and rules of one deployment.
type Topology struct {
	Prefix string
	// Queues in creation order (each one's dead-letter queue is created before it).
	Queues []Queue
	// Rules route events to queues; each one has exactly one target.
	Rules []Rule
	// History is where the pipeline events are archived (shared/history reads them back).
	History History
}

// History is the durable record of what rollwave did: an EventBridge rule that matches every
// pipeline event of the deployment (PipelineEventPattern of its prefix) on the bus the workers publish to, and delivers each
// one, as the whole event JSON, into a CloudWatch Logs group that keeps it for Retention.
type History struct {
	// LogGroup is the CloudWatch Logs group, "/aws/events/<prefix>-history" (EventBridge's
	// console only offers groups under /aws/events/ as targets, so operators find it there).
	LogGroup string
	// Rule is the EventBridge rule that archives the events; its target's Id is RuleTargetID.
	Rule         string
	RuleTargetID string
	// EventBus is the bus the workers publish to (ROLLWAVE_EVENT_BUS); "" is the default bus.
	EventBus string
	// Pattern is the rule's event pattern: the deployment's own pipeline events.
	Pattern string
	// Retention is the log group's retention, a whole number of days that CloudWatch Logs
	// accepts (RetentionDays).
	Retention time.Duration
}

// HistoryLogGroup is the name of the history log group of the deployment under prefix
// (DefaultPrefix when empty).
func HistoryLogGroup(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return "/aws/events/" + prefix + "-history"
}

// RetentionDays are the retentions, in days, that CloudWatch Logs accepts (PutRetentionPolicy).
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// ValidRetention reports whether d is a retention CloudWatch Logs accepts.
func ValidRetention(d time.Duration) bool {
	if d%(24*time.Hour) != 0 {
		return false
	}
	for _, days := range RetentionDays {
		if time.Duration(days)*24*time.Hour == d {
			return true
		}
	}
	return false
}

// Queue is one work queue and its dead-letter queue.
type Queue struct {
	// Logical is the name without prefix, one of the constants above.
	Logical string
	// Name is the SQS queue name, "<prefix>-<logical>".
	Name string
	// Consumer is the worker that receives from the queue (ScannerWorker, ...); every queue has
	// exactly one.
	Consumer string
	// VisibilityTimeout is the queue's default visibility. Workers extend it while a handler runs,
	// so it bounds how long a crashed worker's message stays hidden, not how long a step may take.
	VisibilityTimeout time.Duration
	// MessageRetention is how long SQS keeps an unprocessed message.
	MessageRetention time.Duration
	// ReceiveWait is the long-poll wait (ReceiveMessageWaitTimeSeconds).
	ReceiveWait time.Duration
	// MaxMessageBytes is the queue's and its dead-letter queue's MaximumMessageSize.
	MaxMessageBytes int
	// MaxReceiveCount is the redrive policy's maxReceiveCount: after that many receives SQS moves
	// the message to the dead-letter queue. The queue worker moves a failing message itself when
	// it reaches this count, with the error as reason, so the redrive is only a backstop.
	MaxReceiveCount int
	// DeadLetter is the queue's dead-letter queue.
	DeadLetter DeadLetterQueue
}

// DeadLetterQueue is where a queue's failed and malformed messages end.
type DeadLetterQueue struct {
	Name             string
	MessageRetention time.Duration
}

// Rule is an EventBridge rule on the default event bus with a single SQS target.
type Rule struct {
	Name string
	// EventBus is the rule's bus; "" is the default bus.
	EventBus    string
	Description string
	// EventPattern is the rule's event pattern, compact JSON with sorted keys.
	EventPattern string
	// Target is the logical name of the queue that receives the matching events.
	Target string
	// TargetID is the target's Id within the rule.
	TargetID string
}

// Default returns the topology of a deployment whose names start with prefix (DefaultPrefix when
// empty). Its ECS rules match events of every cluster; see RestrictToClusters.
func Default(prefix string) Topology {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	work := func(logical, consumer string, visibility time.Duration, maxReceive int) Queue {
		name := prefix + "-" + logical
		return Queue{
			Logical:           logical,
			Name:              name,
			Consumer:          consumer,
			VisibilityTimeout: visibility,
			MessageRetention:  JobRetention,
			ReceiveWait:       20 * time.Second,
			MaxMessageBytes:   MaxMessageBytes,
			MaxReceiveCount:   maxReceive,
			DeadLetter:        DeadLetterQueue{Name: name + DeadLetterSuffix, MessageRetention: DeadLetterRetention},
		}
	}
	events := func(logical, consumer string) Queue {
		q := work(logical, consumer, 30*time.Second, 5)
		// An ECS event is only a hint that wakes a waiter (the waiters re-check the APIs), so an
		// old one is worthless: nothing waits in an event queue, and no job is lost with it.
		q.MessageRetention = 1 * time.Hour
		return q
	}
	t := Topology{
		Prefix: prefix,
		Queues: []Queue{
			// The scanner and the patcher's reboot lane fail or finish within one receive; a
			// handful of receives covers transient API errors.
			work(Scanner, ScannerWorker, 2*time.Minute, 5),
			// The patcher's stage lane also waits (RetryAfter) while its cluster's look-ahead of
			// staged instances is full (update.MayStage); the queue worker re-sends a waiting
			// message before it reaches the redrive, so the limit stays low for real failures.
			work(Patcher, PatcherWorker, 2*time.Minute, 5),
			work(Reboot, PatcherWorker, 2*time.Minute, 5),
			// The drainer and the verifier wait by returning RetryAfter, which is a receive too;
			// the job's own deadline, not the receive count, ends a wait that takes too long, so
			// their redrive limit is high.
			work(Drainer, DrainerWorker, 2*time.Minute, 100),
			work(Verifier, VerifierWorker, 2*time.Minute, 100),
			events(DrainerEvents, DrainerWorker),
			events(VerifierEvents, VerifierWorker),
		},
	}
	for _, target := range []string{DrainerEvents, VerifierEvents} {
		t.Rules = append(t.Rules, Rule{
			Name:         prefix + "-ecs-instance-to-" + target,
			Description:  "ECS container instance state changes for the " + target + " queue",
			EventPattern: ECSRulePattern(target, nil),
			Target:       target,
			TargetID:     "sqs-" + prefix + "-" + target,
		})
	}
	t.History = History{
		LogGroup:     HistoryLogGroup(prefix),
		Rule:         prefix + "-history",
		RuleTargetID: "logs-" + prefix + "-history",
		Pattern:      PipelineEventPattern(prefix),
		Retention:    DefaultHistoryRetention,
	}
	return t
}

// RestrictToClusters returns a copy of t whose ECS rules only match events of the given cluster
// ARNs (detail.clusterArn). No ARNs leaves the rules matching every cluster.
func (t Topology) RestrictToClusters(clusterARNs []string) Topology {
	out := t
	out.Queues = append([]Queue(nil), t.Queues...)
	out.Rules = append([]Rule(nil), t.Rules...)
	for i, r := range out.Rules {
		if strings.Contains(r.EventPattern, ECSContainerInstanceStateChange) {
			out.Rules[i].EventPattern = ECSRulePattern(r.Target, clusterARNs)
		}
	}
	return out
}

// Queue returns the queue whose logical name is logical.
func (t Topology) Queue(logical string) (Queue, bool) {
	for _, q := range t.Queues {
		if q.Logical == logical {
			return q, true
		}
	}
	return Queue{}, false
}

// ConsumedBy returns the queues worker receives from, in the topology's order.
func (t Topology) ConsumedBy(worker string) []Queue {
	var qs []Queue
	for _, q := range t.Queues {
		if q.Consumer == worker {
			qs = append(qs, q)
		}
	}
	return qs
}

// PipelineRuleName is the name a deployment gives the rule that routes rollwave's own pipeline
// events (PipelineEventPattern of its prefix).
func (t Topology) PipelineRuleName() string { return t.Prefix + pipelineRuleSuffix }

// RulesTargeting returns the rules whose target is the queue logical.
func (t Topology) RulesTargeting(logical string) []Rule {
	var rules []Rule
	for _, r := range t.Rules {
		if r.Target == logical {
			rules = append(rules, r)
		}
	}
	return rules
}

// ECSContainerInstancePattern is the event pattern of every ECS container instance state change,
// restricted to clusterARNs when there are any.
func ECSContainerInstancePattern(clusterARNs []string) string {
	return ecsPattern(nil, clusterARNs)
}

// ECSRuleDetail is the detail filter of the ECS rule to each event queue: only the changes its
// waiters need. The drainer waits for the tasks of an instance it set DRAINING to stop, wakes
// a job held by a limit when an instance of its cluster is ACTIVE again (the event carries no
// previous status, so every such change reaches it; its handler drops those no job waits on),
// and one held by the health gate when a task started on an instance in service: each is a change
// with no task pending, so the changes of a task placed and still starting (pendingTasksCount
// above 0, about four in ten of the drainer's events at 200 hosts) stay out of its queue. The
// verifier waits for a drained (DRAINING, no running task) instance to go down and come back from
// its reboot. Each waiter re-checks the APIs every recheck interval, so an event it does not get
// only delays it.
var ECSRuleDetail = map[string]map[string]any{
	DrainerEvents:  {"status": []string{"DRAINING", "ACTIVE"}, "pendingTasksCount": []int{0}},
	VerifierEvents: {"status": []string{"DRAINING"}, "runningTasksCount": []int{0}},
}

// ECSRulePattern is the event pattern of the ECS rule to the event queue target: the container
// instance state changes its waiters need (ECSRuleDetail), restricted to clusterARNs when there
// are any.
func ECSRulePattern(target string, clusterARNs []string) string {
	return ecsPattern(ECSRuleDetail[target], clusterARNs)
}

func ecsPattern(detail map[string]any, clusterARNs []string) string {
	p := map[string]any{
		"source":      []string{ECSSource},
		"detail-type": []string{ECSContainerInstanceStateChange},
	}
	d := map[string]any{}
	for k, v := range detail {
		d[k] = v
	}
	if len(clusterARNs) > 0 {
		d["clusterArn"] = clusterARNs
	}
	if len(d) > 0 {
		p["detail"] = d
	}
	return mustJSON(p)
}

// RedrivePolicy is the value of a queue's RedrivePolicy attribute.
type RedrivePolicy struct {
	DeadLetterTargetARN string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

// RedriveAllowPolicy is the value of a dead-letter queue's RedriveAllowPolicy attribute: only its
// own source queue may use it.
type RedriveAllowPolicy struct {
	RedrivePermission string   `json:"redrivePermission"`
	SourceQueueARNs   []string `json:"sourceQueueArns"`
}

// PolicyDocument is an IAM resource policy, as set on a queue's Policy attribute.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition"`
}

// EventsPrincipal is the service principal of EventBridge.
const EventsPrincipal = "events.amazonaws.com"

// QueuePolicy is the policy of an event queue: EventBridge may send to queueARN, on behalf of the
// given rules only (aws:SourceArn), one statement per rule.
func QueuePolicy(queueARN string, ruleNames, ruleARNs []string) PolicyDocument {
	doc := PolicyDocument{Version: "2012-10-17"}
	for i, arn := range ruleARNs {
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "AllowEventBridge-" + ruleNames[i],
			Effect:    "Allow",
			Principal: map[string]string{"Service": EventsPrincipal},
			Action:    "sqs:SendMessage",
			Resource:  queueARN,
			Condition: map[string]map[string]string{"ArnEquals": {"aws:SourceArn": arn}},
		})
	}
	return doc
}

// JSON is the document as compact JSON.
func (d PolicyDocument) JSON() string { return mustJSON(d) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only static, marshalable types reach here
	}
	return string(b)
}

// seconds renders d as whole seconds, rounding up, as SQS attributes want.
func seconds(d time.Duration) string {
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return fmt.Sprint(int64(s))
}
