package forecast

import (
	"slices"
	"testing"

	"github.com/rollwave/rollwave/shared/topology"
)

// TestTheFleetBuildsOnlyTheEventsTheRulesRoute: the simulated fleet is asked for the ECS events
// that the deployment's rules route (instance changes), and for all of them when a rule on ECS
// events names no detail type.
func TestTheFleetBuildsOnlyTheEventsTheRulesRoute(t *testing.T) {
	topo := topology.Default(prefix)
	got, err := ecsEventTypes(topo)
	if err != nil || !slices.Equal(got, []string{topology.ECSContainerInstanceStateChange}) {
		t.Errorf("ecsEventTypes(default) = %q, %v; want only %q", got, err, topology.ECSContainerInstanceStateChange)
	}
	topo.Rules = append(topo.Rules, topology.Rule{Name: "every-ecs-event", EventPattern: `{"source":["aws.ecs"]}`})
	if got, err := ecsEventTypes(topo); err != nil || got != nil {
		t.Errorf("ecsEventTypes(with a rule on every ECS event) = %q, %v; want nil (all)", got, err)
	}
	anySource := topology.Default(prefix)
	anySource.Rules = append(anySource.Rules, topology.Rule{Name: "every-change", EventPattern: `{"detail":{"status":["ACTIVE"]}}`})
	if got, err := ecsEventTypes(anySource); err != nil || got != nil {
		t.Errorf("ecsEventTypes(with a rule on any source) = %q, %v; want nil (all)", got, err)
	}
	broken := topology.Default(prefix)
	broken.Rules = append([]topology.Rule{{Name: "broken", EventPattern: `{`}}, broken.Rules...)
	if _, err := ecsEventTypes(broken); err == nil {
		t.Error("ecsEventTypes(with a rule whose pattern is not JSON) succeeded, want an error")
	}
}
