package alarm_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/tools/harness"
)

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func putAlarm(t *testing.T, cw *cloudwatch.Client, name string) {
	t.Helper()
	if _, err := cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), Namespace: aws.String("app"), MetricName: aws.String("Errors"),
		Statistic: types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: types.ComparisonOperatorGreaterThanOrEqualToThreshold,
	}); err != nil {
		t.Fatalf("PutMetricAlarm(%s): %v", name, err)
	}
}

func setState(t *testing.T, cw *cloudwatch.Client, name string, state types.StateValue) {
	t.Helper()
	if _, err := cw.SetAlarmState(t.Context(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String("test"),
	}); err != nil {
		t.Fatalf("SetAlarmState(%s, %s): %v", name, state, err)
	}
}

// TestFiringAgainstMoto: the watcher reports exactly the selected alarms in ALARM, by name and by
// prefix, and answers from its cache until the cache is older than its TTL.
func TestFiringAgainstMoto(t *testing.T) {
	s := harness.Start(t, harness.WithoutFleetsim())
	cw := metrics.NewClient(s.AWSConfig(t.Context()))
	p := s.Name("gate")
	for _, n := range []string{p + "-web-5xx", p + "-api-latency", p + "-other", "unrelated-" + p} {
		putAlarm(t, cw, n)
	}
	setState(t, cw, p+"-web-5xx", types.StateValueAlarm)
	setState(t, cw, "unrelated-"+p, types.StateValueAlarm)

	c := &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	w := alarm.New(cw, 10*time.Second, c.now)
	tests := []struct {
		name string
		sel  alarm.Selector
		want []string
	}{
		{"no selector, no gate", alarm.Selector{}, nil},
		{"by name: only the firing one", alarm.Selector{Names: []string{p + "-web-5xx", p + "-api-latency"}}, []string{p + "-web-5xx"}},
		{"by name, none firing", alarm.Selector{Names: []string{p + "-api-latency", p + "-missing"}}, nil},
		{"by prefix", alarm.Selector{Prefix: p + "-"}, []string{p + "-web-5xx"}},
		{"both, each once", alarm.Selector{Names: []string{p + "-web-5xx", "unrelated-" + p}, Prefix: p}, []string{p + "-web-5xx", "unrelated-" + p}},
	}
	for _, tt := range tests {
		got, err := w.Firing(t.Context(), tt.sel)
		if err != nil {
			t.Fatalf("%s: Firing(%v) = %v", tt.name, tt.sel, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Firing(%v) (-want +got):\n%s", tt.name, tt.sel, diff)
		}
	}

	sel := alarm.Selector{Prefix: p + "-"}
	setState(t, cw, p+"-web-5xx", types.StateValueOk)
	if got, _ := w.Firing(t.Context(), sel); len(got) != 1 {
		t.Errorf("Firing() within the TTL = %v, want the cached answer (one alarm)", got)
	}
	c.t = c.t.Add(10 * time.Second)
	if got, err := w.Firing(t.Context(), sel); err != nil || len(got) != 0 {
		t.Errorf("Firing() after the TTL = %v, %v, want none: the alarm is OK again", got, err)
	}
}

// TestFiringReportsAFailure: a call that fails is an error, never "nothing firing".
func TestFiringReportsAFailure(t *testing.T) {
	w := alarm.New(failing{}, time.Second, time.Now)
	if got, err := w.Firing(context.Background(), alarm.Selector{Prefix: "x"}); err == nil {
		t.Errorf("Firing() with CloudWatch failing = %v, nil, want an error", got)
	}
}

type failing struct{}

func (failing) DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return nil, context.DeadlineExceeded
}
