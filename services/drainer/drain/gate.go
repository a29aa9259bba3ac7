package drain

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// GateHaltReason is the notify.HaltedDetail reason of a halt by a failed health gate.
const GateHaltReason = "health-gate"

// gateHaltedBy is the "who" of the pause a failed health gate sets.
const gateHaltedBy = "rollwave drainer"

// halter halts a cluster's rollout until a person resumes it: its pause tag on the drainer's
// queue and a "Cluster Rollout Halted" event (*clusterHalter).
type halter interface {
	Halt(ctx context.Context, d notify.HaltedDetail, reason string) error
}

// clusterHalter is the halter of the deployment: the tags of the drainer's queue and the bus.
type clusterHalter struct {
	tags     pause.TagQueueAPI
	queueURL string
	events   interface {
		Publish(ctx context.Context, detailType string, detail any, resources ...string) error
	}
}

// Halt publishes the event, then sets the pause (a failure after the event is retried and
// publishes again, so the event is never lost).
func (h *clusterHalter) Halt(ctx context.Context, d notify.HaltedDetail, reason string) error {
	if err := h.events.Publish(ctx, notify.ClusterRolloutHalted, d); err != nil {
		return fmt.Errorf("announce halt of cluster %s: %w", d.Cluster, err)
	}
	if err := pause.Set(ctx, h.tags, h.queueURL, d.Cluster, gateHaltedBy, reason); err != nil {
		return fmt.Errorf("halt cluster %s: %w", d.Cluster, err)
	}
	return nil
}

var _ pause.TagQueueAPI = (*sqs.Client)(nil)

// healthGateCheck is the health gate of the job's cluster (see update.Gate), when its policy
// enables it: it holds the job while the instances rollwave updated last, or the services, have
// not proven healthy (WaitHealthGate), and once the gate failed (WaitHalted). When the gate
// passes, the updated instances lose their verified-at: they were proven. When it has failed
// (past its deadline), the suspects are rolled back if the policy says so, the cluster halts,
// and the updated instances lose their marks (a rollback verified later marks its instance again
// for the gate after the resume). A rehearsal decides the same and writes nothing.
func (d *drainer) healthGateCheck(ctx context.Context, l *look) (verdict, error) {
	if !l.rules.HealthGate {
		return admit(""), nil
	}
	all, err := l.updated(ctx)
	if err != nil {
		return verdict{}, err
	}
	services, err := l.clusterServices(ctx)
	if err != nil {
		return verdict{}, err
	}
	updated := cluster.Updated(all)
	byName := make(map[string]cluster.Instance, len(all))
	for _, in := range all {
		byName[in.Name()] = in
	}
	v := update.Gate(cluster.Healths(services), updated, l.rules.HealthGateTimeout, l.now)
	clear := func() error {
		if l.rehearsal {
			return nil
		}
		for _, u := range updated {
			if err := d.marks.DeleteAttributes(ctx, l.job.Cluster, byName[u.Name].ARN, update.AttrVerifiedAt, update.AttrRollbackTo); err != nil {
				return fmt.Errorf("clear verified-at of %s: %w", u.Name, err)
			}
		}
		return nil
	}
	switch {
	case v.Open:
		return admit(""), clear()
	case !v.Expired:
		return holdFor(update.WaitHealthGate, wakeSettle, fmt.Sprintf("cluster %s: health gate: %s", l.job.Cluster, v.Why)), nil
	}
	if !l.rehearsal {
		if err := d.gateFailed(ctx, l.job, l.rules, v, byName); err != nil {
			return verdict{}, err
		}
	}
	return holdFor(update.WaitHalted, wakeResume, fmt.Sprintf("cluster %s: halted: health gate: %s", l.job.Cluster, v.Why)), clear()
}

// gateFailed sends a rollback job for each suspect when the policy enables rollback and the
// suspect's previous version is known, then halts the cluster. Every step is safe to repeat: a
// rollback job has an ID derived from the instance and its verified-at, so a second copy is the
// same job to the patcher.
func (d *drainer) gateFailed(ctx context.Context, job *update.Job, rules policy.Policy, v update.GateVerdict, byName map[string]cluster.Instance) error {
	log := queue.Logger(ctx)
	name := pause.ClusterName(job.Cluster)
	var instances, rolledBack []string
	for _, s := range v.Suspects {
		in := byName[s.Name]
		instances = append(instances, s.Name)
		to := in.Attributes[update.AttrRollbackTo]
		if !rules.Rollback || to == "" {
			continue
		}
		if err := d.sendRollback(ctx, job.Cluster, in, s, to, v.Why); err != nil {
			return err
		}
		rolledBack = append(rolledBack, s.Name+" to "+to)
		log.Warn().Str("suspect", s.Name).Str("version", to).Msg("health gate failed: rollback sent to the patcher")
	}
	msg := "health gate: " + v.Why
	if len(rolledBack) > 0 {
		msg += "; rolling back " + strings.Join(rolledBack, ", ")
	}
	slices.Sort(instances)
	detail := notify.HaltedDetail{
		Cluster: name, Reason: GateHaltReason, Instances: instances, JobIDs: []string{job.ID}, At: d.now().UTC(),
		Message: msg + ": no new drain starts until a person resumes the cluster (rollwave resume --cluster " + name + ")",
	}
	if d.halts == nil {
		return fmt.Errorf("halt cluster %s: no halter configured", name)
	}
	if err := d.halts.Halt(ctx, detail, msg); err != nil {
		return err
	}
	log.Warn().Msg("cluster halted: " + msg)
	return nil
}

// sendRollback sends the patcher a job that returns in to version to (lockVersion). Its ID has
// the one form of every job rollwave makes, derived from the instance and the update it undoes,
// so that a second halt over the same update sends the same job; a rollback is known by its
// requester, rollwave-drainer.
func (d *drainer) sendRollback(ctx context.Context, clusterName string, in cluster.Instance, s update.UpdatedInstance, to, why string) error {
	rb := update.Job{
		Schema: update.Schema, ID: update.JobIDFor(fmt.Sprintf("rollback/%s/%s/%d", clusterName, s.Name, s.VerifiedAt.Unix())),
		Cluster: clusterName, Instance: in.Name(), TargetVersion: to, LockVersion: true,
		RequestedBy: "rollwave-drainer", Reason: "health gate failed: roll back to " + to + " (" + why + ")",
		Step: update.StepStage,
	}
	if len(rb.Reason) > 1000 {
		rb.Reason = rb.Reason[:1000]
	}
	body, err := update.Encode(rb)
	if err != nil {
		return fmt.Errorf("encode rollback of %s: %w", s.Name, err)
	}
	if _, err := d.forward.Send(ctx, d.patcherURL, body, 0, nil); err != nil {
		return fmt.Errorf("send rollback of %s to the patcher: %w", s.Name, err)
	}
	return nil
}
