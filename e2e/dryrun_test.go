package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
)

// TestDryRunPipeline runs a scan with ROLLWAVE_DRY_RUN=true on every worker: each job travels
// through every stage and ends skipped/dry-run with a summary of what each worker would have done,
// and the fleet is exactly as it was: no attribute, no drain, no reboot. The workers' metrics
// reach moto's CloudWatch.
func TestDryRunPipeline(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/dryrun.yaml", "ROLLWAVE_DRY_RUN=true", "ROLLWAVE_METRICS_INTERVAL=1s")
	res := p.newResults()
	p.scan()
	hosts := []string{"i-0e00000000000000a", "i-0e00000000000000b"}
	got := res.waitEnded(60*time.Second, hosts)
	for _, h := range hosts {
		e := got[h]
		if e.DetailType != notify.InstanceUpdateSkipped || e.Reason != string(update.CodeDryRun) || !e.DryRun || e.Step != string(update.StepVerify) {
			t.Errorf("%s ended %q (%s) at step %q, dryRun %t; want Instance Update Skipped (dry-run) at step verify", h, e.DetailType, e.Reason, e.Step, e.DryRun)
		}
		for _, want := range []string{"dry run, nothing changed: patcher: would mark", "drainer: cluster-limit would admit", "would set " + h + " DRAINING",
			"patcher: would send the reboot", "verifier: would wait"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("%s: message %q does not say %q", h, e.Message, want)
			}
		}
	}
	report := p.report()
	for _, in := range report.Instances {
		if in.Reboots != 0 || in.Version != oldVersion || in.Status != "ACTIVE" {
			t.Errorf("%s after a dry run: %s, %d reboots, on %s; want ACTIVE, none, on %s", in.EC2InstanceID, in.Status, in.Reboots, in.Version, oldVersion)
		}
	}
	for _, c := range report.Clusters {
		if c.MaxOutOfService != 0 {
			t.Errorf("cluster %s had %d instances out of service during a dry run, want 0", c.Cluster, c.MaxOutOfService)
		}
	}
	for op, n := range report.APICallsByCaller[workerKey] {
		switch op {
		case "ecs:PutAttributes", "ecs:DeleteAttributes", "ecs:UpdateContainerInstancesState":
			t.Errorf("the workers called %s %d times during a dry run", op, n)
		}
	}
	for _, ins := range p.instances() {
		for _, in := range ins {
			if marked(in) {
				t.Errorf("%s carries rollwave attributes after a dry run: %v", in.EC2InstanceID, in.Attributes)
			}
		}
	}
	p.checkNoDeadLetters()

	// The metrics: sent every second, and once more when the workers stop.
	for _, w := range workers {
		if err := p.procs[w].Stop(); err != nil {
			t.Errorf("%s did not stop cleanly: %v", w, err)
		}
	}
	cw := metrics.NewClient(p.stack.AWSConfig(t.Context()))
	sum := func(name string, dims map[string]string) (float64, error) {
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
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
		})
		if err != nil {
			return 0, err
		}
		var s float64
		for _, d := range out.Datapoints {
			s += aws.ToFloat64(d.Sum)
		}
		return s, nil
	}
	for _, m := range []struct {
		name string
		dims map[string]string
	}{
		{metrics.JobsStarted, map[string]string{metrics.Cluster: "dryrun"}},
		{metrics.JobsSkipped, map[string]string{metrics.Cluster: "dryrun", metrics.Step: "verify", metrics.Reason: "dry-run"}},
	} {
		got, err := sum(m.name, m.dims)
		if err != nil || got != 2 {
			t.Errorf("CloudWatch %s%v: sum %v, %v; want 2", m.name, m.dims, got, err)
		}
	}
	if got, err := sum(metrics.StepDuration, map[string]string{metrics.Cluster: "dryrun", metrics.Step: "drain"}); err != nil || got < 0 {
		t.Errorf("CloudWatch StepDuration{drain}: %v, %v", got, err)
	}
}

// TestDryRunReportsTheGateThatWouldHold runs a dry-run scan outside the clusters' maintenance
// window: the drainer's rehearsal walks the same gates as a real job, so each job's summary says
// that the window would hold it and when it opens, and still rehearses the rest; nothing changes.
func TestDryRunReportsTheGateThatWouldHold(t *testing.T) {
	t.Parallel()
	opens := time.Now().UTC().Add(12 * time.Hour).Truncate(time.Hour)
	window := fmt.Sprintf("daily %s-%s UTC", opens.Format("15:04"), opens.Add(time.Hour).Format("15:04"))
	p := startPipeline(t, "testdata/dryrun-window.yaml", "ROLLWAVE_DRY_RUN=true", "ROLLWAVE_METRICS=off", "ROLLWAVE_MAINTENANCE_WINDOW="+window)
	res := p.newResults()
	p.scan()
	hosts := []string{"i-0e00000000000000c", "i-0e00000000000000d"}
	got := res.waitEnded(60*time.Second, hosts)
	for _, h := range hosts {
		e := got[h]
		if e.DetailType != notify.InstanceUpdateSkipped || e.Reason != string(update.CodeDryRun) {
			t.Errorf("%s ended %q (%s), want Instance Update Skipped (dry-run)", h, e.DetailType, e.Reason)
		}
		for _, want := range []string{
			fmt.Sprintf("drainer: window would hold the job (window): cluster dryrunwindow: outside the maintenance window %q; it opens at %s", window, opens.Format(time.RFC3339)),
			"cluster-limit would admit", "would set " + h + " DRAINING", "verifier: would wait",
		} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("%s: message %q does not say %q", h, e.Message, want)
			}
		}
	}
	for op, n := range p.report().APICallsByCaller[workerKey] {
		switch op {
		case "ecs:PutAttributes", "ecs:DeleteAttributes", "ecs:UpdateContainerInstancesState":
			t.Errorf("the workers called %s %d times during a dry run", op, n)
		}
	}
	p.checkNoDeadLetters()
}
