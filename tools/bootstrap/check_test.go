package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestCheck runs check against moto and fleetsim: it refuses a deployment that is not there,
// accepts the one bootstrap makes, and names a rule whose pattern drifted and a document that is
// missing, changing neither.
func TestCheck(t *testing.T) {
	stack := harness.Start(t)
	ctx := t.Context()
	cfg := stack.AWSConfig(ctx)
	topo := topology.Default(stack.Name("rw"))
	c := newCheckClients(cfg)

	if _, err := check(ctx, c, topo); err == nil || !strings.Contains(err.Error(), topo.Queues[0].Name) {
		t.Fatalf("check before any deployment = %v, want an error naming %s", err, topo.Queues[0].Name)
	}
	if _, err := bootstrap.Run(ctx, cfg, topo); err != nil {
		t.Fatal(err)
	}
	res, err := check(ctx, c, topo)
	if err != nil {
		t.Fatalf("check after bootstrap = %v, want nil", err)
	}
	if got := len(res.Queues); got != len(topo.Queues) {
		t.Errorf("check resolved %d queues, want %d", got, len(topo.Queues))
	}

	rule := topo.Rules[0]
	drifted := topology.ECSContainerInstancePattern([]string{"arn:aws:ecs:" + stack.Region + ":000000000000:cluster/prod"})
	events := eventbridge.NewFromConfig(cfg)
	if _, err := events.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule.Name), Description: aws.String(rule.Description), EventPattern: aws.String(drifted)}); err != nil {
		t.Fatal(err)
	}
	doc := ssmdoc.Name(topo.Prefix, ssmdoc.Kinds[0])
	if _, err := ssm.NewFromConfig(cfg).DeleteDocument(ctx, &ssm.DeleteDocumentInput{Name: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	_, err = check(ctx, c, topo)
	for _, want := range []string{"rule " + rule.Name + " matches", "get document " + doc} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check after drift = %v, want it to contain %q", err, want)
		}
	}
	got, err := events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule.Name)})
	if err != nil || !sameJSON(aws.ToString(got.EventPattern), drifted) {
		t.Errorf("rule %s after check: pattern %s, %v; want it left as it was (%s)", rule.Name, aws.ToString(got.EventPattern), err, drifted)
	}
}
