package scan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
)

// markedFilter selects, on the server, the instances that some job marked, except those a person
// opted out: rollwave never touches them, not even to return them to service.
const markedFilter = "attribute:" + update.AttrJob + " exists and attribute:" + update.AttrOptOut + " !exists"

// reclaimECS is what the reclaimer needs of ECS (*cluster.Client, clustertest.Fake): list the
// marked instances, read one again just before acting, re-activate it, and change its marks.
type reclaimECS interface {
	instanceLister
	jobs.InstanceGetter
	jobs.StateSetter
	jobs.Marks
}

// reclaimer takes back instances whose job was lost. The marks on an instance are the lock, and
// only the job's message ever removes them; when the message is lost (a queue purged or
// recreated, its retention run out), nothing else would, and the scanner's filter would never
// see the instance again. Every job's marks carry a lease (rollwave.lease) that the worker
// holding the job renews; the reclaimer, run by the scanner on every cluster it scans before it
// looks for candidates, decides by update.Reclaimable: an instance whose lease expired long ago
// has its staged update cancelled (best effort), is set ACTIVE if rollwave drained it, loses its
// marks, and is announced as "Instance Reclaimed"; the scan that follows sends it a fresh job.
type reclaimer struct {
	ecs       reclaimECS
	commands  ssmcommand.Runner
	events    jobs.Publisher
	metrics   metrics.Recorder
	checkDoc  string
	cancelDoc string
	ssm       ssmcommand.Options
	// lease is ROLLWAVE_LEASE: the length of the leases the workers write.
	lease time.Duration
	now   func() time.Time
}

// reclaimCluster reclaims the orphaned instances of a cluster and adopts those marked without a
// lease, and returns how many it reclaimed. A dry run only logs what it would do. An instance
// that cannot be reclaimed now (a transient error) is logged and left for the next scan; the
// error returned is the listing's.
func (r *reclaimer) reclaimCluster(ctx context.Context, clusterName string, dryRun bool) (int, error) {
	marked, err := r.ecs.ListInstances(ctx, clusterName, "", markedFilter)
	if err != nil {
		return 0, fmt.Errorf("list marked instances of %s: %w", clusterName, err)
	}
	n := 0
	for _, in := range marked {
		log := queue.Logger(ctx).With().Str("cluster", clusterName).Str("instance", in.EC2InstanceID).
			Str("instance_arn", in.ARN).Str("job", in.Attributes[update.AttrJob]).Logger()
		dec := update.Reclaimable(in.Claim(), r.now(), r.lease)
		switch {
		case dec.Action == update.Keep:
			continue
		case dryRun:
			log.Info().Str("action", string(dec.Action)).Msg("dry run: would " + string(dec.Action) + ": " + dec.Reason)
			continue
		case dec.Action == update.Adopt:
			err = r.adopt(ctx, clusterName, in)
		default:
			err = r.reclaim(ctx, clusterName, in.ARN)
			if err == nil {
				n++
			}
		}
		if errors.Is(err, errKept) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			log.Warn().Err(err).Msg("not reclaimed now; the next scan tries again")
		}
	}
	return n, nil
}

// errKept says that an instance read again just before its reclaim is held after all.
var errKept = errors.New("kept: a worker holds its job")

// adopt gives a lease to an instance marked by a worker of an older version, which wrote none.
func (r *reclaimer) adopt(ctx context.Context, clusterName string, in cluster.Instance) error {
	v := update.LeaseValue(r.now(), r.lease)
	if err := r.ecs.PutAttributes(ctx, clusterName, in.ARN, map[string]string{update.AttrLease: v}); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	queue.Logger(ctx).Info().Str("cluster", clusterName).Str("instance", in.EC2InstanceID).Str("job", in.Attributes[update.AttrJob]).
		Str("lease", v).Msg("marked without a lease (by an older version): lease written; reclaimed if nobody renews it")
	return nil
}

// reclaim takes back one instance. It reads the instance again and decides again first, so that
// a worker that renewed the lease since the listing keeps it. What it undoes, in order: the staged
// update is cancelled if the host has it Ready (best effort: a host that does not answer keeps
// it, and the fresh job stages over it); the instance is set ACTIVE if rollwave drained it (an
// error keeps the marks, for the next scan); then the event, and last the marks, so that an
// event is never lost (a retry may publish it twice).
func (r *reclaimer) reclaim(ctx context.Context, clusterName, arn string) error {
	in, err := r.ecs.Instance(ctx, clusterName, arn)
	if err != nil {
		return fmt.Errorf("read again: %w", err)
	}
	dec := update.Reclaimable(in.Claim(), r.now(), r.lease)
	if dec.Action != update.Reclaim {
		return errKept
	}
	log := queue.Logger(ctx).With().Str("cluster", clusterName).Str("instance", in.EC2InstanceID).
		Str("instance_arn", in.ARN).Str("job", in.Attributes[update.AttrJob]).Logger()
	d := notify.ReclaimedDetail{
		Cluster: clusterName, ContainerInstanceARN: in.ARN, EC2InstanceID: in.EC2InstanceID,
		JobID: in.Attributes[update.AttrJob], Stage: in.Attributes[update.AttrStage],
		LeaseExpiredAt: dec.Expired.UTC(), Message: dec.Reason,
	}
	if dec.Undo.CancelUpdate && in.EC2InstanceID != "" {
		cancelled, err := r.cancel(ctx, in.EC2InstanceID)
		if err != nil {
			log.Warn().Err(err).Msg("staged update not cancelled (best effort); reclaiming anyway")
		}
		d.UpdateCancelled = cancelled
	}
	if dec.Undo.Reactivate {
		failures, err := r.ecs.SetState(ctx, clusterName, []string{in.ARN}, cluster.StatusActive)
		if err != nil {
			return fmt.Errorf("re-activate: %w", err)
		}
		if reason, ok := failures[in.ARN]; ok {
			return fmt.Errorf("re-activate: ECS refused ACTIVE: %s", reason)
		}
		d.Reactivated = true
	}
	d.At = r.now().UTC()
	if err := r.events.Publish(ctx, notify.InstanceReclaimed, d, in.ARN); err != nil {
		return fmt.Errorf("announce reclaim: %w", err)
	}
	if err := r.ecs.DeleteAttributes(ctx, clusterName, in.ARN, update.AttrJob, update.AttrStage, update.AttrLease, update.AttrFailure); err != nil {
		return fmt.Errorf("unmark: %w", err)
	}
	metrics.Record(r.metrics, metrics.Counted(metrics.InstancesReclaimed, r.now(), map[string]string{metrics.Cluster: clusterName}))
	log.Warn().Str("stage", d.Stage).Bool("reactivated", d.Reactivated).Bool("update_cancelled", d.UpdateCancelled).
		Msg("instance reclaimed: " + dec.Reason)
	return nil
}

// cancel cancels the host's staged update if it is Ready (apiclient allows the cancel only
// then), and reports whether it did.
func (r *reclaimer) cancel(ctx context.Context, ec2ID string) (bool, error) {
	st, err := ssmcommand.Check(ctx, r.commands, r.checkDoc, ec2ID, r.ssm)
	if err != nil {
		return false, fmt.Errorf("check before cancel: %w", err)
	}
	if st.UpdateState != bottlerocket.StateReady {
		return false, nil
	}
	if err := ssmcommand.RunOne(ctx, r.commands, r.cancelDoc, ec2ID, r.ssm); err != nil {
		return false, fmt.Errorf("cancel staged update: %w", err)
	}
	return true, nil
}
