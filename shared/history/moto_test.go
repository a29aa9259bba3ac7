package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestHistoryOnMoto is the whole path on the emulator: the topology's rule archives what a
// notify.Publisher sends into the history log group, and a Reader gives it back.
func TestHistoryOnMoto(t *testing.T) {
	ctx := t.Context()
	s := harness.Start(t, harness.WithoutFleetsim())
	cfg := s.AWSConfig(ctx)
	top := topology.Default(s.Name(fmt.Sprintf("h%d", time.Now().UnixNano()%1e6)))
	logs := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.HTTPClient = history.IntegerTimestamps(o.HTTPClient) })
	if _, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqs.NewFromConfig(cfg), Events: eventbridge.NewFromConfig(cfg), Logs: logs}, top); err != nil {
		t.Fatalf("Bootstrap() = %v", err)
	}
	pub := notify.New(eventbridge.NewFromConfig(cfg), "", top.Prefix)
	jobID := "job-" + top.Prefix
	// Another deployment on the same bus: its events are not this deployment's history. It
	// publishes first, so that its event would be in the group by the time ours are.
	foreign := notify.JobDetail{JobID: jobID, Cluster: "prod", Instance: "i-0123456789abcdef0", Step: "stage", Message: "foreign"}
	if err := notify.New(eventbridge.NewFromConfig(cfg), "", top.Prefix+"-other").Publish(ctx, notify.InstanceUpdateStarted, foreign); err != nil {
		t.Fatalf("Publish(another deployment's) = %v", err)
	}
	at := time.Date(2025, 6, 2, 9, 0, 2, 0, time.UTC)
	for i, d := range []struct {
		detailType string
		detail     notify.JobDetail
	}{
		{notify.InstanceUpdateStarted, notify.JobDetail{JobID: jobID, Cluster: "prod", Instance: "i-0123456789abcdef0", Step: "stage", At: at}},
		{notify.InstanceUpdateFailed, notify.JobDetail{JobID: jobID, Cluster: "prod", Instance: "i-0123456789abcdef0", Step: "verify",
			Outcome: "failed", Reason: "never-came-back", Message: "no agent", At: at.Add(time.Minute)}},
		{notify.InstanceUpdateStarted, notify.JobDetail{JobID: "someone-else", Cluster: "prod", Instance: "i-0fedcba9876543210", Step: "stage", At: at}},
	} {
		if err := pub.Publish(ctx, d.detailType, d.detail); err != nil {
			t.Fatalf("Publish(%d) = %v", i, err)
		}
	}

	r := history.NewReader(logs, top.History.LogGroup)
	var got []history.Record
	harness.Eventually(t, 30*time.Second, func() (bool, string) {
		var err error
		got, err = r.Read(ctx, history.Query{About: jobID})
		return err == nil && len(got) == 2, fmt.Sprintf("%d records, %v", len(got), err)
	})
	if got[0].Event != notify.InstanceUpdateStarted || got[1].Reason != "never-came-back" || got[1].Worker != "verifier" {
		t.Errorf("Read() = %+v; want the start, then the failure by the verifier", got)
	}
	all, err := r.Read(ctx, history.Query{})
	if err != nil || len(all) != 3 {
		t.Errorf("Read(everything) = %d records, %v; want this deployment's 3 and not the other's: %+v", len(all), err, all)
	}
	if _, err := history.NewReader(logs, topology.HistoryLogGroup("never-bootstrapped")).Read(ctx, history.Query{}); err == nil {
		t.Errorf("Read() of a group that does not exist = nil, want ErrNoHistory")
	}
}
