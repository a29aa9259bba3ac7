package forecast_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rollwave/rollwave/cmd/rollwave/internal/forecast"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

// fleet1000 is four clusters of 250 instances, services and a daemon on each and a standalone
// task on every 50th host: BenchmarkPlan1000's fleet.
func fleet1000(b *testing.B) *scenario.Scenario {
	var sc strings.Builder
	sc.WriteString("repository:\n  aws-ecs-2: [\"1.19.5\", \"1.20.3\"]\nclusters:\n")
	for c := range 4 {
		fmt.Fprintf(&sc, "  - name: bench-%d\n    instances:\n      - {count: 250, version: 1.19.5}\n", c)
		sc.WriteString("    services:\n      - {name: web, desired: 200, minimumHealthyPercent: 50, maximumPercent: 200}\n")
		sc.WriteString("      - {name: api, desired: 100, minimumHealthyPercent: 100, maximumPercent: 200, cpu: 512, memory: 1024}\n")
		sc.WriteString("    daemonServices:\n      - {name: logs, cpu: 64, memory: 64}\n    tasks:\n")
		for i := 0; i < 250; i += 50 {
			fmt.Fprintf(&sc, "      - {family: batch, instance: \"%d\", duration: never, startedBy: cron}\n", i)
		}
	}
	s, err := scenario.Parse([]byte(sc.String()))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkForecast1000 forecasts the rollout of 1,000 instances under a limit of 20 %, alone
// (no read of a fleet): the wall time of the simulation, and its simulated makespan.
func BenchmarkForecast1000(b *testing.B) {
	for b.Loop() {
		res, err := forecast.Run(b.Context(), forecast.Options{Scenario: fleet1000(b), Env: map[string]string{"ROLLWAVE_MAX_OUT_OF_SERVICE": "20%"}})
		if err != nil {
			b.Fatal(err)
		}
		updated := 0
		for _, r := range res.Records {
			if r.Outcome == "updated" {
				updated++
			}
		}
		b.ReportMetric(res.End.Sub(res.Start).Seconds(), "simulated-s")
		b.ReportMetric(float64(updated), "updated")
	}
}
