package drain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// AlarmHaltReason is the notify.HaltedDetail reason of a halt by a gate alarm.
const AlarmHaltReason = "alarm"

// The ROLLWAVE_ALARM_HALT values: what a firing gate alarm does to a cluster's rollout.
const (
	// alarmResume holds the cluster's drains while an alarm is in ALARM and lets them go again
	// by itself once every alarm is back to OK.
	alarmResume = "resume"
	// alarmStay halts the cluster (its pause tag) when an alarm fires, until a person resumes it.
	alarmStay = "stay"
)

// firingAlarms answers which gate alarms are in ALARM (*alarm.Watcher).
type firingAlarms interface {
	Firing(ctx context.Context, sel alarm.Selector) ([]string, error)
}

// haltPublisher publishes "Cluster Rollout Halted" (*notify.Client).
type haltPublisher interface {
	Publish(ctx context.Context, detailType string, detail any, resources ...string) error
}

// alarmGates are the drainer's gate alarms: the deployment's (ROLLWAVE_ALARM_NAMES,
// ROLLWAVE_ALARM_PREFIX), which gate every cluster, beside each cluster's own (alarmNames,
// alarmPrefix of its policy); and what a firing one does (ROLLWAVE_ALARM_HALT).
type alarmGates struct {
	sel     alarm.Selector
	halt    string
	watcher firingAlarms
	events  haltPublisher
}

// alarmSelectors are the gate alarms of clusters: the deployment's and each cluster's own.
func (d *drainer) alarmSelectors(clusters ...string) []alarm.Selector {
	if d.alarms == nil {
		return nil
	}
	var out []alarm.Selector
	if !d.alarms.sel.IsZero() {
		out = append(out, d.alarms.sel)
	}
	for _, c := range clusters {
		p := d.rules(c)
		if own := (alarm.Selector{Names: p.AlarmNames, Prefix: p.AlarmPrefix}); !own.IsZero() {
			out = append(out, own)
		}
	}
	return out
}

// firing returns the alarms of sels in ALARM, sorted, each once. Each selector's answer is the
// watcher's, cached for every job that asks within ROLLWAVE_ALARM_REFRESH.
func (g *alarmGates) firing(ctx context.Context, sels []alarm.Selector) ([]string, error) {
	var out []string
	for _, sel := range sels {
		f, err := g.watcher.Firing(ctx, sel)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// alarmGate holds the job while one of its cluster's gate alarms (the deployment's or the
// cluster's own) is in ALARM: no new drain starts then,
// while the drains already admitted finish. An alarm state that cannot be read holds the job too
// (unknown is not "go"). A rollback passes, as it passes the pause: it is how a cluster recovers.
//
// When the job's wait for an alarm begins (its instance recorded no alarm wait before), the
// cluster's rollout is announced halted ("Cluster Rollout Halted", reason alarm); under
// ROLLWAVE_ALARM_HALT=stay the cluster is also paused (d.halts), so that only a person resumes it.
func (d *drainer) alarmGate(ctx context.Context, l *look) (verdict, error) {
	sels := d.alarmSelectors(l.job.Cluster)
	if len(sels) == 0 || l.job.LockVersion {
		return admit(""), nil
	}
	firing, err := d.alarms.firing(ctx, sels)
	if err != nil {
		return holdFor(update.WaitAlarm, wakeNever, "gate alarm state unknown: "+err.Error()), nil
	}
	if len(firing) == 0 {
		return admit(""), nil
	}
	why := fmt.Sprintf("cluster %s: gate alarm in ALARM: %s", l.job.Cluster, strings.Join(firing, ", "))
	if prev, _ := update.ParseWaiting(l.inst.Attributes[update.AttrWaiting]); !l.rehearsal && prev.Reason != update.WaitAlarm {
		if err := d.haltForAlarm(ctx, l.job.Cluster, why, l.now); err != nil {
			// The hold stands; the next look announces again, as its wait is not recorded yet.
			queue.Logger(ctx).Warn().Err(err).Msg("announce the alarm halt")
		}
	}
	return holdFor(update.WaitAlarm, wakeNever, why), nil
}

// haltForAlarm announces that cluster's rollout halts for a firing alarm, and under the policy
// stay pauses it.
func (d *drainer) haltForAlarm(ctx context.Context, cluster, why string, now time.Time) error {
	detail := notify.HaltedDetail{Cluster: cluster, Reason: AlarmHaltReason, Message: why, At: now.UTC()}
	if d.alarms.halt == alarmStay {
		return d.halts.Halt(ctx, detail, AlarmHaltReason+": "+why)
	}
	if err := d.alarms.events.Publish(ctx, notify.ClusterRolloutHalted, detail); err != nil {
		return fmt.Errorf("announce the alarm halt of cluster %s: %w", cluster, err)
	}
	return nil
}
