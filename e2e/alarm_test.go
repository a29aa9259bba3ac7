package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// drainsStarted counts the instances of r that have been marked draining.
func drainsStarted(r admin.Report) int {
	n := 0
	for _, in := range r.Instances {
		if _, ok := attributeSet(r, in.EC2InstanceID, update.AttrStage, string(update.StageDraining)); ok {
			n++
		}
	}
	return n
}

// TestAlarmHaltsAndResumes: a gate alarm set to ALARM once the first drain began halts the
// cluster's rollout ("Cluster Rollout Halted", reason alarm): the drain under way finishes, no
// other starts, and the held jobs wait with reason alarm; set back to OK, the rollout resumes by
// itself and every host is updated. The alarm is the deployment's (ROLLWAVE_ALARM_PREFIX) or the
// cluster's own (alarmPrefix in its policy).
func TestAlarmHaltsAndResumes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		setting func(prefix string) string
	}{
		{"the deployment's", func(prefix string) string { return "ROLLWAVE_ALARM_PREFIX=" + prefix }},
		{"the cluster's own", func(prefix string) string {
			return `ROLLWAVE_CLUSTER_POLICIES={"alarmgate": {"alarmPrefix": "` + prefix + `"}}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alarmHaltsAndResumes(t, tc.setting)
		})
	}
}

func alarmHaltsAndResumes(t *testing.T, setting func(prefix string) string) {
	prefix := fmt.Sprintf("alarmgate-%x-", time.Now().UnixNano()) // alarms of the shared moto are the test run's own
	p := startPipeline(t, "testdata/alarm.yaml", "ROLLWAVE_ALARM_REFRESH=500ms", "ROLLWAVE_WAITING_THRESHOLD=2s",
		setting(prefix))
	cw := metrics.NewClient(p.stack.AWSConfig(t.Context()))
	name := prefix + "web-5xx"
	if _, err := cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), Namespace: aws.String("app"), MetricName: aws.String("Errors"),
		Statistic: types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: types.ComparisonOperatorGreaterThanOrEqualToThreshold,
	}); err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	setState := func(state types.StateValue) {
		t.Helper()
		if _, err := cw.SetAlarmState(t.Context(), &cloudwatch.SetAlarmStateInput{
			AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(t.Name()),
		}); err != nil {
			t.Fatalf("SetAlarmState(%s): %v", state, err)
		}
	}
	res := p.newResults()
	p.scan()
	ids := sortedIDs(p.instances()["alarmgate"])
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		return drainsStarted(p.report()) > 0, "no drain has started yet"
	})
	setState(types.StateValueAlarm)
	fired := time.Now()

	var halted, waiting bool
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		for _, e := range res.all {
			halted = halted || e.DetailType == notify.ClusterRolloutHalted
			waiting = waiting || e.DetailType == notify.InstanceUpdateWaiting && e.Reason == string(update.WaitAlarm)
		}
		return halted, "no Cluster Rollout Halted event yet"
	})
	t.Logf("Cluster Rollout Halted seen %s (real) after the alarm was set to ALARM", time.Since(fired).Round(100*time.Millisecond))
	held := drainsStarted(p.report())
	// The held jobs warn once they have waited ROLLWAVE_WAITING_THRESHOLD: by then no new drain
	// may have started.
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		for _, e := range res.all {
			waiting = waiting || e.DetailType == notify.InstanceUpdateWaiting && e.Reason == string(update.WaitAlarm)
		}
		return waiting, "no job warned that it waits for the alarm yet"
	})
	if n := drainsStarted(p.report()); n != held || n >= len(ids) {
		t.Errorf("%d drains started while the alarm was in ALARM (%d when the halt was announced), want none new and hosts left", n, held)
	}

	setState(types.StateValueOk)
	ended := res.waitEnded(240*time.Second, ids)
	for _, id := range ids {
		if e := ended[id]; e.DetailType != notify.InstanceUpdateSucceeded {
			t.Errorf("%s ended %s (%s), want succeeded once the alarm was OK", id, e.DetailType, e.Message)
		}
	}
	p.checkNoDeadLetters()
}
