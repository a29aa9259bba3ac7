package queuetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
)

// The fake is every SQS client the workers and a deployment's bootstrap take.
var (
	_ topology.SQSAPI         = (*queuetest.SQS)(nil)
	_ topology.QueueURLGetter = (*queuetest.SQS)(nil)
	_ pause.TagQueueAPI       = (*queuetest.SQS)(nil)
	_ pause.UntagQueueAPI     = (*queuetest.SQS)(nil)
	_ pause.ListQueueTagsAPI  = (*queuetest.SQS)(nil)
	_ budget.TagsAPI          = (*queuetest.SQS)(nil)
)

// A whole topology bootstraps on the fake, a second bootstrap changes nothing, and Resolve and a
// Resolver find its queues, or say that a queue does not exist as they do on SQS.
func TestTopologyBootstrapsOnTheFake(t *testing.T) {
	ctx := t.Context()
	s := queuetest.NewSQS()
	top := topology.Default("rw")
	clients := topology.Clients{SQS: s, Events: newEvents()}

	first, err := topology.Bootstrap(ctx, clients, top)
	if err != nil {
		t.Fatalf("Bootstrap() = %v", err)
	}
	if len(first.Changes) == 0 {
		t.Error("first Bootstrap() changed nothing")
	}
	var want []string
	for _, q := range top.Queues {
		want = append(want, q.Name, q.DeadLetter.Name)
		rq := first.Queues[q.Logical]
		out, err := s.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &rq.URL, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatalf("GetQueueAttributes(%s) = %v", q.Name, err)
		}
		var rp topology.RedrivePolicy
		if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &rp); err != nil || rp.DeadLetterTargetARN != rq.DeadLetterARN || rp.MaxReceiveCount != q.MaxReceiveCount {
			t.Errorf("%s RedrivePolicy = %s (%v), want %s after %d receives", q.Name, out.Attributes["RedrivePolicy"], err, rq.DeadLetterARN, q.MaxReceiveCount)
		}
		dlq, err := s.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &rq.DeadLetterURL, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedriveAllowPolicy}})
		if err != nil || !strings.Contains(dlq.Attributes["RedriveAllowPolicy"], rq.ARN) {
			t.Errorf("%s RedriveAllowPolicy = %v, %v; want one that names %s", q.DeadLetter.Name, dlq, err, rq.ARN)
		}
	}
	if diff := cmp.Diff(want, s.QueueNames(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}

	second, err := topology.Bootstrap(ctx, clients, top)
	if err != nil {
		t.Fatalf("second Bootstrap() = %v", err)
	}
	if len(second.Changes) != 0 {
		t.Errorf("second Bootstrap() changes = %s, want none", strings.Join(second.Changes, "; "))
	}

	resolved, err := topology.Resolve(ctx, s, top)
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
	}
	for logical, want := range first.Queues {
		if got := resolved.Queues[logical]; got.URL != want.URL || got.DeadLetterURL != want.DeadLetterURL {
			t.Errorf("Resolve() %s = %+v, want URLs %s and %s", logical, got, want.URL, want.DeadLetterURL)
		}
	}
	_, err = topology.Resolve(ctx, s, topology.Default("missing"))
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("Resolve() of a topology never bootstrapped = %v, want a QueueDoesNotExist", err)
	}
	_, err = topology.NewResolver(s, topology.Default("missing")).Queue(ctx, topology.Drainer)
	if err == nil || !strings.Contains(err.Error(), "the queue does not exist") {
		t.Errorf("Resolver.Queue() of a queue never created = %v, want the advice for a missing queue", err)
	}
}

// The pause state round-trips through the fake's queue tags, leaving the queue's other tags.
func TestPauseOnTheFake(t *testing.T) {
	ctx := t.Context()
	s := queuetest.NewSQS()
	out, err := s.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("rw-drainer"), Tags: map[string]string{"team": "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	if err := pause.Set(ctx, s, url, "prod", "alice", "CVE triage"); err != nil {
		t.Fatal(err)
	}
	state, err := pause.Read(ctx, s, url)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := state.Paused("prod"); !ok || i.Who != "alice" || i.Reason != "CVE triage" {
		t.Errorf("Paused(prod) = %+v, %v; want alice's pause", i, ok)
	}
	if _, ok := state.Paused("staging"); ok {
		t.Error("staging paused, want only prod")
	}
	if err := pause.Clear(ctx, s, url, "prod"); err != nil {
		t.Fatal(err)
	}
	tags, err := s.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "ops"}, tags.Tags); diff != "" {
		t.Errorf("tags after resuming (-want +got):\n%s", diff)
	}
}

// events is an EventBridge of rules and their targets, enough for topology.Bootstrap.
type events struct {
	mu      sync.Mutex
	rules   map[string]*eventbridge.DescribeRuleOutput
	targets map[string][]ebtypes.Target
}

func newEvents() *events {
	return &events{rules: map[string]*eventbridge.DescribeRuleOutput{}, targets: map[string][]ebtypes.Target{}}
}

func (e *events) DescribeRule(_ context.Context, in *eventbridge.DescribeRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.rules[aws.ToString(in.Name)]
	if !ok {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("Rule " + aws.ToString(in.Name) + " does not exist.")}
	}
	return r, nil
}

func (e *events) PutRule(_ context.Context, in *eventbridge.PutRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	arn := "arn:aws:events:us-east-1:123456789012:rule/" + aws.ToString(in.Name)
	e.rules[aws.ToString(in.Name)] = &eventbridge.DescribeRuleOutput{
		Name: in.Name, Arn: &arn, EventPattern: in.EventPattern, Description: in.Description, State: in.State,
	}
	return &eventbridge.PutRuleOutput{RuleArn: &arn}, nil
}

func (e *events) ListTargetsByRule(_ context.Context, in *eventbridge.ListTargetsByRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &eventbridge.ListTargetsByRuleOutput{Targets: e.targets[aws.ToString(in.Rule)]}, nil
}

func (e *events) PutTargets(_ context.Context, in *eventbridge.PutTargetsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rule := aws.ToString(in.Rule)
	for _, t := range in.Targets {
		kept := e.targets[rule][:0]
		for _, old := range e.targets[rule] {
			if aws.ToString(old.Id) != aws.ToString(t.Id) {
				kept = append(kept, old)
			}
		}
		e.targets[rule] = append(kept, t)
	}
	return &eventbridge.PutTargetsOutput{}, nil
}
