package e2e_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestWorkersReportTheirVersion starts the four workers and checks that each says which build it
// is the three ways an operator may look: `<worker> --version`, the version field of its
// "<worker> started" log line, and a WorkerStarted metric in CloudWatch whose Version dimension
// is the same.
func TestWorkersReportTheirVersion(t *testing.T) {
	t.Parallel()
	versions := map[string]string{}
	for _, w := range workers {
		out, err := exec.CommandContext(t.Context(), harness.BuildBinary(t, "services/"+w), "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", w, err)
		}
		f := strings.Fields(string(out))
		if len(f) < 2 || f[0] != w {
			t.Fatalf("%s --version = %q, want %q followed by the version", w, out, w)
		}
		versions[w] = f[1]
	}

	p := startPipeline(t, "testdata/rollout.yaml", "ROLLWAVE_METRICS_INTERVAL=1s")
	for _, w := range workers {
		harness.Eventually(t, 30*time.Second, func() (bool, string) {
			v, ok := startedVersion(p.procs[w].Log(), w)
			if !ok {
				return false, w + " has not logged that it started"
			}
			if v != versions[w] {
				t.Fatalf("%s started with version %q in its log, want %q (its --version)", w, v, versions[w])
			}
			return true, ""
		})
	}
	// Metrics are sent every second and once more when a worker stops.
	for _, w := range workers {
		if err := p.procs[w].Stop(); err != nil {
			t.Errorf("%s did not stop cleanly: %v", w, err)
		}
	}
	cw := metrics.NewClient(p.stack.AWSConfig(t.Context()))
	now := time.Now()
	for _, w := range workers {
		out, err := cw.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
			Namespace:  aws.String(metrics.Namespace),
			MetricName: aws.String(metrics.WorkerStarted),
			Dimensions: []cwtypes.Dimension{
				{Name: aws.String(metrics.Service), Value: aws.String(w)},
				{Name: aws.String(metrics.Version), Value: aws.String(versions[w])},
			},
			StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
		})
		if err != nil {
			t.Fatalf("CloudWatch %s of %s: %v", metrics.WorkerStarted, w, err)
		}
		var sum float64
		for _, d := range out.Datapoints {
			sum += aws.ToFloat64(d.Sum)
		}
		// Other tests of this package may start the same binaries against the same emulator.
		if sum < 1 {
			t.Errorf("CloudWatch %s{Service=%s, Version=%s} = %v, want at least this test's start", metrics.WorkerStarted, w, versions[w], sum)
		}
	}
}

// startedVersion returns the version field of the worker's "<worker> started" log line.
func startedVersion(log, worker string) (string, bool) {
	for _, line := range strings.Split(log, "\n") {
		var entry struct {
			Message string `json:"message"`
			Version string `json:"version"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == worker+" started" {
			return entry.Version, true
		}
	}
	return "", false
}
