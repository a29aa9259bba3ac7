package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// BenchmarkPlan1000 runs rollwave plan --scenario over a fleet of 1,000 instances in fleetsim
// (four clusters of 250, services and a daemon on each, a standalone task on every 50th host),
// after the update check ran on every host, with the forecast on and the policies of an
// environment that sets ROLLWAVE_MAX_OUT_OF_SERVICE=20% (--policy-from-env), so that the
// forecast rolls each cluster out in waves as a deployment would. It reports per plan the wall
// seconds (plan-s, the read and the forecast), its API calls (calls) and calls per instance
// (calls/instance), and the forecast's simulated makespan (forecast-makespan-s) and instances
// updated (forecast-updated), besides ns/op. It measures; it asserts only that plan succeeded,
// described every instance and forecast some of them updated.
func BenchmarkPlan1000(b *testing.B) {
	const clusters, perCluster = 4, 250
	var sc strings.Builder
	sc.WriteString("repository:\n  aws-ecs-2: [\"1.19.5\", \"1.20.3\"]\nclusters:\n")
	for c := range clusters {
		fmt.Fprintf(&sc, "  - name: bench-%d\n    instances:\n      - {count: %d, version: 1.19.5}\n", c, perCluster)
		sc.WriteString("    services:\n      - {name: web, desired: 200, minimumHealthyPercent: 50, maximumPercent: 200}\n")
		sc.WriteString("      - {name: api, desired: 100, minimumHealthyPercent: 100, maximumPercent: 200, cpu: 512, memory: 1024}\n")
		sc.WriteString("    daemonServices:\n      - {name: logs, cpu: 64, memory: 64}\n    tasks:\n")
		for i := 0; i < perCluster; i += 50 {
			fmt.Fprintf(&sc, "      - {family: batch, instance: \"%d\", duration: never, startedBy: cron}\n", i)
		}
	}
	file := filepath.Join(b.TempDir(), "fleet.yaml")
	if err := os.WriteFile(file, []byte(sc.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	s := harness.Start(b, harness.WithScenario(file), harness.WithTimeScale(20))
	ctx := b.Context()
	cfg := s.AWSConfig(ctx)
	prefix := s.Name("rw")
	api := ssm.NewFromConfig(cfg)
	if err := ssmdoc.Ensure(ctx, api, prefix); err != nil {
		b.Fatal(err)
	}
	fleet := admin.New(s.FleetsimURL)
	st, err := fleet.State(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var ids, names []string
	for _, c := range st.Clusters {
		names = append(names, c.Name)
		for _, in := range c.Instances {
			ids = append(ids, in.EC2InstanceID)
		}
	}
	if _, err := ssmcommand.New(api).Run(ctx, ssmdoc.Name(prefix, ssmdoc.Check), ids, ssmcommand.Options{PollInterval: 200 * time.Millisecond}); err != nil {
		b.Fatalf("update check: %v", err)
	}
	env := map[string]string{"ROLLWAVE_PREFIX": prefix, "ROLLWAVE_CLUSTERS": strings.Join(names, ","), "ROLLWAVE_MAX_OUT_OF_SERVICE": "20%"}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["AWS_ACCESS_KEY_ID"] = planKey
	dir := b.TempDir()
	world, page := filepath.Join(dir, "world.yaml"), filepath.Join(dir, "forecast.html")
	getenv := func(k string) string { return env[k] }
	// The document's parts the benchmark reads: the instances described, and the forecast's
	// makespan and outcomes.
	const query = "{instances: length(clusters[].instances[]), makespan: forecast.makespanSeconds, outcomes: forecast.instances[].outcome}"
	plans := 0
	var elapsed time.Duration
	var makespan float64
	outcomes := map[string]int{}
	for b.Loop() {
		var out, errOut strings.Builder
		start := time.Now()
		if code := run(ctx, []string{"plan", "--policy-from-env", "--scenario", world, "--page", page, "-o", "json", "--query", query}, strings.NewReader(""), &out, &errOut, getenv); code != 0 {
			b.Fatalf("plan: exit %d: %s", code, errOut.String())
		}
		elapsed += time.Since(start)
		plans++
		var got struct {
			Instances int      `json:"instances"`
			Makespan  float64  `json:"makespan"`
			Outcomes  []string `json:"outcomes"`
		}
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			b.Fatalf("plan -o json --query: %v\n%s", err, out.String())
		}
		if got.Instances != clusters*perCluster {
			b.Fatalf("plan described %d instances, want %d", got.Instances, clusters*perCluster)
		}
		makespan += got.Makespan
		for _, o := range got.Outcomes {
			outcomes[o]++
		}
	}
	if outcomes["updated"] == 0 {
		b.Fatalf("the forecast updated no instance: outcomes %v", outcomes)
	}
	rep, err := fleet.Report(ctx)
	if err != nil {
		b.Fatal(err)
	}
	calls := 0
	var ops []string
	for op, n := range rep.APICallsByCaller[planKey] {
		calls += n
		ops = append(ops, fmt.Sprintf("%s %d", op, n/plans))
	}
	slices.Sort(ops)
	b.ReportMetric(elapsed.Seconds()/float64(plans), "plan-s")
	b.ReportMetric(float64(calls)/float64(plans), "calls")
	b.ReportMetric(float64(calls)/float64(plans)/float64(clusters*perCluster), "calls/instance")
	b.ReportMetric(makespan/float64(plans), "forecast-makespan-s")
	b.ReportMetric(float64(outcomes["updated"])/float64(plans), "forecast-updated")
	var outs []string
	for o, n := range outcomes {
		outs = append(outs, fmt.Sprintf("%s %d", o, n/plans))
	}
	slices.Sort(outs)
	fmt.Printf("plan of %d instances: %.1f s, calls per plan: %s; forecast: makespan %s simulated, outcomes %s\n", clusters*perCluster,
		elapsed.Seconds()/float64(plans), strings.Join(ops, ", "), time.Duration(makespan/float64(plans)*float64(time.Second)).Truncate(time.Second),
		strings.Join(outs, ", "))
}
