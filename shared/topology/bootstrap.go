package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// QueueURLGetter is the part of *sqs.Client that Resolve uses.
type QueueURLGetter interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// SQSAPI is the part of *sqs.Client that Bootstrap uses.
type SQSAPI interface {
	QueueURLGetter
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

// EventsAPI is the part of *eventbridge.Client that Bootstrap uses.
type EventsAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	PutRule(ctx context.Context, in *eventbridge.PutRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
	PutTargets(ctx context.Context, in *eventbridge.PutTargetsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error)
}

// LogsAPI is the part of *cloudwatchlogs.Client that Bootstrap uses for the history log group.
type LogsAPI interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	CreateLogGroup(ctx context.Context, in *cloudwatchlogs.CreateLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	PutRetentionPolicy(ctx context.Context, in *cloudwatchlogs.PutRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
}

// Clients are the AWS clients Bootstrap uses; *sqs.Client, *eventbridge.Client and
// *cloudwatchlogs.Client satisfy them. Logs may be nil: Bootstrap then leaves the history out
// (a test that never reads it back).
type Clients struct {
	SQS    SQSAPI
	Events EventsAPI
	Logs   LogsAPI
}

// Resolved is a deployed topology: where each queue is.
type Resolved struct {
	// Queues by logical name (Scanner, Patcher, ...).
	Queues map[string]ResolvedQueue
	// RuleARNs by rule name. Only Bootstrap fills it.
	RuleARNs map[string]string
	// HistoryLogGroupARN is the history log group's ARN (without the ":*" suffix). Only
	// Bootstrap fills it, when it has a Logs client.
	HistoryLogGroupARN string
	// Changes lists what Bootstrap created or changed, in order; empty when the deployment
	// already matched the topology.
	Changes []string
}

// ResolvedQueue locates one queue and its dead-letter queue.
type ResolvedQueue struct {
	Name, URL, ARN               string
	DeadLetterName               string
	DeadLetterURL, DeadLetterARN string
}

// Queue returns the queue whose logical name is logical, or an error naming it.
func (r Resolved) Queue(logical string) (ResolvedQueue, error) {
	q, ok := r.Queues[logical]
	if !ok {
		return ResolvedQueue{}, fmt.Errorf("find queue %q: not in the topology", logical)
	}
	return q, nil
}

// Resolve finds the queues of an existing deployment by name. It fills URLs only (ARNs stay
// empty), so it needs nothing but sqs:GetQueueUrl. A missing queue is an error; every missing
// queue is reported at once.
func Resolve(ctx context.Context, client QueueURLGetter, t Topology) (Resolved, error) {
	r := Resolved{Queues: map[string]ResolvedQueue{}}
	var errs []error
	url := func(name string) string {
		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			errs = append(errs, fmt.Errorf("get queue url %s: %w", name, err))
			return ""
		}
		return aws.ToString(out.QueueUrl)
	}
	for _, q := range t.Queues {
		r.Queues[q.Logical] = ResolvedQueue{
			Name: q.Name, URL: url(q.Name),
			DeadLetterName: q.DeadLetter.Name, DeadLetterURL: url(q.DeadLetter.Name),
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Resolved{}, fmt.Errorf("resolve topology %s: %w", t.Prefix, err)
	}
	return r, nil
}

// Bootstrap makes the deployment match t and returns where everything is. It is idempotent: it
// reads before it writes, and a second run changes nothing (Resolved.Changes is empty). Order:
// each dead-letter queue, then its queue with the RedrivePolicy, then the DLQ's
// RedriveAllowPolicy, then the rules, the event queues' policies, and last the targets, so no
// event is sent before the queue accepts it. With a Logs client, it then creates the history log
// group with its retention, and the rule that archives the pipeline events into it.
//
// The log group gets no resource policy: moto and LocalStack deliver without one. In AWS,
// EventBridge needs one that lets events.amazonaws.com write to the group; the Terraform module
// sets it.
//
// Bootstrap only ever creates rules with an event pattern: on moto a rule without one (a
// schedule) matches every event sent to the bus.
//
// RedriveAllowPolicy is set where the service reads it back; moto answers InvalidAttributeName
// to reading it, and Bootstrap then leaves it as it is rather than failing.
func Bootstrap(ctx context.Context, c Clients, t Topology) (Resolved, error) {
	b := bootstrapper{c: c}
	r := Resolved{Queues: map[string]ResolvedQueue{}, RuleARNs: map[string]string{}}
	for _, q := range t.Queues {
		rq, err := b.queue(ctx, q)
		if err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: %w", t.Prefix, err)
		}
		r.Queues[q.Logical] = rq
	}
	for _, rule := range t.Rules {
		if rule.EventPattern == "" {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: rule %s has no event pattern", t.Prefix, rule.Name)
		}
		arn, err := b.rule(ctx, rule)
		if err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: %w", t.Prefix, err)
		}
		r.RuleARNs[rule.Name] = arn
	}
	for _, q := range t.Queues {
		rules := t.RulesTargeting(q.Logical)
		if len(rules) == 0 {
			continue
		}
		var names, arns []string
		for _, rule := range rules {
			names = append(names, rule.Name)
			arns = append(arns, r.RuleARNs[rule.Name])
		}
		rq := r.Queues[q.Logical]
		policy := QueuePolicy(rq.ARN, names, arns).JSON()
		if err := b.attributes(ctx, q.Name, rq.URL, map[string]string{"Policy": policy}); err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: %w", t.Prefix, err)
		}
	}
	for _, rule := range t.Rules {
		rq, err := r.Queue(rule.Target)
		if err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: rule %s: %w", t.Prefix, rule.Name, err)
		}
		if err := b.target(ctx, rule, rq.ARN); err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: %w", t.Prefix, err)
		}
	}
	if c.Logs != nil && t.History.LogGroup != "" {
		arn, err := b.history(ctx, t.History)
		if err != nil {
			return Resolved{}, fmt.Errorf("bootstrap topology %s: %w", t.Prefix, err)
		}
		r.HistoryLogGroupARN = arn
	}
	r.Changes = b.changes
	return r, nil
}

// history makes the history log group and its rule, and returns the group's ARN.
func (b *bootstrapper) history(ctx context.Context, h History) (string, error) {
	if !ValidRetention(h.Retention) {
		return "", fmt.Errorf("history log group %s: retention %v is not one of CloudWatch Logs' %v days", h.LogGroup, h.Retention, RetentionDays)
	}
	days := int32(h.Retention / (24 * time.Hour))
	arn, retention, found, err := b.logGroup(ctx, h.LogGroup)
	if err != nil {
		return "", err
	}
	if !found {
		if _, err := b.c.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(h.LogGroup)}); err != nil {
			return "", fmt.Errorf("create log group %s: %w", h.LogGroup, err)
		}
		b.changed("create log group %s", h.LogGroup)
		if arn, _, found, err = b.logGroup(ctx, h.LogGroup); err != nil {
			return "", err
		}
		if !found {
			return "", fmt.Errorf("create log group %s: not found after creating it", h.LogGroup)
		}
	}
	if retention != days {
		if _, err := b.c.Logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
			LogGroupName: aws.String(h.LogGroup), RetentionInDays: aws.Int32(days),
		}); err != nil {
			return "", fmt.Errorf("set retention of log group %s: %w", h.LogGroup, err)
		}
		b.changed("set log group %s retention %dd", h.LogGroup, days)
	}
	rule := Rule{
		Name: h.Rule, EventBus: h.EventBus, Description: "rollwave's pipeline events into its history log group",
		EventPattern: h.Pattern, TargetID: h.RuleTargetID,
	}
	if _, err := b.rule(ctx, rule); err != nil {
		return "", err
	}
	if err := b.target(ctx, rule, arn); err != nil {
		return "", err
	}
	return arn, nil
}

// logGroup returns the ARN (without ":*") and retention in days (0: never expires) of the log
// group named name, and whether it exists.
func (b *bootstrapper) logGroup(ctx context.Context, name string) (arn string, retentionDays int32, found bool, err error) {
	in := &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)}
	for {
		out, err := b.c.Logs.DescribeLogGroups(ctx, in)
		if err != nil {
			return "", 0, false, fmt.Errorf("describe log group %s: %w", name, err)
		}
		for _, g := range out.LogGroups {
			if aws.ToString(g.LogGroupName) == name {
				return strings.TrimSuffix(aws.ToString(g.Arn), ":*"), aws.ToInt32(g.RetentionInDays), true, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return "", 0, false, nil
		}
		in.NextToken = out.NextToken
	}
}

// busName is the EventBusName of a rule's calls: nil for the default bus.
func busName(bus string) *string {
	if bus == "" {
		return nil
	}
	return aws.String(bus)
}

type bootstrapper struct {
	c       Clients
	changes []string
}

func (b *bootstrapper) changed(format string, args ...any) {
	b.changes = append(b.changes, fmt.Sprintf(format, args...))
}

func (b *bootstrapper) queue(ctx context.Context, q Queue) (ResolvedQueue, error) {
	dlqURL, dlqARN, err := b.ensureQueue(ctx, q.DeadLetter.Name, map[string]string{
		"MessageRetentionPeriod": seconds(q.DeadLetter.MessageRetention),
		"MaximumMessageSize":     strconv.Itoa(q.MaxMessageBytes),
	})
	if err != nil {
		return ResolvedQueue{}, err
	}
	url, arn, err := b.ensureQueue(ctx, q.Name, map[string]string{
		"VisibilityTimeout":             seconds(q.VisibilityTimeout),
		"MessageRetentionPeriod":        seconds(q.MessageRetention),
		"ReceiveMessageWaitTimeSeconds": seconds(q.ReceiveWait),
		"MaximumMessageSize":            strconv.Itoa(q.MaxMessageBytes),
		"RedrivePolicy":                 mustJSON(RedrivePolicy{DeadLetterTargetARN: dlqARN, MaxReceiveCount: q.MaxReceiveCount}),
	})
	if err != nil {
		return ResolvedQueue{}, err
	}
	allow := mustJSON(RedriveAllowPolicy{RedrivePermission: "byQueue", SourceQueueARNs: []string{arn}})
	if err := b.redriveAllow(ctx, q.DeadLetter.Name, dlqURL, allow); err != nil {
		return ResolvedQueue{}, err
	}
	return ResolvedQueue{
		Name: q.Name, URL: url, ARN: arn,
		DeadLetterName: q.DeadLetter.Name, DeadLetterURL: dlqURL, DeadLetterARN: dlqARN,
	}, nil
}

// ensureQueue creates the queue with attrs, or sets those of attrs that differ on an existing
// one, and returns its URL and ARN.
func (b *bootstrapper) ensureQueue(ctx context.Context, name string, attrs map[string]string) (url, arn string, err error) {
	got, err := b.c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	switch {
	case err == nil:
		url = aws.ToString(got.QueueUrl)
		if err := b.attributes(ctx, name, url, attrs); err != nil {
			return "", "", err
		}
	case isQueueMissing(err):
		out, err := b.c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return "", "", fmt.Errorf("create queue %s: %w", name, err)
		}
		url = aws.ToString(out.QueueUrl)
		b.changed("create queue %s", name)
	default:
		return "", "", fmt.Errorf("get queue url %s: %w", name, err)
	}
	out, err := b.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("get queue arn %s: %w", name, err)
	}
	arn = out.Attributes["QueueArn"]
	if arn == "" {
		return "", "", fmt.Errorf("get queue arn %s: empty", name)
	}
	return url, arn, nil
}

// attributes sets those of want that differ from the queue's current attributes.
func (b *bootstrapper) attributes(ctx context.Context, name, url string, want map[string]string) error {
	out, err := b.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return fmt.Errorf("get queue attributes %s: %w", name, err)
	}
	diff := map[string]string{}
	for k, v := range want {
		if !sameValue(out.Attributes[k], v) {
			diff[k] = v
		}
	}
	if len(diff) == 0 {
		return nil
	}
	if _, err := b.c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: diff}); err != nil {
		return fmt.Errorf("set queue attributes %s: %w", name, err)
	}
	b.changed("set queue %s %s", name, strings.Join(sortedKeys(diff), ","))
	return nil
}

// redriveAllow sets the dead-letter queue's RedriveAllowPolicy unless it already matches or the
// service cannot read it back (moto).
func (b *bootstrapper) redriveAllow(ctx context.Context, name, url, policy string) error {
	out, err := b.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedriveAllowPolicy},
	})
	switch {
	case isInvalidAttributeName(err):
		return nil
	case err != nil:
		return fmt.Errorf("get redrive allow policy %s: %w", name, err)
	case sameValue(out.Attributes["RedriveAllowPolicy"], policy):
		return nil
	}
	if _, err := b.c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(url),
		Attributes: map[string]string{"RedriveAllowPolicy": policy},
	}); err != nil {
		return fmt.Errorf("set redrive allow policy %s: %w", name, err)
	}
	b.changed("set queue %s RedriveAllowPolicy", name)
	return nil
}

func (b *bootstrapper) rule(ctx context.Context, r Rule) (string, error) {
	got, err := b.c.Events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(r.Name), EventBusName: busName(r.EventBus)})
	switch {
	case err == nil:
		if sameValue(aws.ToString(got.EventPattern), r.EventPattern) &&
			aws.ToString(got.Description) == r.Description &&
			got.State == ebtypes.RuleStateEnabled {
			return aws.ToString(got.Arn), nil
		}
	case !isRuleMissing(err):
		return "", fmt.Errorf("describe rule %s: %w", r.Name, err)
	}
	out, err := b.c.Events.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         aws.String(r.Name),
		EventBusName: busName(r.EventBus),
		Description:  aws.String(r.Description),
		EventPattern: aws.String(r.EventPattern),
		State:        ebtypes.RuleStateEnabled,
	})
	if err != nil {
		return "", fmt.Errorf("put rule %s: %w", r.Name, err)
	}
	b.changed("put rule %s", r.Name)
	return aws.ToString(out.RuleArn), nil
}

// target makes targetARN the rule's target r.TargetID, with the event passed unchanged.
func (b *bootstrapper) target(ctx context.Context, r Rule, targetARN string) error {
	in := &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.Name), EventBusName: busName(r.EventBus)}
	for {
		out, err := b.c.Events.ListTargetsByRule(ctx, in)
		if err != nil {
			return fmt.Errorf("list targets of rule %s: %w", r.Name, err)
		}
		for _, t := range out.Targets {
			if aws.ToString(t.Id) == r.TargetID && aws.ToString(t.Arn) == targetARN &&
				t.Input == nil && t.InputPath == nil && t.InputTransformer == nil {
				return nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	out, err := b.c.Events.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:         aws.String(r.Name),
		EventBusName: busName(r.EventBus),
		Targets:      []ebtypes.Target{{Id: aws.String(r.TargetID), Arn: aws.String(targetARN)}},
	})
	if err != nil {
		return fmt.Errorf("put target of rule %s: %w", r.Name, err)
	}
	if out.FailedEntryCount > 0 {
		var reasons []string
		for _, e := range out.FailedEntries {
			reasons = append(reasons, aws.ToString(e.ErrorCode)+": "+aws.ToString(e.ErrorMessage))
		}
		return fmt.Errorf("put target of rule %s: %s", r.Name, strings.Join(reasons, "; "))
	}
	b.changed("put target %s of rule %s", r.TargetID, r.Name)
	return nil
}

// sameValue compares attribute values; JSON documents compare by content (key order, spacing,
// and numbers written as strings do not matter).
func sameValue(got, want string) bool {
	if got == want {
		return true
	}
	if !strings.HasPrefix(strings.TrimSpace(want), "{") {
		return false
	}
	var g, w any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(g), normalize(w))
}

// normalize turns numbers into their decimal strings, so 5 and "5" compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return v
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
