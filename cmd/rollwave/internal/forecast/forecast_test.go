package forecast_test

import (
	"os"
	"testing"

	"github.com/rollwave/rollwave/cmd/rollwave/internal/forecast"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

func load(t *testing.T, path string) *scenario.Scenario {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// The default fleet's rollout, simulated: every host with an update ends, the one running a
// standalone task is skipped (the default standalone policy), no service goes below its floor,
// no cluster has more out of service than the limit, and nothing is left DRAINING.
func TestForecastOfTheDefaultFleet(t *testing.T) {
	res, err := forecast.Run(t.Context(), forecast.Options{Scenario: load(t, "testdata/default.yaml"),
		Env: map[string]string{"ROLLWAVE_MAX_OUT_OF_SERVICE": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unfinished) > 0 {
		t.Errorf("unfinished: %v", res.Unfinished)
	}
	outcomes := map[string]int{}
	for _, r := range res.Records {
		if r.Ended() {
			outcomes[r.Outcome]++
		}
		if r.Event == notify.InstanceUpdateSkipped {
			t.Logf("skipped %s: %s", r.EC2InstanceID, r.Reason)
		}
	}
	if outcomes["updated"] != 7 || outcomes["skipped"] != 1 {
		t.Errorf("outcomes = %v, want 7 updated and 1 skipped", outcomes)
	}
	for _, s := range res.Fleet.Services {
		if s.BelowFloor {
			t.Errorf("service %s/%s went below its floor %d: lowest %d", s.Cluster, s.Service, s.Floor, s.MinRunning)
		}
	}
	for _, c := range res.Fleet.Clusters {
		if c.MaxOutOfService > 1 {
			t.Errorf("cluster %s had %d out of service at once, the limit is 1", c.Cluster, c.MaxOutOfService)
		}
	}
	if len(res.Fleet.LeftDraining) > 0 {
		t.Errorf("left draining: %v", res.Fleet.LeftDraining)
	}
	t.Logf("simulated %s, from %s to %s, %d events", res.End.Sub(res.Start), res.Start, res.End, len(res.Records))
}
