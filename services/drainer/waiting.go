package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// waitAnnouncer publishes "Instance Update Waiting" (*pipeline.Ender).
type waitAnnouncer interface {
	Waiting(ctx context.Context, job *update.Job, w update.Waiting, message string) error
}

// noteWait records the wait of a job held for reason (why, for people) on its instance inst: it
// adds rollwave.waiting to attrs, the instance's next write, when the wait begins, its reason
// changes or a warning is due, and nothing on any other look. Once the wait has lasted the
// threshold it logs a warning with the reason, counts the job in JobsWaiting and, the first time,
// publishes "Instance Update Waiting"; then again every threshold (update.Waiting.Look). It
// returns delay, shortened so that the job looks again when its next warning is due.
//
// The announcement comes before the write that records it: a failed write announces again at the
// next look rather than never. A failed announcement is logged and not recorded, so the next look
// announces again; it never holds the job longer.
func (d *drainer) noteWait(ctx context.Context, job *update.Job, inst cluster.Instance, reason update.WaitReason, why string, delay time.Duration, attrs map[string]string) time.Duration {
	now := d.now()
	prev, _ := update.ParseWaiting(inst.Attributes[update.AttrWaiting]) // a value that does not parse starts the wait again
	look := prev.Look(reason, now, d.policy.WaitingThreshold)
	w := look.Waiting
	log := queue.Logger(ctx)
	if look.Warn {
		waited := w.Waited(now).Round(time.Second)
		if look.Announce && d.events != nil {
			if err := d.events.Waiting(ctx, job, w, why); err != nil {
				log.Warn().Err(err).Str("reason", string(reason)).Msg("announce the wait failed; the next look announces it again")
				w.Warned = prev.Warned
			}
		}
		log.Warn().Str("reason", string(reason)).Time("waitingSince", w.Since).Dur("waited", waited).
			Msg(fmt.Sprintf("waiting %s to be admitted: %s", waited, why))
		d.record(metrics.Counted(metrics.JobsWaiting, now, map[string]string{metrics.Cluster: job.Cluster, metrics.Reason: string(reason)}))
	}
	if look.Changed {
		attrs[update.AttrWaiting] = w.String()
	}
	// One second late rather than early: the attribute keeps whole seconds.
	if due := look.NextWarning.Sub(now) + time.Second; due < delay {
		delay = max(due, time.Second)
	}
	return delay
}

// endWait removes rollwave.waiting from inst once its job is admitted, and returns what the job's
// history notes about the wait ("" when it did not wait).
func (d *drainer) endWait(ctx context.Context, job *update.Job, inst cluster.Instance) (string, error) {
	raw, ok := inst.Attributes[update.AttrWaiting]
	if !ok {
		return "", nil
	}
	if err := d.marks.DeleteAttributes(ctx, job.Cluster, inst.ARN, update.AttrWaiting); err != nil {
		return "", fmt.Errorf("clear %s: %w", update.AttrWaiting, err)
	}
	w, err := update.ParseWaiting(raw)
	if err != nil {
		return "", nil
	}
	waited := w.Waited(d.now()).Round(time.Second)
	queue.Logger(ctx).Info().Str("reason", string(w.Reason)).Time("waitingSince", w.Since).Dur("waited", waited).Msg("admitted after waiting")
	return fmt.Sprintf("admitted after waiting %s since %s (last for: %s)", waited, w.Since.UTC().Format(time.RFC3339), w.Reason), nil
}
