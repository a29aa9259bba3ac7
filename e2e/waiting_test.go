package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestWaitingIsVisible holds a job in a paused cluster beyond a short waiting threshold (2 s; the
// drainer's clock is real): the drainer logs a warning with the reason at each threshold, announces
// the wait once as "Instance Update Waiting" on the bus, records it on the instance, where
// `rollwave status` (the CLI binary) shows the reason and since when, and counts it in
// JobsWaiting, which CloudWatch (moto) returns with one count per warning. After the resume the
// job is admitted, the record removed, and the instance updated.
func TestWaitingIsVisible(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "testdata/waiting.yaml", "ROLLWAVE_PAUSE_REFRESH=500ms", "ROLLWAVE_WAITING_THRESHOLD=2s", "ROLLWAVE_METRICS_INTERVAL=1s")
	ctx := t.Context()
	drainerQ, err := p.topo.Queue(topology.Drainer)
	if err != nil {
		t.Fatal(err)
	}
	if err := pause.Set(ctx, p.sqs, drainerQ.URL, "waiting", "e2e", "hold the rollout"); err != nil {
		t.Fatal(err)
	}
	cli := harness.BuildBinary(t, "cmd/rollwave")
	res := p.newResults()
	const host = "i-0e00000000000000a"
	sent := time.Now().UTC().Truncate(time.Second)
	p.send(topology.Patcher, fmt.Sprintf(`{"schema":"rollwave.job/v1","id":"waiting-1","cluster":"waiting","instance":%q,"targetVersion":%q,"requestedBy":"e2e","reason":"wait"}`, host, targetVersion))

	// Two warnings a threshold apart, and the announcement of the wait.
	var waitingEvents []ended
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		waitingEvents = eventsOf(res, notify.InstanceUpdateWaiting, host)
		n := len(waitWarnings(t, p.procs["drainer"].Log(), "waiting-1"))
		return n >= 2 && len(waitingEvents) > 0, fmt.Sprintf("%d warnings about the wait (want 2) and %d Waiting events (want 1)", n, len(waitingEvents))
	})
	for _, w := range waitWarnings(t, p.procs["drainer"].Log(), "waiting-1") {
		if w.Reason != "paused" || w.Cluster != "waiting" || !strings.Contains(w.Message, "cluster waiting paused by e2e: hold the rollout") {
			t.Errorf("warning %+v, want reason paused, cluster waiting and the pause in the message", w)
		}
	}
	if e := waitingEvents[0]; e.Reason != "paused" || e.JobID != "waiting-1" || e.Step != "drain" ||
		e.WaitingSince.Before(sent) || e.WaitingSince.After(e.At.Add(-2*time.Second)) {
		t.Errorf("Instance Update Waiting = %+v, want reason paused, step drain, waitingSince after the job was sent and a threshold before the event", e.JobDetail)
	}

	// The instance records the wait; rollwave status shows it.
	var since time.Time
	for _, in := range p.instances()["waiting"] {
		if in.EC2InstanceID != host {
			continue
		}
		w, err := update.ParseWaiting(in.Attributes[update.AttrWaiting])
		if err != nil || w.Reason != update.WaitPaused || w.Warned.IsZero() || in.Status != "ACTIVE" || in.Attributes[update.AttrStage] != "staged" {
			t.Fatalf("%s while held: %s, attributes %v (%v); want ACTIVE, staged, a warned paused wait", host, in.Status, in.Attributes, err)
		}
		since = w.Since
	}
	if !since.Equal(waitingEvents[0].WaitingSince) {
		t.Errorf("rollwave.waiting says since %s, the event %s; want the same", since, waitingEvents[0].WaitingSince)
	}
	env := append(p.stack.Env(), "ROLLWAVE_PREFIX="+p.prefix, "USER=e2e", "PATH=/usr/bin:/bin")
	out := runRollwave(t, cli, env, "status", "--cluster", "waiting", "-o", "json")
	var rep struct {
		Clusters []struct {
			Instances []struct {
				EC2InstanceID string    `json:"ec2InstanceId"`
				Waiting       string    `json:"waiting"`
				WaitingSince  time.Time `json:"waitingSince"`
			} `json:"instances"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Clusters) != 1 {
		t.Fatalf("rollwave status -o json: %v:\n%s", err, out)
	}
	for _, in := range rep.Clusters[0].Instances {
		if in.EC2InstanceID == host && (in.Waiting != "paused" || !in.WaitingSince.Equal(since)) {
			t.Errorf("rollwave status -o json: %s waiting %q since %s, want paused since %s", host, in.Waiting, in.WaitingSince, since)
		}
	}
	out = runRollwave(t, cli, env, "status", "--cluster", "waiting")
	if !strings.Contains(out, "paused for ") || !strings.Contains(out, "(since "+since.Format(time.RFC3339)+")") {
		t.Errorf("rollwave status does not show %s paused since %s:\n%s", host, since.Format(time.RFC3339), out)
	}

	// The resume: admitted, updated, the record gone; the wait was announced once.
	if err := pause.Clear(ctx, p.sqs, drainerQ.URL, "waiting"); err != nil {
		t.Fatal(err)
	}
	if e := res.waitEnded(60*time.Second, []string{host})[host]; e.DetailType != notify.InstanceUpdateSucceeded {
		t.Errorf("job ended %q (%s: %s), want %q", e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded)
	}
	if n := len(eventsOf(res, notify.InstanceUpdateWaiting, host)); n != 1 {
		t.Errorf("%d Instance Update Waiting events for %s, want 1 for its one wait", n, host)
	}
	for _, in := range p.instances()["waiting"] {
		if v, ok := in.Attributes[update.AttrWaiting]; ok {
			t.Errorf("%s still has %s = %q after its job ended", in.EC2InstanceID, update.AttrWaiting, v)
		}
	}
	if !strings.Contains(p.procs["drainer"].Log(), "admitted after waiting") {
		t.Error("the drainer did not log how long the job waited when it admitted it")
	}

	// Stopping the drainer sends its pending metrics: one JobsWaiting count per warning.
	if err := p.procs["drainer"].Stop(); err != nil {
		t.Errorf("drainer did not stop cleanly: %v", err)
	}
	warned := len(waitWarnings(t, p.procs["drainer"].Log(), "waiting-1"))
	cw := metrics.NewClient(p.stack.AWSConfig(ctx))
	now := time.Now()
	stats, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String(metrics.Namespace), MetricName: aws.String(metrics.JobsWaiting),
		Dimensions: []cwtypes.Dimension{
			{Name: aws.String(metrics.Cluster), Value: aws.String("waiting")},
			{Name: aws.String(metrics.Reason), Value: aws.String("paused")},
		},
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
	})
	if err != nil {
		t.Fatalf("CloudWatch JobsWaiting: %v", err)
	}
	var sum float64
	for _, d := range stats.Datapoints {
		sum += aws.ToFloat64(d.Sum)
	}
	if sum != float64(warned) || warned < 2 {
		t.Errorf("CloudWatch JobsWaiting{waiting, paused} Sum = %v, want one per warning logged (%d, at least 2)", sum, warned)
	}
	p.checkNoDeadLetters()
}

// eventsOf returns the pipeline events of detailType about instance id received so far.
func eventsOf(r *results, detailType, id string) []ended {
	var out []ended
	for _, e := range r.all {
		if e.DetailType == detailType && e.EC2InstanceID == id {
			out = append(out, e)
		}
	}
	return out
}

// waitWarning is one of the drainer's warnings about a long wait.
type waitWarning struct {
	Level   string `json:"level"`
	Job     string `json:"job"`
	Cluster string `json:"cluster"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// waitWarnings returns the warnings about the wait of job in a drainer's log.
func waitWarnings(t *testing.T, log, job string) []waitWarning {
	t.Helper()
	var out []waitWarning
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var w waitWarning
		if json.Unmarshal(sc.Bytes(), &w) != nil {
			continue
		}
		if w.Level == "warn" && w.Job == job && strings.Contains(w.Message, "to be admitted: ") {
			out = append(out, w)
		}
	}
	return out
}

// runRollwave runs the CLI binary and returns its standard output; a non-zero exit fails the test.
func runRollwave(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("$ rollwave %s\n%s%s", strings.Join(args, " "), out, stderr.String())
	if err != nil {
		t.Fatalf("rollwave %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
