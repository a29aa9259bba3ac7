package drain

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

// delay is how long a job held by v waits before it looks again unless it is woken sooner: until
// the time it waits for (at most maxWindowWait, and a quarter lease, so that each look renews
// the lease and a window changed by a redeploy is noticed), the backstop for a wait that an
// event or a resume ends (park), the admission retry for one that nothing signals; each but the
// first with jitter, so that drainers that were held together do not claim together again.
func (d *drainer) delay(v verdict) time.Duration {
	switch v.wake {
	case wakeAt:
		wait := min(v.at.Sub(d.now()), maxWindowWait, update.MaxLeaseGap(d.lease.Duration))
		return max(wait, time.Second)
	case wakeReturn, wakeResume:
		return d.policy.AdmissionBackstop + d.jitter(d.policy.AdmissionBackstop)
	}
	return d.policy.AdmissionRetry + d.jitter(d.policy.AdmissionRetry)
}

// hold makes a job that may not drain now, for v, look again later (delay): it withdraws the
// job's claim if one was written (stage admitting, by this delivery or a crashed one), records
// the wait on the instance and warns about a long one (noteWait), in one write of the
// instance's attributes. v.why is logged and becomes the queue's retry reason.
func (d *drainer) hold(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage, v verdict, receipt string) (queue.Outcome, error) {
	attrs := map[string]string{}
	if stage == update.StageAdmitting {
		attrs[update.AttrStage] = string(update.StageStaged)
	}
	delay := d.noteWait(ctx, job, inst, v.hold, v.why, d.delay(v), attrs)
	if len(attrs) > 0 {
		if err := d.marks.PutAttributes(ctx, job.Cluster, inst.ARN, attrs); err != nil {
			return d.ender.EndIfGone(ctx, job, err)
		}
	}
	d.park(ctx, job, v, receipt, delay)
	queue.Logger(ctx).Info().Str("gate", v.gate).Str("reason", string(v.hold)).Dur("retry_in", delay).Msg("not admitted: " + v.why)
	return queue.RetryAfter(delay, v.why), nil
}

// noteWait records the wait of a job held for reason (why, for people) on its instance inst
// (jobs.Waits.Look): it adds rollwave.waiting to attrs, the instance's next write, when the wait
// begins, its reason changes or a warning is due, and logs the warning once the wait has lasted
// the threshold. It returns delay, shortened so that the job looks again when its next warning
// is due.
func (d *drainer) noteWait(ctx context.Context, job *update.Job, inst cluster.Instance, reason update.WaitReason, why string, delay time.Duration, attrs map[string]string) time.Duration {
	waits := jobs.Waits{Announcer: d.events, Metrics: d.metrics, Threshold: d.policy.WaitingThreshold, Now: d.now}
	n := waits.Look(ctx, job, inst, reason, why, delay)
	if n.Warn {
		waited := n.Waiting.Waited(d.now()).Round(time.Second)
		queue.Logger(ctx).Warn().Str("reason", string(reason)).Time("waiting_since", n.Waiting.Since).Dur("waited", waited).
			Msg(fmt.Sprintf("waiting %s to be admitted: %s", waited, why))
	}
	if n.Attr != "" {
		attrs[update.AttrWaiting] = n.Attr
	}
	// The hold itself is told once when the wait begins and once when its reason changes, never
	// per look; a failed publish leaves the wait unrecorded, so that the next look tells it again.
	if prev, _ := update.ParseWaiting(inst.Attributes[update.AttrWaiting]); prev.Reason != reason {
		if err := d.ender.Progressed(ctx, job, notify.DecisionHeld, string(reason), why); err != nil {
			queue.Logger(ctx).Warn().Err(err).Str("reason", string(reason)).Msg("publish the hold failed; the next look publishes it again")
			delete(attrs, update.AttrWaiting)
		}
	}
	return n.Delay
}

// endWait removes rollwave.waiting from inst once its job is admitted, and returns what the job's
// history notes about the wait ("" when it did not wait).
func (d *drainer) endWait(ctx context.Context, job *update.Job, inst cluster.Instance) (string, error) {
	w, ok, err := jobs.EndWait(ctx, d.marks, job, inst)
	if err != nil || !ok {
		return "", err
	}
	waited := w.Waited(d.now()).Round(time.Second)
	queue.Logger(ctx).Info().Str("reason", string(w.Reason)).Time("waiting_since", w.Since).Dur("waited", waited).Msg("admitted after waiting")
	return fmt.Sprintf("admitted after waiting %s since %s (last for: %s)", waited, w.Since.UTC().Format(time.RFC3339), w.Reason), nil
}

// park parks a job held by v until the event that ends its wait: an instance of its cluster
// (of any cluster, for the global limit) returning to service, or the end of its cluster's
// pause. The job's message waits hidden for delay, the backstop; a wake reveals it at once, so
// that the next receive, on any replica, looks at the job again. The entry lapses a tenth of
// delay before the message comes back by itself, so that a wake never reveals a message that
// another receive may already hold. Other holds are not parked: their delay is the wait.
func (d *drainer) park(ctx context.Context, job *update.Job, v verdict, receipt string, delay time.Duration) {
	if d.room == nil || receipt == "" {
		return
	}
	var key string
	switch {
	case v.wake == wakeResume:
		key = resumeKey + job.Cluster
	case v.wake == wakeReturn && v.hold == update.WaitGlobalLimit:
		key = wake.AnyCluster
	case v.wake == wakeReturn:
		key = wake.Key(job.Cluster)
	case v.wake == wakeSettle:
		key = wake.SettleKey(job.Cluster)
	default:
		d.room.Leave(job.ID)
		return
	}
	log := *queue.Logger(ctx)
	id := job.ID
	d.room.Park(key, id, d.now().Add(delay-delay/10), func() {
		// The wake comes from another message's handler: the reveal must not die with it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := queue.Reveal(ctx, d.visibility, d.queueURL, receipt); err != nil {
			log.Debug().Err(err).Str("woken", id).Msg("wake of a held job failed; its backstop brings it back")
			return
		}
		log.Info().Str("woken", id).Str("reason", string(v.hold)).Msg("held job woken")
	})
}

// resumeKey prefixes the Room key of the jobs that wait for the end of their cluster's pause.
const resumeKey = "resume:"

// watchResumes wakes the jobs that wait for the end of a pause once it has ended: every
// interval, while any job waits for one, it asks the pause cache (one read of the queue's tags
// per interval, whatever the number of jobs) and wakes every job of a cluster no longer paused.
// It returns when ctx is cancelled.
func (d *drainer) watchResumes(ctx context.Context, interval time.Duration) {
	if d.room == nil || d.pauses == nil {
		return
	}
	t := clock.OrReal(d.clock).NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		for _, key := range d.room.Keys() {
			name, ok := strings.CutPrefix(key, resumeKey)
			if !ok {
				continue
			}
			if _, paused, err := d.pauses.Paused(ctx, name); err == nil && !paused {
				d.room.Wake(key, d.room.Parked(key))
			}
		}
	}
}
