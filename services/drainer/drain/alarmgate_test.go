package drain

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

// watcher answers Firing with the alarms it was told, or err.
type watcher struct {
	firing []string
	err    error
}

func (w watcher) Firing(context.Context, alarm.Selector) ([]string, error) { return w.firing, w.err }

// published records the events the alarm gate publishes.
type published struct {
	mu    sync.Mutex
	types []string
}

func (p *published) Publish(_ context.Context, detailType string, _ any, _ ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.types = append(p.types, detailType)
	return nil
}

// withAlarms gives w's drainer the alarm gate with the watcher's answer and the policy halt.
func withAlarms(w *world, a watcher, halt string) *published {
	ev := &published{}
	w.d.alarms = &alarmGates{sel: alarm.Selector{Prefix: "web-"}, halt: halt, watcher: a, events: ev}
	w.d.extraGates = []gate{{name: "alarm", check: w.d.alarmGate}}
	return ev
}

func TestAlarmGate(t *testing.T) {
	testGate(t, named("alarm"), []gateRow{
		{rule: "no alarm in ALARM: the drain may start", setup: func(t *testing.T, w *world) { withAlarms(w, watcher{}, alarmResume) }, want: "admit"},
		{rule: "an alarm in ALARM holds every new drain", setup: func(t *testing.T, w *world) { withAlarms(w, watcher{firing: []string{"web-5xx"}}, alarmResume) },
			want: "hold alarm retry", wantWhy: "cluster " + testCluster + ": gate alarm in ALARM: web-5xx"},
		{rule: "an alarm state that cannot be read holds too", setup: func(t *testing.T, w *world) {
			withAlarms(w, watcher{err: errors.New("throttled")}, alarmResume)
		}, want: "hold alarm retry", wantWhy: "gate alarm state unknown"},
		{rule: "a rollback passes, as it passes the pause", rollback: true,
			setup: func(t *testing.T, w *world) { withAlarms(w, watcher{firing: []string{"web-5xx"}}, alarmResume) }, want: "admit"},
	})
}

// inAlarm is a watcher over an account whose alarms in ALARM are these: it answers each selector
// with the ones it selects, by name or by prefix, as CloudWatch would.
type inAlarm []string

func (a inAlarm) Firing(_ context.Context, sel alarm.Selector) ([]string, error) {
	var out []string
	for _, n := range a {
		if slices.Contains(sel.Names, n) || (sel.Prefix != "" && strings.HasPrefix(n, sel.Prefix)) {
			out = append(out, n)
		}
	}
	return out, nil
}

// withOwnAlarms gives w's drainer the deployment's gate alarms and a policy per cluster with
// alarms of its own, in an account whose alarms firing are in ALARM.
func withOwnAlarms(w *world, deployment alarm.Selector, own map[string]alarm.Selector, firing ...string) {
	w.d.alarms = &alarmGates{sel: deployment, halt: alarmResume, watcher: inAlarm(firing), events: &published{}}
	w.d.extraGates = []gate{{name: "alarm", check: w.d.alarmGate}}
	w.d.policies.Clusters = map[string]policy.Policy{}
	for c, sel := range own {
		p := w.d.policies.Default
		p.AlarmNames, p.AlarmPrefix = sel.Names, sel.Prefix
		w.d.policies.Clusters[c] = p
	}
}

// TestAClustersOwnAlarmsGateItAlone: a cluster's own gate alarms (alarmNames, alarmPrefix in
// ROLLWAVE_CLUSTER_POLICIES) hold its drains beside the deployment's, and hold no other
// cluster's.
func TestAClustersOwnAlarmsGateItAlone(t *testing.T) {
	none := alarm.Selector{}
	testGate(t, named("alarm"), []gateRow{
		{rule: "its own alarm in ALARM holds its drains", setup: func(t *testing.T, w *world) {
			withOwnAlarms(w, none, map[string]alarm.Selector{testCluster: {Names: []string{"api-5xx"}}}, "api-5xx")
		}, want: "hold alarm retry", wantWhy: "cluster " + testCluster + ": gate alarm in ALARM: api-5xx"},
		{rule: "another cluster's alarm in ALARM does not", setup: func(t *testing.T, w *world) {
			withOwnAlarms(w, none, map[string]alarm.Selector{testCluster: {Names: []string{"api-5xx"}}, "batch": {Prefix: "batch-"}}, "batch-lag")
		}, want: "admit"},
		{rule: "the deployment's and its own, each named once", setup: func(t *testing.T, w *world) {
			withOwnAlarms(w, alarm.Selector{Prefix: "web-"}, map[string]alarm.Selector{testCluster: {Prefix: "api-", Names: []string{"web-5xx"}}},
				"web-5xx", "api-p99", "batch-lag")
		}, want: "hold alarm retry", wantWhy: "cluster " + testCluster + ": gate alarm in ALARM: api-p99, web-5xx"},
		{rule: "none in ALARM: the drain may start", setup: func(t *testing.T, w *world) {
			withOwnAlarms(w, alarm.Selector{Prefix: "web-"}, map[string]alarm.Selector{testCluster: {Prefix: "api-"}}, "batch-lag")
		}, want: "admit"},
	})
}

// TestAlarmHaltsTheClusterOncePerWait: the look that begins a job's wait for an alarm announces
// the halt; the looks after it (the instance records the alarm wait) do not. Under the policy
// stay, the cluster is paused as well, so that only a person resumes it.
func TestAlarmHaltsTheClusterOncePerWait(t *testing.T) {
	for _, halt := range []string{alarmResume, alarmStay} {
		t.Run(halt, func(t *testing.T) {
			w := newWorld(t, defaultPolicy())
			h := &halts{}
			w.d.halts = h
			ev := withAlarms(w, watcher{firing: []string{"web-5xx"}}, halt)
			job, err := update.Decode(w.job(t))
			if err != nil {
				t.Fatal(err)
			}
			inst := w.instance(t, w.me.ARN)
			if v, _ := w.d.alarmGate(t.Context(), w.d.newLook(&job, inst, false)); v.hold != update.WaitAlarm {
				t.Fatalf("first look = %+v, want a hold for alarm", v)
			}
			inst.Attributes[update.AttrWaiting] = update.Waiting{Reason: update.WaitAlarm, Since: w.d.now()}.String()
			if _, err := w.d.alarmGate(t.Context(), w.d.newLook(&job, inst, false)); err != nil {
				t.Fatalf("second look: %v", err)
			}
			events, paused := len(ev.types), len(h.sent)
			if halt == alarmResume && (events != 1 || paused != 0) {
				t.Errorf("resume: %d events, %d pauses, want one Cluster Rollout Halted and no pause", events, paused)
			}
			if halt == alarmStay && (paused != 1 || h.sent[0].Reason != AlarmHaltReason) {
				t.Errorf("stay: pauses %+v, want one halt with reason %s", h.sent, AlarmHaltReason)
			}
		})
	}
}
