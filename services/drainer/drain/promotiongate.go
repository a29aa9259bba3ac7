package drain

import (
	"context"
	"time"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// promotionState is what the promotion gate reads and writes (*promotionStore).
type promotionState interface {
	Plan() promotion.Plan
	Earlier(ctx context.Context, stage int, p update.Promotion) ([]promotion.Earlier, error)
	RecordHalt(ctx context.Context, h promotion.Halt) (bool, error)
}

// promotionGate holds a job of a staged promotion (ROLLWAVE_STAGES) until every stage before its
// own has taken its version and baked (promotion.Check): its instance stays staged and in
// service. A job of the first stage, of a cluster in no stage, without a promotion (written by
// hand) or a rollback passes. A bake holds the job until it ends; anything else (a stage still
// updating, a halt) until ROLLWAVE_ADMISSION_RETRY, as does a state that cannot be read.
//
// A failure in an earlier stage, or a gate alarm in ALARM while it bakes, halts the promotion of
// the version there: the gate records the halt (a tag of the drainer's queue) and, the first
// time, announces it ("Promotion Halted", the PromotionsHalted metric). A dry run records
// nothing.
func (d *drainer) promotionGate(ctx context.Context, l *look) (verdict, error) {
	if d.promotion == nil || l.job.LockVersion || l.job.Promotion == nil {
		return admit(""), nil
	}
	stage, ok := d.promotion.Plan().StageOf(l.job.Cluster)
	if !ok || stage == 0 {
		return admit(""), nil
	}
	earlier, err := d.promotion.Earlier(ctx, stage, *l.job.Promotion)
	if err != nil {
		return holdFor(update.WaitPromotion, wakeNever, "promotion state unknown: "+err.Error()), nil
	}
	// The gate alarms of the earlier stages: the deployment's and their clusters' own.
	var firing []string
	if sels := d.alarmSelectors(d.promotion.Plan().ClustersBefore(stage)...); len(sels) > 0 {
		if firing, err = d.alarms.firing(ctx, sels); err != nil {
			return holdFor(update.WaitPromotion, wakeNever, "gate alarm state unknown during a bake: "+err.Error()), nil
		}
	}
	v := promotion.Check(l.job.TargetVersion, l.job.Promotion.Started, earlier, firing, l.now)
	if v.Halt != nil && !l.rehearsal {
		if err := d.haltPromotion(ctx, *v.Halt, l.job.ID); err != nil {
			// The hold stands; the next look finds the failure or the alarm again.
			queue.Logger(ctx).Warn().Err(err).Str("stage", v.Halt.Stage).Msg("record the promotion's halt")
		}
	}
	switch {
	case v.Go:
		return admit(v.Why), nil
	case !v.Until.IsZero():
		h := holdFor(update.WaitPromotion, wakeAt, v.Why)
		h.at = v.Until
		return h, nil
	}
	return holdFor(update.WaitPromotion, wakeNever, v.Why), nil
}

// haltPromotion records h and, when this call recorded it, announces it.
func (d *drainer) haltPromotion(ctx context.Context, h promotion.Halt, jobID string) error {
	recorded, err := d.promotion.RecordHalt(ctx, h)
	if err != nil || !recorded {
		return err
	}
	queue.Logger(ctx).Warn().Str("stage", h.Stage).Str("target_version", h.Version).Str("reason", h.Reason).Str("cluster", h.Cluster).
		Msg("promotion halted: " + h.Message)
	d.metrics.Record(metrics.Counted(metrics.PromotionsHalted, h.At, map[string]string{metrics.Stage: h.Stage, metrics.Reason: h.Reason}))
	detail := notify.PromotionHaltedDetail{Stage: h.Stage, Version: h.Version, Reason: h.Reason, Cluster: h.Cluster, Message: h.Message, JobID: jobID, At: h.At.UTC().Truncate(time.Second)}
	return d.promotionEvents.Publish(ctx, notify.PromotionHalted, detail)
}
