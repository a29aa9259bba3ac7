package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/ecsevent"
)

// queueSender is the part of the in-memory SQS the bus delivers to.
type queueSender interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// bus is an in-memory EventBridge for one simulated rollout: the rules that topology.Bootstrap
// puts deliver each event that matches them to the queues they target, as EventBridge does, and
// the bus keeps every event it was given, in order (what the forecast reads the rollout from).
// Patterns may use exact values only (the topology's rules do); PutRule refuses any other.
type bus struct {
	queues  queueSender
	clock   clock.Clock
	account string
	region  string

	mu     sync.Mutex
	seq    int
	rules  map[string]*busRule
	events []ecsevent.Envelope
	failed []error
}

type busRule struct {
	name    string
	arn     string
	pattern map[string]any
	raw     string
	targets []ebtypes.Target
}

func newBus(queues queueSender, c clock.Clock, account, region string) *bus {
	return &bus{queues: queues, clock: c, account: account, region: region, rules: map[string]*busRule{}}
}

// rule is the rule named name, or EventBridge's error for a rule not put; b.mu is held.
func (b *bus) rule(name *string) (*busRule, error) {
	r, ok := b.rules[aws.ToString(name)]
	if !ok {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("Rule " + aws.ToString(name) + " does not exist.")}
	}
	return r, nil
}

// DescribeRule answers as EventBridge does, ResourceNotFoundException for a rule not put.
func (b *bus) DescribeRule(_ context.Context, in *eventbridge.DescribeRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, err := b.rule(in.Name)
	if err != nil {
		return nil, err
	}
	return &eventbridge.DescribeRuleOutput{Name: aws.String(r.name), Arn: aws.String(r.arn), EventPattern: aws.String(r.raw), State: ebtypes.RuleStateEnabled}, nil
}

// PutRule creates or replaces a rule; a pattern with anything but exact values is refused.
func (b *bus) PutRule(_ context.Context, in *eventbridge.PutRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	var pattern map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(in.EventPattern)), &pattern); err != nil {
		return nil, fmt.Errorf("put rule %s: event pattern: %w", aws.ToString(in.Name), err)
	}
	if err := exactOnly(pattern); err != nil {
		return nil, fmt.Errorf("put rule %s: %w", aws.ToString(in.Name), err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	name := aws.ToString(in.Name)
	r, ok := b.rules[name]
	if !ok {
		r = &busRule{name: name, arn: fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", b.region, b.account, name)}
		b.rules[name] = r
	}
	r.pattern, r.raw = pattern, aws.ToString(in.EventPattern)
	return &eventbridge.PutRuleOutput{RuleArn: aws.String(r.arn)}, nil
}

// ListTargetsByRule lists a rule's targets.
func (b *bus) ListTargetsByRule(_ context.Context, in *eventbridge.ListTargetsByRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, err := b.rule(in.Rule)
	if err != nil {
		return nil, err
	}
	return &eventbridge.ListTargetsByRuleOutput{Targets: slices.Clone(r.targets)}, nil
}

// PutTargets adds or replaces targets of a rule, by ID.
func (b *bus) PutTargets(_ context.Context, in *eventbridge.PutTargetsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, err := b.rule(in.Rule)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Targets {
		r.targets = slices.DeleteFunc(r.targets, func(o ebtypes.Target) bool { return aws.ToString(o.Id) == aws.ToString(t.Id) })
		r.targets = append(r.targets, t)
	}
	return &eventbridge.PutTargetsOutput{}, nil
}

// deliveryDelay is how long after PutEvents the bus delivers an event to its targets: about
// EventBridge's usual latency. Delivering at once would wake a waiter at the instant of the change,
// before the other effects of the same change (a service's counts) that a real waiter finds done.
const deliveryDelay = 500 * time.Millisecond

// PutEvents keeps each event and delivers it, deliveryDelay later, to the queue of every target
// of every rule it matches.
func (b *bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		env, body, deliveries, err := b.accept(e)
		if err != nil {
			return nil, err
		}
		for _, queueARN := range deliveries {
			b.clock.AfterFunc(deliveryDelay, func() {
				if err := b.deliver(context.Background(), queueARN, string(body)); err != nil {
					b.mu.Lock()
					b.failed = append(b.failed, err)
					b.mu.Unlock()
				}
			})
		}
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(env.ID)})
	}
	return out, nil
}

// Failed returns the deliveries that failed.
func (b *bus) Failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.failed...)
}

// DetailTypes are the detail types of the events from source that its rules may route; nil
// when a rule that may take them (it names source, or no source) names no detail type: all.
func (b *bus) DetailTypes(source string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var types []string
	for _, r := range b.rules {
		if sources, ok := r.pattern["source"].([]any); ok && !slices.Contains(sources, any(source)) {
			continue
		}
		named, ok := r.pattern["detail-type"].([]any)
		if !ok {
			return nil
		}
		for _, t := range named {
			if t, ok := t.(string); ok && !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	slices.Sort(types)
	return types
}

// accept keeps e and returns its envelope and the queues its rules deliver it to.
func (b *bus) accept(e ebtypes.PutEventsRequestEntry) (ecsevent.Envelope, []byte, []string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	at := b.clock.Now().UTC()
	if e.Time != nil {
		at = e.Time.UTC()
	}
	env := ecsevent.Envelope{Version: "0", ID: fmt.Sprintf("forecast-%08d", b.seq), DetailType: aws.ToString(e.DetailType),
		Source: aws.ToString(e.Source), Account: b.account, Time: at, Region: b.region,
		Resources: append([]string{}, e.Resources...), Detail: json.RawMessage(aws.ToString(e.Detail))}
	raw, err := json.Marshal(env)
	if err != nil {
		return ecsevent.Envelope{}, nil, nil, fmt.Errorf("put events: the detail of a %q event is not JSON: %w", env.DetailType, err)
	}
	b.events = append(b.events, env)
	var to []string
	doc := newLazyDoc(raw)
	for _, r := range b.rules {
		if matches(r.pattern, doc) {
			for _, t := range r.targets {
				to = append(to, aws.ToString(t.Arn))
			}
		}
	}
	return env, raw, to, nil
}

// deliver sends body to the queue of ARN arn:aws:sqs:region:account:name.
func (b *bus) deliver(ctx context.Context, arn, body string) error {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return fmt.Errorf("deliver event: target %q is not a queue", arn)
	}
	url, err := b.queues.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])})
	if err != nil {
		return fmt.Errorf("deliver event to %s: %w", parts[5], err)
	}
	if _, err := b.queues.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("deliver event to %s: %w", parts[5], err)
	}
	return nil
}

// Since returns the events the bus was given after the first n, in order.
func (b *bus) Since(n int) []ecsevent.Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events[min(n, len(b.events)):])
}

// exactOnly refuses a pattern with anything but objects and arrays of exact values.
func exactOnly(pattern map[string]any) error {
	for k, v := range pattern {
		switch v := v.(type) {
		case map[string]any:
			if err := exactOnly(v); err != nil {
				return err
			}
		case []any:
			for _, x := range v {
				switch x.(type) {
				case string, float64, bool, nil:
				default:
					return fmt.Errorf("event pattern: %s: only exact values are simulated, not %v", k, x)
				}
			}
		default:
			return fmt.Errorf("event pattern: %s: %v is neither an object nor an array", k, v)
		}
	}
	return nil
}

// matches reports whether the event doc matches pattern: every field of the pattern is in it,
// and equal to one of the pattern's values (any element of it, when the event's field is an
// array).
func matches(pattern map[string]any, doc *lazyDoc) bool {
	for k, want := range pattern {
		field, ok := doc.field(k)
		if !ok {
			return false
		}
		switch want := want.(type) {
		case map[string]any:
			sub, ok := doc.object(k)
			if !ok || !matches(want, sub) {
				return false
			}
		case []any:
			var got any
			if json.Unmarshal(field, &got) != nil {
				return false
			}
			values, isArray := got.([]any)
			if !isArray {
				values = []any{got}
			}
			if !slices.ContainsFunc(values, func(g any) bool { return slices.ContainsFunc(want, func(w any) bool { return equal(w, g) }) }) {
				return false
			}
		}
	}
	return true
}

// lazyDoc is a JSON object decoded as far as the patterns look into it, once for all the rules:
// an instance's event carries its attributes and resources, which no rule names.
type lazyDoc struct {
	raw     json.RawMessage
	fields  map[string]json.RawMessage // nil until read
	objects map[string]*lazyDoc
	bad     bool // raw is not an object
}

func newLazyDoc(raw json.RawMessage) *lazyDoc { return &lazyDoc{raw: raw} }

// field returns the raw value of the object's field k.
func (d *lazyDoc) field(k string) (json.RawMessage, bool) {
	if d.fields == nil && !d.bad {
		if json.Unmarshal(d.raw, &d.fields) != nil || d.fields == nil {
			d.bad = true
		}
	}
	v, ok := d.fields[k]
	return v, ok
}

// object returns the object's field k as an object, or false when it is none.
func (d *lazyDoc) object(k string) (*lazyDoc, bool) {
	if sub, ok := d.objects[k]; ok {
		return sub, !sub.bad
	}
	v, ok := d.field(k)
	if !ok {
		return nil, false
	}
	if d.objects == nil {
		d.objects = map[string]*lazyDoc{}
	}
	sub := newLazyDoc(v)
	sub.field("") // decode now, to know whether it is an object
	d.objects[k] = sub
	return sub, !sub.bad
}

// equal compares two JSON values exactly, as EventBridge does: a string never equals a number.
func equal(a, b any) bool { return a == b }
