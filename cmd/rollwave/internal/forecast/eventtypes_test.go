package forecast

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
)

// TestTheFleetBuildsOnlyTheEventsTheRulesRoute: the simulated fleet is asked for the ECS events
// that the deployment's rules route (instance changes), and for all of them once a rule that
// may take ECS events names no detail type.
func TestTheFleetBuildsOnlyTheEventsTheRulesRoute(t *testing.T) {
	queues := queuetest.NewSQS()
	b := newBus(queues, clock.Real, "123456789012", "us-east-1")
	if _, err := topology.Bootstrap(t.Context(), topology.Clients{SQS: queues, Events: b}, topology.Default(prefix)); err != nil {
		t.Fatal(err)
	}
	if got := b.DetailTypes("aws.ecs"); !slices.Equal(got, []string{topology.ECSContainerInstanceStateChange}) {
		t.Errorf("DetailTypes(aws.ecs) of the default topology = %q, want only %q", got, topology.ECSContainerInstanceStateChange)
	}
	if _, err := b.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("another-source"),
		EventPattern: aws.String(`{"source":["rollwave"]}`)}); err != nil {
		t.Fatal(err)
	}
	if got := b.DetailTypes("aws.ecs"); len(got) != 1 {
		t.Errorf("DetailTypes(aws.ecs) with a rule on another source = %q, want the instance changes only", got)
	}
	if _, err := b.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("any-source"),
		EventPattern: aws.String(`{"detail":{"status":["ACTIVE"]}}`)}); err != nil {
		t.Fatal(err)
	}
	if got := b.DetailTypes("aws.ecs"); got != nil {
		t.Errorf("DetailTypes(aws.ecs) with a rule on any source = %q, want nil (all)", got)
	}
}
