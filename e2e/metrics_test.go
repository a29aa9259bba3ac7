package e2e_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// TestRolloutUnderThrottling updates a cluster while fleetsim throttles a fifth of the ECS and SSM
// calls and answers a few with a server error: transient failures are retried, and the rollout
// ends with the same guarantees as a calm one (checkRollout). The workers' CloudWatch metrics,
// read back from the emulator, count the jobs the pipeline events reported.
func TestRolloutUnderThrottling(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/throttle.yaml", "ROLLWAVE_METRICS_INTERVAL=1s")
	if err := p.fleet.InjectFaults(t.Context(), admin.Faults{API: []admin.APIFault{
		{Operation: "ecs:*", ThrottleRate: 0.2, ErrorRate: 0.02},
		{Operation: "ssm:*", ThrottleRate: 0.2, ErrorRate: 0.02},
	}}); err != nil {
		t.Fatalf("inject API faults: %v", err)
	}
	res := p.newResults()
	p.scan()
	// A deadline, not a speed: a fifth of the calls throttled, each retried after a backoff, on a
	// machine busy with the other tests.
	p.checkRollout(res, 300*time.Second)

	rep := p.report()
	calls, faulted := 0, 0
	for op, n := range rep.APICalls {
		calls += n
		faulted += rep.APIFaults[op]
	}
	t.Logf("ECS, SSM and EC2 calls: %d, of which %d answered with an injected throttle or server error", calls, faulted)
	if faulted < calls/10 {
		t.Fatalf("only %d of %d calls faulted: the rollout did not run under the throttle this test is about", faulted, calls)
	}

	// Metrics are sent every second and once more when a worker stops.
	for _, w := range workers {
		if err := p.procs[w].Stop(); err != nil {
			t.Errorf("%s did not stop cleanly: %v", w, err)
		}
	}
	cw := metrics.NewClient(p.stack.AWSConfig(t.Context()))
	stat := func(name string, dims map[string]string, s cwtypes.Statistic) float64 {
		t.Helper()
		var cwDims []cwtypes.Dimension
		for _, k := range []string{metrics.Cluster, metrics.Reason, metrics.Step} {
			if v, ok := dims[k]; ok {
				cwDims = append(cwDims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
			}
		}
		now := time.Now()
		out, err := cw.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(metrics.Namespace), MetricName: aws.String(name), Dimensions: cwDims,
			StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200),
			Statistics: []cwtypes.Statistic{s},
		})
		if err != nil {
			t.Fatalf("CloudWatch %s%v: %v", name, dims, err)
		}
		var v float64
		for _, d := range out.Datapoints {
			switch s {
			case cwtypes.StatisticSum:
				v += aws.ToFloat64(d.Sum)
			case cwtypes.StatisticSampleCount:
				v += aws.ToFloat64(d.SampleCount)
			}
		}
		return v
	}
	cluster := map[string]string{metrics.Cluster: "throttled"}
	if got := stat(metrics.JobsStarted, cluster, cwtypes.StatisticSum); got != 4 {
		t.Errorf("CloudWatch JobsStarted{throttled} = %v, want 4", got)
	}
	updated := map[string]string{metrics.Cluster: "throttled", metrics.Step: "verify", metrics.Reason: "updated"}
	if got := stat(metrics.JobsSucceeded, updated, cwtypes.StatisticSum); got != 4 {
		t.Errorf("CloudWatch JobsSucceeded%v = %v, want 4", updated, got)
	}
	if got := stat(metrics.RebootToVerified, cluster, cwtypes.StatisticSampleCount); got != 4 {
		t.Errorf("CloudWatch RebootToVerified{throttled} samples = %v, want one per updated instance (4)", got)
	}
	if got := stat(metrics.DrainDuration, cluster, cwtypes.StatisticSampleCount); got != 4 {
		t.Errorf("CloudWatch DrainDuration{throttled} samples = %v, want one per updated instance (4)", got)
	}
}
