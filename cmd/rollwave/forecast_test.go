package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// forecastSettings are the workers' intervals and timeouts in the forecast tests, given alike to
// rollwave plan (--policy-from-env) and to the workers of the real rollout: both run in real
// time (the simulator at ×1), so the same settings mean the same thing to both. They are
// production's shortened to fit the short timings of the test fleets. The waiting threshold is
// well above the admission backstop: a hold that one backstop recheck ends (a wake the drainer
// missed) lasts about the backstop in both rollouts, and at the threshold it would be reported in
// one and not in the other by chance.
var forecastSettings = []string{
	"ROLLWAVE_SSM_POLL_INTERVAL=500ms", "ROLLWAVE_SSM_EXPECTED=1s", "ROLLWAVE_APPLY_EXPECTED=5s",
	"ROLLWAVE_RECHECK_INTERVAL=2s", "ROLLWAVE_ADMISSION_RETRY=2s", "ROLLWAVE_ADMISSION_BACKSTOP=10s",
	"ROLLWAVE_STAGE_RECHECK=5s", "ROLLWAVE_PAUSE_REFRESH=2s", "ROLLWAVE_REBOOT_GRACE=10s",
	"ROLLWAVE_SHUTDOWN_GRACE=2s", "ROLLWAVE_SSM_TIMEOUT=1m", "ROLLWAVE_APPLY_TIMEOUT=2m",
	"ROLLWAVE_DRAIN_TIMEOUT=5m", "ROLLWAVE_REBOOT_TIMEOUT=5m", "ROLLWAVE_WAITING_THRESHOLD=15s",
}

// forecastTimings are the plan flags that give the simulated durations of the test fleets
// (their scenarios' timings): plan cannot read them from a fleet.
var forecastTimings = []string{"--task-start", "2s", "--task-stop", "2s", "--apply", "5s", "--reboot", "8s", "--agent-reconnect", "3s"}

// TestForecastMatchesTheRollout runs rollwave plan against a live fleet, then the real rollout of
// that fleet through the four workers, and holds the forecast to what happened: the makespan
// within 15 %, the same instances skipped for the same reasons, drains that waited for the same
// reasons (the waits the drainer reports, past its waiting threshold), and the same lowest
// running count of every service. Three fleets: the default, one whose capacity holds drains,
// and one behind a maintenance window with a standalone task.
func TestForecastMatchesTheRollout(t *testing.T) {
	for _, tc := range []struct {
		name, scenario string
		// policy is the deployment's policy; window, when set, is a maintenance window that
		// opens this long after the forecast starts: long enough that the real rollout's jobs,
		// staged on a loaded machine, still meet it closed.
		policy []string
		window time.Duration
		// wantWaits and wantSkipped are what the rollout must show for the fleet to test what
		// it is meant to (checked on the real rollout; the forecast must then match it).
		wantWaits, wantSkipped []string
	}{
		{name: "default", scenario: "testdata/forecast-default.yaml", wantSkipped: []string{"standalone-task"}},
		// One job handled at a time (ROLLWAVE_CONCURRENCY=1): looks of two jobs at the same
		// instant interleave by chance, which no forecast times as the real rollout does.
		{name: "tight capacity", scenario: "testdata/forecast-capacity.yaml", policy: []string{"ROLLWAVE_MAX_OUT_OF_SERVICE=2", "ROLLWAVE_CONCURRENCY=1"},
			wantWaits: []string{"capacity"}},
		{name: "window and standalone task", scenario: "testdata/forecast-window.yaml",
			policy:    []string{"ROLLWAVE_STANDALONE_TASKS=wait", "ROLLWAVE_STANDALONE_DEADLINE=20s"},
			window:    time.Minute,
			wantWaits: []string{"standalone-task", "window"}, wantSkipped: []string{"standalone-task"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := harness.Start(t, harness.WithScenario(tc.scenario), harness.WithTimeScale(1))
			ctx := t.Context()
			cfg := s.AWSConfig(ctx)
			prefix := s.Name("rw")
			fleet := admin.New(s.FleetsimURL)
			state, err := fleet.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var arns, clusters, ids []string
			for _, c := range state.Clusters {
				arns, clusters = append(arns, c.ARN), append(clusters, c.Name)
				for _, in := range c.Instances {
					ids = append(ids, in.EC2InstanceID)
				}
			}
			if _, err := bootstrap.Run(ctx, cfg, topology.Default(prefix).RestrictToClusters(arns)); err != nil {
				t.Fatal(err)
			}
			// The update check a deployment's scans ran: plan reads each host's version from it.
			if _, err := ssmcommand.New(ssm.NewFromConfig(cfg)).Run(ctx, ssmdoc.Name(prefix, ssmdoc.Check), ids, ssmcommand.Options{PollInterval: 200 * time.Millisecond}); err != nil {
				t.Fatalf("update check: %v", err)
			}
			bins := map[string]string{}
			for _, w := range []string{"scanner", "patcher", "drainer", "verifier"} {
				bins[w] = harness.BuildBinary(t, "services/"+w)
			}
			env := append(s.Env(), "ROLLWAVE_PREFIX="+prefix, "ROLLWAVE_CLUSTERS="+strings.Join(clusters, ","))
			env = append(append(env, forecastSettings...), tc.policy...)
			if tc.window > 0 {
				env = append(env, "ROLLWAVE_MAINTENANCE_WINDOW="+windowOpeningIn(time.Now(), tc.window))
			}
			envMap := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				envMap[k] = v
			}

			// The workers start first and idle until the scan, which follows plan at once: the
			// real rollout then starts as soon after the forecast's as the machine allows,
			// however long the workers take to start.
			for w, bin := range bins {
				harness.StartProcess(t, w, bin, env)
			}
			// plan runs as its own process, as a person runs it: its virtual clock moves when its
			// process is idle, which the other tests of this one seldom are.
			args := append([]string{"plan", "--policy-from-env", "-o", "json", "--page", filepath.Join(t.TempDir(), "forecast.html")}, forecastTimings...)
			stdout, stderr, code := runBinary(t, harness.BuildBinary(t, "cmd/rollwave"), env, args...)
			if code != 0 {
				t.Fatalf("plan: exit %d: %s", code, stderr)
			}
			var plan planReport
			if err := json.Unmarshal([]byte(stdout), &plan); err != nil || plan.Forecast == nil {
				t.Fatalf("plan -o json: %v, forecast %v", err, plan.Forecast)
			}
			forecast := plan.Forecast.rolloutSummary

			if r := runCLI(t, envMap, "", "scan"); r.code != 0 {
				t.Fatalf("scan: exit %d: %s", r.code, r.stderr)
			}
			records := waitRolloutOver(t, cfg, prefix, 10*time.Minute)
			rep, err := fleet.Report(ctx)
			if err != nil {
				t.Fatal(err)
			}
			actual := summarize(records, rep, nil)

			t.Logf("makespan: forecast %s, actual %s", forecast.Makespan, actual.Makespan)
			if actual.MakespanSeconds == 0 {
				t.Fatalf("the rollout updated nothing: %+v", actual)
			}
			if off := math.Abs(forecast.MakespanSeconds-actual.MakespanSeconds) / actual.MakespanSeconds; off > 0.15 {
				t.Errorf("forecast makespan %s is %.0f %% off the actual %s (at most 15 %%)", forecast.Makespan, off*100, actual.Makespan)
			}
			if diff := cmp.Diff(outcomes(actual), outcomes(forecast)); diff != "" {
				t.Errorf("outcomes per instance (-actual +forecast):\n%s", diff)
			}
			if diff := cmp.Diff(waitReasons(actual), waitReasons(forecast)); diff != "" {
				t.Errorf("why drains waited (-actual +forecast):\n%s", diff)
			}
			if diff := cmp.Diff(lowest(actual), lowest(forecast)); diff != "" {
				t.Errorf("lowest running count per service (-actual +forecast):\n%s", diff)
			}
			reasons := waitReasons(actual)
			for _, want := range tc.wantWaits {
				if !slices.ContainsFunc(reasons, func(r string) bool { return strings.HasSuffix(r, " "+want) }) {
					t.Errorf("the rollout's drains never waited for %s (%v): the fleet does not test it", want, reasons)
				}
			}
			for _, want := range tc.wantSkipped {
				if !slices.ContainsFunc(outcomes(actual), func(o string) bool { return strings.HasSuffix(o, "skipped "+want) }) {
					t.Errorf("no instance was skipped for %s (%v): the fleet does not test it", want, outcomes(actual))
				}
			}
			if len(rep.LeftDraining) > 0 || len(forecast.Unfinished) > 0 {
				t.Errorf("left draining %v; forecast unfinished %v", rep.LeftDraining, forecast.Unfinished)
			}
		})
	}
}

// windowOpeningIn is a daily maintenance window that opens d after now and stays open for an
// hour.
func windowOpeningIn(now time.Time, d time.Duration) string {
	open := now.UTC().Add(d)
	return fmt.Sprintf("daily %s-%s UTC", open.Format("15:04:05"), open.Add(time.Hour).Format("15:04:05"))
}

// waitRolloutOver waits until the deployment's rollout is over: every job that started has
// ended (its history says so) and no work queue holds a message, on three looks in a row (a
// job moving between queues is in one of them). It returns the history.
func waitRolloutOver(t *testing.T, cfg aws.Config, prefix string, within time.Duration) []history.Record {
	t.Helper()
	ctx := t.Context()
	reader := history.NewReader(cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.HTTPClient = history.IntegerTimestamps(o.HTTPClient)
	}), topology.HistoryLogGroup(prefix))
	client := sqs.NewFromConfig(cfg)
	topo := topology.Default(prefix)
	var records []history.Record
	quiet := 0
	harness.Eventually(t, within, func() (bool, string) {
		var err error
		if records, err = reader.Read(ctx, history.Query{Since: time.Now().Add(-time.Hour)}); err != nil {
			return false, err.Error()
		}
		started, open := 0, map[string]bool{}
		for _, r := range records {
			switch {
			case r.Event == notify.InstanceUpdateStarted:
				started++
				open[r.JobID] = true
			case r.Ended():
				delete(open, r.JobID)
			}
		}
		if started == 0 || len(open) > 0 {
			quiet = 0
			return false, fmt.Sprintf("%d jobs started, %d open", started, len(open))
		}
		for _, q := range topo.Queues {
			if len(topo.RulesTargeting(q.Logical)) > 0 {
				continue // an event queue
			}
			if n := messages(ctx, client, q.Name); n != 0 {
				quiet = 0
				return false, fmt.Sprintf("%s holds %d messages", q.Name, n)
			}
		}
		quiet++
		return quiet >= 3, fmt.Sprintf("quiet %d time(s)", quiet)
	})
	return records
}

// messages counts the messages in queue name, visible, in flight or delayed; -1 when unknown.
func messages(ctx context.Context, client *sqs.Client, name string) int {
	url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return -1
	}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return -1
	}
	n := 0
	for _, v := range out.Attributes {
		c, err := strconv.Atoi(v)
		if err != nil {
			return -1
		}
		n += c
	}
	return n
}

// outcomes are "cluster/instance outcome reason" of every instance, sorted.
func outcomes(s rolloutSummary) []string {
	var out []string
	for _, in := range s.Instances {
		out = append(out, strings.TrimSpace(in.Cluster+"/"+in.EC2InstanceID+" "+in.Outcome+" "+in.Reason))
	}
	slices.Sort(out)
	return out
}

// waitReasons are "cluster reason" of every wait the drainer reported (longer than its
// threshold), sorted.
func waitReasons(s rolloutSummary) []string {
	var out []string
	for _, w := range s.Waits {
		if w.Reported > 0 {
			out = append(out, w.Cluster+" "+w.Reason)
		}
	}
	slices.Sort(out)
	return out
}

// lowest is "cluster/service lowest" of every service.
func lowest(s rolloutSummary) []string {
	var out []string
	for _, sv := range s.Services {
		out = append(out, fmt.Sprintf("%s/%s %d (floor %d)", sv.Cluster, sv.Service, sv.MinRunning, sv.Floor))
	}
	slices.Sort(out)
	return out
}
