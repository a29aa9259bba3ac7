package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/metrics/metricstest"
	"github.com/rollwave/rollwave/tools/harness"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

type stat struct {
	Name             string
	Dims             string
	Unit             string
	N, Sum, Min, Max float64
}

func stats(reqs []*cloudwatch.PutMetricDataInput) []stat {
	var out []stat
	for _, r := range reqs {
		for _, d := range r.MetricData {
			dims := ""
			for _, dim := range d.Dimensions {
				dims += aws.ToString(dim.Name) + "=" + aws.ToString(dim.Value) + " "
			}
			s := d.StatisticValues
			out = append(out, stat{aws.ToString(d.MetricName), dims, string(d.Unit),
				aws.ToFloat64(s.SampleCount), aws.ToFloat64(s.Sum), aws.ToFloat64(s.Minimum), aws.ToFloat64(s.Maximum)})
		}
	}
	return out
}

func TestFlushAggregatesPerMetricStream(t *testing.T) {
	api := &metricstest.API{}
	p := metrics.NewPublisher(api, metrics.Namespace, time.Hour, zerolog.New(t.Output()))
	prod := map[string]string{metrics.Cluster: "prod"}
	p.Record(
		metrics.Counted(metrics.JobsStarted, t0, prod),
		metrics.Counted(metrics.JobsStarted, t0, map[string]string{metrics.Cluster: "prod"}),
		metrics.Counted(metrics.JobsStarted, t0, map[string]string{metrics.Cluster: "dev"}),
		metrics.Took(metrics.DrainDuration, 4*time.Second, t0, prod),
		metrics.Took(metrics.DrainDuration, 10*time.Second, t0, prod),
	)
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v, want nil", err)
	}
	want := []stat{
		{"DrainDuration", "Cluster=prod ", "Seconds", 2, 14, 4, 10},
		{"JobsStarted", "Cluster=dev ", "Count", 1, 1, 1, 1},
		{"JobsStarted", "Cluster=prod ", "Count", 2, 2, 1, 1},
	}
	if diff := cmp.Diff(want, stats(api.Requests())); diff != "" {
		t.Errorf("sent statistic sets (-want +got):\n%s", diff)
	}
	if got := aws.ToString(api.Requests()[0].Namespace); got != "rollwave" {
		t.Errorf("namespace = %q, want rollwave", got)
	}
	if err := p.Flush(t.Context()); err != nil || len(api.Requests()) != 1 {
		t.Errorf("second Flush() = %v with %d requests in all, want nil and nothing sent again", err, len(api.Requests()))
	}
}

// TestAClusterByNameAndByARNIsOneStream: a job may name its cluster by ARN; its metrics land in
// the same stream as those of jobs naming it by name, and the caller's map is left as it was.
func TestAClusterByNameAndByARNIsOneStream(t *testing.T) {
	api := &metricstest.API{}
	p := metrics.NewPublisher(api, metrics.Namespace, time.Hour, zerolog.New(t.Output()))
	byARN := map[string]string{metrics.Cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod", metrics.Step: "drain"}
	p.Record(
		metrics.Counted(metrics.JobsFailed, t0, byARN),
		metrics.Counted(metrics.JobsFailed, t0, map[string]string{metrics.Cluster: "prod", metrics.Step: "drain"}),
		metrics.Took(metrics.DrainDuration, 3*time.Second, t0, map[string]string{metrics.Cluster: "arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod"}),
		metrics.Gauge(metrics.InstancesOutOfService, 2, t0, map[string]string{metrics.Cluster: "prod"}),
	)
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v, want nil", err)
	}
	want := []stat{
		{"DrainDuration", "Cluster=prod ", "Seconds", 1, 3, 3, 3},
		{"InstancesOutOfService", "Cluster=prod ", "Count", 1, 2, 2, 2},
		{"JobsFailed", "Cluster=prod Step=drain ", "Count", 2, 2, 1, 1},
	}
	if diff := cmp.Diff(want, stats(api.Requests())); diff != "" {
		t.Errorf("sent statistic sets (-want +got):\n%s", diff)
	}
	if got := byARN[metrics.Cluster]; got != "arn:aws:ecs:eu-west-1:123456789012:cluster/prod" {
		t.Errorf("the caller's dimensions were changed: Cluster = %q", got)
	}
}

func TestFlushSplitsAtTheRequestLimit(t *testing.T) {
	api := &metricstest.API{}
	p := metrics.NewPublisher(api, metrics.Namespace, time.Hour, zerolog.New(t.Output()))
	for i := range 2*metrics.MaxDatums + 1 {
		p.Record(metrics.Counted(metrics.DeadLetters, t0, map[string]string{metrics.Queue: fmt.Sprint("q", i)}))
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v, want nil", err)
	}
	var sizes []int
	for _, r := range api.Requests() {
		sizes = append(sizes, len(r.MetricData))
	}
	if diff := cmp.Diff([]int{1000, 1000, 1}, sizes); diff != "" {
		t.Errorf("datums per request (-want +got):\n%s", diff)
	}
}

func TestFlushReportsAFailedSendAndDropsIt(t *testing.T) {
	api := &metricstest.API{}
	api.FailNext(errors.New("throttled"))
	p := metrics.NewPublisher(api, metrics.Namespace, time.Hour, zerolog.New(t.Output()))
	p.Record(metrics.Counted(metrics.JobsFailed, t0, nil))
	if err := p.Flush(t.Context()); err == nil {
		t.Errorf("Flush() = nil, want the send error")
	}
	if err := p.Flush(t.Context()); err != nil || len(api.Requests()) != 0 {
		t.Errorf("Flush() after a failure = %v with %d requests, want nil and nothing (dropped)", err, len(api.Requests()))
	}
}

func TestRunFlushesWhenFullAndOnShutdown(t *testing.T) {
	api := &metricstest.API{}
	p := metrics.NewPublisher(api, metrics.Namespace, time.Hour, zerolog.New(t.Output()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	for i := range metrics.MaxDatums {
		p.Record(metrics.Counted(metrics.DeadLetters, t0, map[string]string{metrics.Queue: fmt.Sprint("q", i)}))
	}
	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		return len(api.Requests()) == 1, fmt.Sprintf("%d requests, want 1 (a full buffer is sent before the interval)", len(api.Requests()))
	})
	p.Record(metrics.Gauge(metrics.InstancesOutOfService, 2, t0, map[string]string{metrics.Cluster: "prod"}))
	cancel()
	<-done
	got := stats(api.Requests())
	if want := (stat{"InstancesOutOfService", "Cluster=prod ", "Count", 1, 2, 2, 2}); len(got) != metrics.MaxDatums+1 || got[len(got)-1] != want {
		t.Errorf("after shutdown: %d data, last %+v; want %d, last %+v", len(got), got[len(got)-1], metrics.MaxDatums+1, want)
	}
}

// TestNewClientReachesMoto is the check behind docs/decisions/cloudwatch-metrics.md: the
// client NewClient makes is understood by moto, and what the Publisher sends reads back.
func TestNewClientReachesMoto(t *testing.T) {
	s := harness.Start(t, harness.WithoutFleetsim())
	client := metrics.NewClient(s.AWSConfig(t.Context()))
	ns := s.Name("rollwave")
	p := metrics.NewPublisher(client, ns, time.Hour, zerolog.New(t.Output()))
	now := time.Now().UTC()
	dims := map[string]string{metrics.Cluster: "prod", metrics.Step: "drain", metrics.Reason: "drain-timeout"}
	p.Record(metrics.Counted(metrics.JobsFailed, now, dims), metrics.Counted(metrics.JobsFailed, now, dims))
	if err := p.Flush(t.Context()); err != nil {
		t.Fatalf("Flush() = %v, want nil", err)
	}
	var cwDims []types.Dimension
	for _, k := range []string{metrics.Cluster, metrics.Reason, metrics.Step} {
		cwDims = append(cwDims, types.Dimension{Name: aws.String(k), Value: aws.String(dims[k])})
	}
	out, err := client.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(ns), MetricName: aws.String(metrics.JobsFailed), Dimensions: cwDims,
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(3600),
		Statistics: []types.Statistic{types.StatisticSum, types.StatisticSampleCount},
	})
	if err != nil {
		t.Fatalf("GetMetricStatistics: %v", err)
	}
	if len(out.Datapoints) != 1 || aws.ToFloat64(out.Datapoints[0].Sum) != 2 {
		t.Errorf("GetMetricStatistics(JobsFailed) = %+v, want one datapoint with Sum 2", out.Datapoints)
	}
}

func TestRecord(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	d := metrics.Counted(metrics.JobsStarted, now, map[string]string{metrics.Cluster: "prod"})
	rec := &metricstest.Recorder{}
	metrics.Record(rec, d, d)
	if got := rec.Sum(metrics.JobsStarted, map[string]string{metrics.Cluster: "prod"}); got != 2 {
		t.Errorf("Record(recorder, d, d): sum = %v, want 2", got)
	}
	metrics.Record(nil, d) // a worker without metrics: nothing recorded, no panic
}
