package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/update"
)

var instancesReleaseCommand = command{
	name:    "instances release",
	summary: "return a failed, parked instance to service once a person has looked at it",
	usage:   "(i-… | ARN) [--cluster C ...] [-o text|json|table] [--query Q]",
	help: `
A job that fails after the drain leaves its instance out of service (rollwave.stage=failed, its
reason in rollwave.failure), counted against the cluster's limit, until a person has looked at
it; rollwave never puts it back by itself. Once you have, release sets it ACTIVE in ECS (unless
it is already) and removes its marks: rollwave.job, rollwave.stage, rollwave.failure,
rollwave.lease and rollwave.waiting. The next scan then treats it like any other instance.

It refuses an instance that a job owns and has not failed (let the job end: 'rollwave jobs
describe' says where it is) and one that rollwave did not park (DRAINING with no rollwave marks:
someone else drained it). It leaves the host's version lock as the policy set it: under
onVerifyFailure "return" the host stays pinned to the version it rolled back to
(settings.updates.version-lock); clear the pin on the host once a fixed release is out.

An instance is looked for in the clusters of --cluster, else $ROLLWAVE_CLUSTERS, else every
cluster of the region; one found nowhere is exit 3.

Examples:
  rollwave instances release i-0123456789abcdef0
  rollwave instances release i-0123456789abcdef0 --cluster prod -o json
`,
	run: runInstancesRelease,
}

// releaseResult is the document of instances release -o json.
type releaseResult struct {
	Cluster              string `json:"cluster"`
	EC2InstanceID        string `json:"ec2InstanceId"`
	ContainerInstanceARN string `json:"containerInstanceArn"`
	// Job and Failure are the failed job and its reason code, as the marks said.
	Job     string `json:"job,omitempty"`
	Failure string `json:"failure,omitempty"`
	// StatusBefore is the ECS status it had; Status the one it has now.
	StatusBefore string `json:"statusBefore"`
	Status       string `json:"status"`
	// Cleared are the attributes removed.
	Cleared []string `json:"cleared"`
	// AgentConnected false means ECS places no task on it yet, whatever its status.
	AgentConnected bool `json:"agentConnected"`
}

// releasedMarks are the attributes release removes: every mark of a job.
var releasedMarks = []string{update.AttrJob, update.AttrStage, update.AttrFailure, update.AttrLease, update.AttrWaiting}

func runInstancesRelease(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "look for the instance in this cluster (repeatable, or comma-separated)")
	out := a.outputFlags(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("%s needs exactly one instance, got %d arguments", c.name, len(args))
	}
	id := args[0]
	if !update.IsEC2InstanceID(id) && !update.IsContainerInstanceARN(id) {
		return usagef("%s: %q is neither an EC2 instance ID (i-0123456789abcdef0) nor a container instance ARN", c.name, id)
	}
	if len(clusters) == 0 {
		_ = clusters.Set(a.getenv("ROLLWAVE_CLUSTERS")) // a stringList takes any value
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	cl, err := a.aws(ctx)
	if err != nil {
		return err
	}
	now, err := a.findInstance(ctx, clusters, id)
	if err != nil {
		return err
	}
	if now == nil {
		return notFoundf("instance %s is not registered in %s", id, orDefault(strings.Join(clusters, ", "), "any cluster of "+cl.cfg.Region))
	}
	in, err := cl.ecs.Instance(ctx, now.Cluster, now.ContainerInstanceARN)
	if err != nil {
		return fmt.Errorf("read instance %s: %w", id, err)
	}
	r := releaseResult{Cluster: now.Cluster, EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN, Job: now.Job,
		Failure: now.Failure, StatusBefore: in.Status, Status: in.Status, Cleared: []string{}, AgentConnected: in.AgentConnected}
	switch {
	case now.Job != "" && now.Stage != string(update.StageFailed):
		return fmt.Errorf("%s: job %s owns %s (stage %s): release returns only an instance whose job failed; let the job end (rollwave jobs describe %s)",
			c.name, now.Job, id, orDefault(now.Stage, "-"), now.Job)
	case now.Stage != string(update.StageFailed) && in.Status != cluster.StatusActive:
		return fmt.Errorf("%s: %s is %s but rollwave did not park it (no rollwave.stage=failed): someone else drained it; set it ACTIVE in ECS yourself if that is right",
			c.name, id, in.Status)
	}
	if in.Status != cluster.StatusActive {
		failures, err := cl.ecs.SetState(ctx, now.Cluster, []string{in.ARN}, cluster.StatusActive)
		if err != nil {
			return fmt.Errorf("set %s ACTIVE: %w", id, err)
		}
		if why := failures[in.ARN]; why != "" {
			return fmt.Errorf("set %s ACTIVE: ECS refused: %s (its marks are left as they were)", id, why)
		}
		r.Status = cluster.StatusActive
	}
	var present []string
	for _, m := range releasedMarks {
		if _, ok := in.Attributes[m]; ok {
			present = append(present, m)
		}
	}
	if len(present) > 0 {
		if err := cl.ecs.DeleteAttributes(ctx, now.Cluster, in.ARN, present...); err != nil {
			return fmt.Errorf("remove the marks of %s (it is %s now): %w", id, r.Status, err)
		}
	}
	r.Cleared = append(r.Cleared, present...)
	return a.emit(out, r, func(w io.Writer) { printRelease(w, r) })
}

func printRelease(w io.Writer, r releaseResult) {
	if r.StatusBefore == r.Status && len(r.Cleared) == 0 {
		fmt.Fprintf(w, "%s in %s is %s with no rollwave marks: nothing to release\n", r.EC2InstanceID, r.Cluster, r.Status)
		return
	}
	if r.StatusBefore != r.Status {
		fmt.Fprintf(w, "set %s in %s %s (was %s)\n", r.EC2InstanceID, r.Cluster, r.Status, r.StatusBefore)
	} else {
		fmt.Fprintf(w, "%s in %s was already %s\n", r.EC2InstanceID, r.Cluster, r.Status)
	}
	if len(r.Cleared) > 0 {
		fmt.Fprintf(w, "removed %s", strings.Join(r.Cleared, ", "))
		if r.Job != "" {
			fmt.Fprintf(w, " (failed job %s, %s)", r.Job, orDefault(r.Failure, "no reason recorded"))
		}
		fmt.Fprintln(w)
	}
	if !r.AgentConnected {
		fmt.Fprintln(w, "note: its ECS agent is not connected: ECS places no task on it until the agent reconnects")
	}
	fmt.Fprintln(w, "the next scan treats it like any other instance; its version lock is unchanged")
}
