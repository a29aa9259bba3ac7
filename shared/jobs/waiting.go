package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// Waiting publishes "Instance Update Waiting" for a job held before admission since w.Since,
// for w.Reason; message says why for people. Waits calls it once per wait, at its first
// warning (update.Waiting.Look); an error is the caller's to retry at its next look.
func (e *Ender) Waiting(ctx context.Context, job *update.Job, w update.Waiting, message string) error {
	var resources []string
	if job.ContainerInstanceARN != "" {
		resources = append(resources, job.ContainerInstanceARN)
	}
	d := jobDetail(ctx, *job, e.Now())
	d.Reason, d.Message, d.WaitingSince = string(w.Reason), message, w.Since.UTC()
	return e.Events.Publish(ctx, notify.InstanceUpdateWaiting, d, resources...)
}

// WaitAnnouncer publishes "Instance Update Waiting" (*Ender).
type WaitAnnouncer interface {
	Waiting(ctx context.Context, job *update.Job, w update.Waiting, message string) error
}

// Waits keeps the record of jobs held before their step may go on (the drainer's admission, the
// patcher's wait for its wave): the instance's rollwave.waiting, the warnings once a wait lasts,
// the JobsWaiting count and the "Instance Update Waiting" announcement.
type Waits struct {
	Announcer WaitAnnouncer    // nil announces nothing
	Metrics   metrics.Recorder // nil records nothing
	// Threshold is how long a job may wait before a warning, and then how often it is warned
	// about again.
	Threshold time.Duration
	Now       func() time.Time
}

// WaitNote is what one look at a held job decided (Waits.Look).
type WaitNote struct {
	// Waiting is the wait as it stands after the look.
	Waiting update.Waiting
	// Attr is the rollwave.waiting value for the instance's next write, "" when the instance
	// already records the wait as it stands.
	Attr string
	// Warn says that the wait has lasted the threshold and this look warns: the caller logs its
	// warning line.
	Warn bool
	// Delay is the caller's delay, shortened so that the job looks again when its next warning
	// is due.
	Delay time.Duration
}

// Look records one look at a job held for reason (why says it for people) on its instance inst,
// whose rollwave.waiting says since when it waits (none, or a value that does not parse, starts
// the wait). Once the wait has lasted the threshold it counts the job in JobsWaiting and,
// the first time, announces the wait (update.Waiting.Look); then again every threshold.
//
// The announcement comes before the write that records it (the caller's, with Attr): a failed
// write announces again at the next look rather than never. A failed announcement is logged and
// not recorded, so the next look announces again; it never holds the job longer.
func (ws Waits) Look(ctx context.Context, job *update.Job, inst cluster.Instance, reason update.WaitReason, why string, delay time.Duration) WaitNote {
	now := ws.Now()
	prev, _ := update.ParseWaiting(inst.Attributes[update.AttrWaiting])
	look := prev.Look(reason, now, ws.Threshold)
	w := look.Waiting
	if look.Warn {
		if look.Announce && ws.Announcer != nil {
			if err := ws.Announcer.Waiting(ctx, job, w, why); err != nil {
				queue.Logger(ctx).Warn().Err(err).Str("reason", string(reason)).Msg("announce the wait failed; the next look announces it again")
				w.Warned = prev.Warned
			}
		}
		metrics.Record(ws.Metrics, metrics.Counted(metrics.JobsWaiting, now, map[string]string{metrics.Cluster: job.Cluster, metrics.Reason: string(reason)}))
	}
	n := WaitNote{Waiting: w, Warn: look.Warn, Delay: delay}
	if look.Changed {
		n.Attr = w.String()
	}
	// One second late rather than early: the attribute keeps whole seconds.
	if due := look.NextWarning.Sub(now) + time.Second; due < delay {
		n.Delay = max(due, time.Second)
	}
	return n
}

// EndWait removes rollwave.waiting from inst, the job's instance, once the job may go on, and
// returns the wait it recorded; ok is false when inst records none, or a value that does not
// parse (removed all the same).
func EndWait(ctx context.Context, marks Marks, job *update.Job, inst cluster.Instance) (w update.Waiting, ok bool, err error) {
	raw, found := inst.Attributes[update.AttrWaiting]
	if !found {
		return update.Waiting{}, false, nil
	}
	if err := marks.DeleteAttributes(ctx, job.Cluster, inst.ARN, update.AttrWaiting); err != nil {
		return update.Waiting{}, false, fmt.Errorf("clear %s: %w", update.AttrWaiting, err)
	}
	w, err = update.ParseWaiting(raw)
	return w, err == nil, nil
}
