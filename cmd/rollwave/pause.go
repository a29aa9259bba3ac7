package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

var pauseCommand = command{
	name:    "pause",
	summary: "stop new drains in a cluster, or everywhere; jobs in flight finish",
	usage:   "(--cluster C | --all) --reason R [--requested-by WHO] [-o text|json|table] [--query Q]",
	help: `
Pauses the rollout of one cluster (--cluster) or of every cluster (--all): the drainer starts no
new drain within a few seconds. Jobs already draining, rebooting or verifying finish safely;
jobs waiting for a drain stay in their queue until 'rollwave resume'. Staging (which changes
nothing a service notices) goes on.

The pause is a tag of the drainer's queue (rollwave:paused:<cluster>, or rollwave:paused for
every cluster) whose value says who paused and why; 'rollwave status' shows it. A "Cluster
Rollout Paused" event is published on the event bus (--event-bus).

Examples:
  rollwave pause --cluster prod --reason "incident INC-42, no drains until resolved"
  rollwave pause --all --reason "change freeze"
`,
	run: runPause,
}

var resumeCommand = command{
	name:    "resume",
	summary: "undo a pause",
	usage:   "(--cluster C | --all) [--requested-by WHO] [-o text|json|table] [--query Q]",
	help: `
Removes the pause of one cluster (--cluster) or the pause of every cluster (--all) and publishes
"Cluster Rollout Resumed". It also lifts the halts of a staged promotion (ROLLWAVE_STAGES): --all
every halt, --cluster C the halts of a failure in C (with C's error budget count, which would halt
it again). Resuming a cluster does not undo 'pause --all', and resuming --all does
not undo a cluster's own pause: 'rollwave status' shows what is still paused. Resuming what is not
paused is not an error.

Examples:
  rollwave resume --cluster prod
  rollwave resume --all
`,
	run: runResume,
}

var scanCommand = command{
	name:    "scan",
	summary: "look for updates now: send a scan request to the scanner",
	usage:   "[--cluster C ...] [--reason R] [--requested-by WHO] [--pipeline-dry-run] [-o text|json|table] [--query Q]",
	help: `
Sends a scan request (schema rollwave.scan/v1) to the scanner's queue: the scanner checks the
Bottlerocket instances of the clusters for updates and sends one job per instance that has one.
Without --cluster it scans the clusters it is configured with. --pipeline-dry-run makes every job
of this scan a dry run.

Examples:
  rollwave scan
  rollwave scan --cluster prod --cluster staging --reason "1.20.3 released"
`,
	run: runScan,
}

// scopeFlags are --cluster and --all of pause and resume.
func scopeFlags(fs *flag.FlagSet) (*string, *bool) {
	return fs.String("cluster", "", "the cluster (name or ARN)"), fs.Bool("all", false, "every cluster")
}

func (a *app) scope(c command, cluster string, all bool) (string, error) {
	switch {
	case cluster != "" && all:
		return "", usagef("%s: give --cluster or --all, not both", c.name)
	case cluster == "" && !all:
		return "", usagef("%s: say what: --cluster C, or --all for every cluster", c.name)
	}
	return pause.ClusterName(cluster), nil
}

func runPause(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cluster, all := scopeFlags(fs)
	reason := fs.String("reason", "", "why (required): shown in status and in the event")
	who := fs.String("requested-by", a.who(), "who pauses: $USER unless given")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	name, err := a.scope(c, *cluster, *all)
	if err != nil {
		return err
	}
	if *reason == "" {
		return usagef("%s: --reason is required: say why, for the people who see the pause", c.name)
	}
	if name != "" {
		if err := a.requireClusters(ctx, []string{*cluster}); err != nil {
			return err
		}
	}
	url, err := a.drainerQueue(ctx)
	if err != nil {
		return err
	}
	if err := pause.Set(ctx, a.clients.sqs, url, name, *who, *reason); err != nil {
		return err
	}
	info := pause.Info{Cluster: name, All: name == "", Who: *who, Reason: *reason}
	if err := a.publishPause(ctx, notify.ClusterRolloutPaused, name, *who, *reason); err != nil {
		return err
	}
	return a.emit(out, pauseResult{Scope: scopeName(name), Paused: true, RequestedBy: *who, Reason: *reason, Undo: "rollwave resume " + scopeArgs(name)},
		func(w io.Writer) {
			fmt.Fprintf(w, "%s: no new drain starts within seconds; jobs in flight finish. Undo with 'rollwave resume %s'.\n", info, scopeArgs(name))
		})
}

// pauseResult is the document of pause and resume -o json.
type pauseResult struct {
	// Scope is the cluster's name, or "*" for every cluster.
	Scope       string `json:"cluster"`
	Paused      bool   `json:"paused"`
	WasPaused   *bool  `json:"wasPaused,omitempty"`
	RequestedBy string `json:"requestedBy"`
	Reason      string `json:"reason,omitempty"`
	Undo        string `json:"undo,omitempty"`
	// StillPaused are the pauses this resume did not lift.
	StillPaused []string `json:"stillPaused,omitempty"`
	// PromotionHaltsCleared are the halts of a staged promotion this resume lifted.
	PromotionHaltsCleared []promotion.Halt `json:"promotionHaltsCleared,omitempty"`
}

func scopeName(cluster string) string { return orDefault(cluster, "*") }

func runResume(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cluster, all := scopeFlags(fs)
	who := fs.String("requested-by", a.who(), "who resumes: $USER unless given")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	name, err := a.scope(c, *cluster, *all)
	if err != nil {
		return err
	}
	url, err := a.drainerQueue(ctx)
	if err != nil {
		return err
	}
	before, err := pause.Read(ctx, a.clients.sqs, url)
	if err != nil {
		return err
	}
	if err := pause.Clear(ctx, a.clients.sqs, url, name); err != nil {
		return err
	}
	halts, err := promotion.ClearHalts(ctx, a.clients.sqs, url, name)
	if err != nil {
		return err
	}
	var was bool
	for _, i := range before.All() {
		if i.All == (name == "") && i.Cluster == name {
			was = true
		}
	}
	scope := "every cluster"
	if name != "" {
		scope = "cluster " + name
	}
	var notes []string
	if name != "" {
		if i, ok := before.Paused(name); ok && i.All {
			notes = append(notes, fmt.Sprintf("%s; 'rollwave resume --all' lifts it", i))
		}
	} else {
		for _, i := range before.All() {
			if !i.All {
				notes = append(notes, fmt.Sprintf("%s; 'rollwave resume --cluster %s' lifts it", i, i.Cluster))
			}
		}
	}
	if was {
		if err := a.publishPause(ctx, notify.ClusterRolloutResumed, name, *who, ""); err != nil {
			return err
		}
	}
	return a.emit(out, pauseResult{Scope: scopeName(name), Paused: false, WasPaused: &was, RequestedBy: *who, StillPaused: notes, PromotionHaltsCleared: halts},
		func(w io.Writer) {
			if !was {
				fmt.Fprintf(w, "%s was not paused\n", scope)
			} else {
				fmt.Fprintf(w, "%s resumed\n", scope)
			}
			for _, h := range halts {
				fmt.Fprintf(w, "promotion of %s resumed at stage %s (it had halted: %s)\n", h.Version, h.Stage, h.Summary())
			}
			for _, n := range notes {
				fmt.Fprintf(w, "note: %s\n", n)
			}
		})
}

func scopeArgs(cluster string) string {
	if cluster == "" {
		return "--all"
	}
	return "--cluster " + cluster
}

// drainerQueue is the URL of the drainer's queue, whose tags hold the pause state.
func (a *app) drainerQueue(ctx context.Context) (string, error) {
	q, _ := a.topology().Queue(topology.Drainer)
	return a.queueURL(ctx, q.Name)
}

// publishPause publishes a Cluster Rollout Paused/Resumed event. The pause is already set (or
// cleared) when this fails, so the error says so.
func (a *app) publishPause(ctx context.Context, detailType, cluster, who, reason string) error {
	d := pause.EventDetail{Cluster: cluster, All: cluster == "", RequestedBy: who, Reason: reason, At: time.Now().UTC()}
	if d.All {
		d.Cluster = "*"
	}
	if err := notify.New(a.clients.events, a.eventBus, a.prefix).Publish(ctx, detailType, d); err != nil {
		return fmt.Errorf("the pause state is changed, but the %q event was not published on bus %s: %w", detailType, a.eventBus, err)
	}
	return nil
}

func runScan(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "scan this cluster (repeatable, or comma-separated; default: the scanner's clusters)")
	reason := fs.String("reason", "requested with rollwave scan", "why")
	who := fs.String("requested-by", a.who(), "who asks: $USER unless given")
	dry := fs.Bool("pipeline-dry-run", false, "the jobs of this scan only decide and log, changing nothing")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	req := update.ScanRequest{Schema: update.ScanSchema, Clusters: clusters, RequestedBy: *who, Reason: *reason, DryRun: *dry}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode scan request: %w", err)
	}
	if _, err := update.DecodeScan(body); err != nil {
		return usagef("%s: %v", c.name, err)
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	q, _ := a.topology().Queue(topology.Scanner)
	url, err := a.queueURL(ctx, q.Name)
	if err != nil {
		return err
	}
	sent, err := a.clients.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("send scan request to %s: %w", q.Name, err)
	}
	what := "the scanner's clusters"
	if len(clusters) > 0 {
		what = fmt.Sprint(clusters)
	}
	return a.emit(out, sentResult{Queue: q.Name, MessageID: aws.ToString(sent.MessageId), Request: req},
		func(w io.Writer) { fmt.Fprintf(w, "scan of %s requested (%s)\n", what, q.Name) })
}

// sentResult is the document of scan -o json and jobs send -o json: what was sent, where.
type sentResult struct {
	Queue     string `json:"queue"`
	MessageID string `json:"messageId,omitempty"`
	// JobID is the job's ID (jobs send).
	JobID string `json:"jobId,omitempty"`
	// Sent is false for jobs send --dry-run.
	Sent    *bool `json:"sent,omitempty"`
	Request any   `json:"request"`
}
