package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

var jobsSendCommand = command{
	name:    "jobs send",
	summary: "force the update of one instance: send a job to the patcher",
	usage:   "--cluster C --instance (i-…|ARN) [--target-version V] [--reason R] [--requested-by WHO] [--id ID] [--dry-run] [--pipeline-dry-run] [-o text|json|table] [--query Q]",
	help: `
Builds a job (schema rollwave.job/v1, docs/job.md) for one Bottlerocket container instance and
sends it to the patcher's queue (<prefix>-patcher), where the pipeline stages, drains, reboots
and verifies the instance like any scanned one, within the cluster's out-of-service limit.

The cluster and the instance are checked with ECS first: an unknown cluster or instance is an
error (exit 3) and nothing is sent. --instance takes an EC2 instance ID or a container instance
ARN. Without --target-version the instance gets the update Bottlerocket chooses.

--dry-run prints the job and sends nothing. --pipeline-dry-run sends a job whose dryRun flag is
set: every worker decides and logs, and nothing is changed on the instance.

Examples:
  rollwave jobs send --cluster prod --instance i-0123456789abcdef0 --reason "CVE fix, OPS-1234"
  rollwave jobs send --cluster prod --instance i-0123456789abcdef0 --target-version 1.20.3 --dry-run
`,
	run: runJobsSend,
}

func runJobsSend(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var j update.Job
	var dryRun bool
	fs.StringVar(&j.Cluster, "cluster", "", "ECS cluster name or ARN (required)")
	fs.StringVar(&j.Instance, "instance", "", "EC2 instance ID or container instance ARN (required)")
	fs.StringVar(&j.TargetVersion, "target-version", "", "Bottlerocket version to end on, e.g. 1.20.3; empty: the update Bottlerocket chooses")
	fs.StringVar(&j.Reason, "reason", "", "why: a ticket, a CVE; empty: \"forced with rollwave jobs send\"")
	fs.StringVar(&j.RequestedBy, "requested-by", a.who(), "who asks: $USER unless given")
	fs.StringVar(&j.ID, "id", "", "job ID; empty: a new one, j- and 20 hex digits like the scanner's")
	fs.BoolVar(&dryRun, "dry-run", false, "print the job and send nothing")
	fs.BoolVar(&j.DryRun, "pipeline-dry-run", false, "send a job that the workers only decide and log, changing nothing")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	var missing []string
	if j.Cluster == "" {
		missing = append(missing, "--cluster")
	}
	if j.Instance == "" {
		missing = append(missing, "--instance")
	}
	if len(missing) > 0 {
		return usagef("jobs send: %s required", strings.Join(missing, " and "))
	}
	if !update.IsEC2InstanceID(j.Instance) && !update.IsContainerInstanceARN(j.Instance) {
		return usagef("jobs send: --instance %q is neither an EC2 instance ID (i-0123456789abcdef0) nor a container instance ARN", j.Instance)
	}
	j.TargetVersion = strings.TrimPrefix(j.TargetVersion, "v")
	if j.Reason == "" {
		j.Reason = "forced with rollwave jobs send"
	}
	if j.ID == "" {
		j.ID = update.JobIDFor(rand.Text())
	}
	j.Schema = update.Schema
	j.Step = update.StepStage
	body, err := update.Encode(j)
	if err != nil {
		return usagef("jobs send: %v", err)
	}

	if err := a.requireClusters(ctx, []string{j.Cluster}); err != nil {
		return err
	}
	cl, _ := a.aws(ctx)
	inst, err := cl.ecs.Instance(ctx, j.Cluster, j.Instance)
	if errors.Is(err, cluster.ErrInstanceNotFound) {
		return notFoundf("instance %s is not registered in cluster %s: 'rollwave status --cluster %s' lists its instances", j.Instance, j.Cluster, j.Cluster)
	}
	if err != nil {
		return fmt.Errorf("check instance %s: %w", j.Instance, err)
	}
	if _, ok := inst.Attributes["bottlerocket.variant"]; !ok {
		return fmt.Errorf("instance %s in %s is not a Bottlerocket instance (no bottlerocket.variant attribute): rollwave updates only Bottlerocket", j.Instance, j.Cluster)
	}
	if owner := inst.Attributes[update.AttrJob]; owner != "" {
		fmt.Fprintf(a.stderr, "warning: job %s already owns %s (rollwave.stage=%s); the patcher will end this job as a duplicate\n",
			owner, j.Instance, inst.Attributes[update.AttrStage])
	}

	q, _ := a.topology().Queue(topology.Patcher)
	if dryRun {
		if !out.json() {
			if _, err := a.stdout.Write(body); err != nil { // indented, ending in a newline
				return fmt.Errorf("print job: %w", err)
			}
			fmt.Fprintln(a.stderr, "dry run: the job above was not sent")
			return nil
		}
		fmt.Fprintln(a.stderr, "dry run: the job was not sent")
		return a.emit(out, sentResult{Queue: q.Name, JobID: j.ID, Sent: new(false), Request: j}, nil)
	}
	url, err := a.queueURL(ctx, q.Name)
	if err != nil {
		return err
	}
	msg, err := cl.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("send job %s to %s: %w", j.ID, q.Name, err)
	}
	sent := true
	return a.emit(out, sentResult{Queue: q.Name, MessageID: aws.ToString(msg.MessageId), JobID: j.ID, Sent: &sent, Request: j}, func(w io.Writer) {
		fmt.Fprintf(w, "sent job %s for %s in %s to %s (message %s)\n", j.ID, j.Instance, j.Cluster, q.Name, aws.ToString(msg.MessageId))
	})
}
