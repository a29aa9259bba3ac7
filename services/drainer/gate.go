package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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

// updatedInstances returns the instances of all that carry rollwave.verified-at: updated by
// rollwave and not yet confirmed healthy by a gate. A value that does not parse counts as
// verified at the zero time (long ago), so it cannot keep a gate waiting forever.
func updatedInstances(all []cluster.Instance) ([]update.UpdatedInstance, map[string]cluster.Instance) {
	var out []update.UpdatedInstance
	byName := map[string]cluster.Instance{}
	for _, in := range all {
		v, ok := in.Attributes[update.AttrVerifiedAt]
		if !ok {
			continue
		}
		at, _ := time.Parse(time.RFC3339, v)
		name := in.EC2InstanceID
		if name == "" {
			name = in.ARN
		}
		byName[name] = in
		out = append(out, update.UpdatedInstance{Name: name, VerifiedAt: at, Status: in.Status,
			AgentConnected: in.AgentConnected, Running: in.RunningTasks, Pending: in.PendingTasks})
	}
	return out, byName
}

// healthGate runs the health gate of cluster name (see update.Gate). It returns why the drain
// must wait (WaitHealthGate, or WaitHalted once the gate failed), or "" when it may go on. When
// the gate passes, the updated instances lose their verified-at: they were proven. When it has
// failed (past its deadline), the suspects are rolled back if the policy says so, the cluster
// halts, and the updated instances lose their marks (a rollback verified later marks its
// instance again for the gate after the resume).
func (d *drainer) healthGate(ctx context.Context, job *update.Job, rules policy.Policy, services []cluster.Service, all []cluster.Instance) (update.WaitReason, string, error) {
	views := make([]update.ServiceHealth, 0, len(services))
	for _, s := range services {
		views = append(views, update.ServiceHealth{Name: s.Name, Desired: s.Desired, Running: s.Running, Pending: s.Pending, Deployments: s.Deployments})
	}
	updated, byName := updatedInstances(all)
	v := update.Gate(views, updated, rules.HealthGateTimeout, d.now())
	switch {
	case v.Open:
		for _, u := range updated {
			if err := d.marks.DeleteAttributes(ctx, job.Cluster, byName[u.Name].ARN, update.AttrVerifiedAt, update.AttrRollbackTo); err != nil {
				return "", "", fmt.Errorf("clear verified-at of %s: %w", u.Name, err)
			}
		}
		return "", "", nil
	case !v.Expired:
		return update.WaitHealthGate, fmt.Sprintf("cluster %s: health gate: %s", job.Cluster, v.Why), nil
	}
	if err := d.gateFailed(ctx, job, rules, v, byName); err != nil {
		return "", "", err
	}
	for _, u := range updated {
		if err := d.marks.DeleteAttributes(ctx, job.Cluster, byName[u.Name].ARN, update.AttrVerifiedAt, update.AttrRollbackTo); err != nil {
			return "", "", fmt.Errorf("clear verified-at of %s: %w", u.Name, err)
		}
	}
	return update.WaitHalted, fmt.Sprintf("cluster %s: halted: health gate: %s", job.Cluster, v.Why), nil
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

// sendRollback sends the patcher a job that returns in to version to (lockVersion).
func (d *drainer) sendRollback(ctx context.Context, clusterName string, in cluster.Instance, s update.UpdatedInstance, to, why string) error {
	ref := in.EC2InstanceID
	if ref == "" {
		ref = in.ARN
	}
	rb := update.Job{
		Schema: update.Schema, ID: fmt.Sprintf("rollback-%s-%d", s.Name[strings.LastIndexByte(s.Name, '/')+1:], s.VerifiedAt.Unix()),
		Cluster: clusterName, Instance: ref, TargetVersion: to, LockVersion: true,
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
