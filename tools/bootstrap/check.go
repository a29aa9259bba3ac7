package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
)

type ruleReader interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

type documentReader interface {
	GetDocument(ctx context.Context, in *ssm.GetDocumentInput, optFns ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error)
}

// checkClients are what check reads through.
type checkClients struct {
	queues    topology.QueueURLGetter
	rules     ruleReader
	documents documentReader
}

func newCheckClients(cfg aws.Config) checkClients {
	return checkClients{queues: sqs.NewFromConfig(cfg), rules: eventbridge.NewFromConfig(cfg), documents: ssm.NewFromConfig(cfg)}
}

// check verifies, changing nothing, that an existing deployment is the topology t as the workers
// need it: every queue and dead-letter queue resolves, every rule is enabled with t's event
// pattern and description and targets its queue, and every SSM document has shared/ssmdoc's
// content. It reports every difference at once. It is how the compose stack runs against a
// deployment that Terraform made (terraform/examples/localstack), whose queue policies and tags
// bootstrap would otherwise rewrite.
func check(ctx context.Context, c checkClients, t topology.Topology) (topology.Resolved, error) {
	res, err := topology.Resolve(ctx, c.queues, t)
	if err != nil {
		return topology.Resolved{}, err // names every missing queue
	}
	var errs []error
	for _, r := range t.Rules {
		if err := checkRule(ctx, c.rules, r, t); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range ssmdoc.Kinds {
		name := ssmdoc.Name(t.Prefix, k)
		out, err := c.documents.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(name)})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("get document %s: %w", name, err))
		case !sameJSON(aws.ToString(out.Content), ssmdoc.Content(k)):
			errs = append(errs, fmt.Errorf("document %s: content differs from shared/ssmdoc's", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return topology.Resolved{}, fmt.Errorf("check topology %s: %w", t.Prefix, err)
	}
	return res, nil
}

func checkRule(ctx context.Context, rules ruleReader, r topology.Rule, t topology.Topology) error {
	got, err := rules.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(r.Name)})
	if err != nil {
		return fmt.Errorf("describe rule %s: %w", r.Name, err)
	}
	var errs []error
	if !sameJSON(aws.ToString(got.EventPattern), r.EventPattern) {
		errs = append(errs, fmt.Errorf("rule %s matches %s, want %s", r.Name, aws.ToString(got.EventPattern), r.EventPattern))
	}
	if aws.ToString(got.Description) != r.Description {
		errs = append(errs, fmt.Errorf("rule %s: description %q, want %q", r.Name, aws.ToString(got.Description), r.Description))
	}
	if got.State != ebtypes.RuleStateEnabled {
		errs = append(errs, fmt.Errorf("rule %s is %s, want ENABLED", r.Name, got.State))
	}
	q, _ := t.Queue(r.Target)
	found := false
	in := &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.Name)}
	for !found {
		out, err := rules.ListTargetsByRule(ctx, in)
		if err != nil {
			return fmt.Errorf("list targets of rule %s: %w", r.Name, err)
		}
		for _, tg := range out.Targets {
			found = found || (aws.ToString(tg.Id) == r.TargetID && strings.HasSuffix(aws.ToString(tg.Arn), ":"+q.Name))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if !found {
		errs = append(errs, fmt.Errorf("rule %s has no target %s on queue %s", r.Name, r.TargetID, q.Name))
	}
	return errors.Join(errs...)
}

// sameJSON reports whether two JSON documents are equal as values (key order and spacing aside).
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}
