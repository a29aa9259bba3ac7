package forecast

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/queue/queuetest"
	"github.com/rollwave/rollwave/shared/topology"
)

// The bus routes as the deployment's rules say: an event matches a pattern when every field of
// the pattern is in the event with one of its values (any element of an array field), and a
// string never equals a number.
func TestBusMatchesExactValues(t *testing.T) {
	pattern := map[string]any{}
	if err := json.Unmarshal([]byte(topology.ECSRulePattern(topology.DrainerEvents, []string{"arn:cluster/prod"})), &pattern); err != nil {
		t.Fatal(err)
	}
	event := func(status string, pending any, cluster string) map[string]any {
		return map[string]any{"source": "aws.ecs", "detail-type": topology.ECSContainerInstanceStateChange,
			"detail": map[string]any{"status": status, "pendingTasksCount": pending, "clusterArn": cluster}}
	}
	for _, tt := range []struct {
		name  string
		event map[string]any
		want  bool
	}{
		{"a change the drainer waits for", event("ACTIVE", 0.0, "arn:cluster/prod"), true},
		{"a draining instance", event("DRAINING", 0.0, "arn:cluster/prod"), true},
		{"a task still pending", event("ACTIVE", 1.0, "arn:cluster/prod"), false},
		{"a count as a string", event("ACTIVE", "0", "arn:cluster/prod"), false},
		{"another cluster", event("ACTIVE", 0.0, "arn:cluster/other"), false},
		{"another status", event("INACTIVE", 0.0, "arn:cluster/prod"), false},
		{"no detail", map[string]any{"source": "aws.ecs", "detail-type": topology.ECSContainerInstanceStateChange}, false},
		{"a detail that is not an object", map[string]any{"source": "aws.ecs", "detail-type": topology.ECSContainerInstanceStateChange, "detail": "ACTIVE"}, false},
		{"another source", map[string]any{"source": "rollwave", "detail-type": topology.ECSContainerInstanceStateChange,
			"detail": map[string]any{"status": "ACTIVE", "pendingTasksCount": 0.0, "clusterArn": "arn:cluster/prod"}}, false},
	} {
		raw, err := json.Marshal(tt.event)
		if err != nil {
			t.Fatal(err)
		}
		if got := matches(pattern, newLazyDoc(raw)); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A rule whose pattern uses more than exact values is refused, not routed wrongly.
func TestBusRefusesPatternsItCannotSimulate(t *testing.T) {
	b := newBus(queuetest.NewSQS(), clock.Real, "123456789012", "us-east-1")
	_, err := b.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("prefix"),
		EventPattern: aws.String(`{"source":["aws.ecs"],"detail":{"clusterArn":[{"prefix":"arn:"}]}}`)})
	if err == nil {
		t.Fatal("PutRule of a prefix pattern = nil error, want a refusal")
	}
	if _, err := b.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("exact"),
		EventPattern: aws.String(topology.ECSRulePattern(topology.VerifierEvents, nil))}); err != nil {
		t.Fatalf("PutRule of the verifier's pattern: %v", err)
	}
}

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
