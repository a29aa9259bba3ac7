package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
)

var statusCommand = command{
	name:    "status",
	summary: "show each cluster's Bottlerocket instances, the queues, pauses and what is blocked",
	usage:   "[--cluster C ...] [--versions] [--watch [--interval D]] [--max-out-of-service N|P%] [--since D] [-o text|json|table] [--query Q]",
	help: `
Shows, per cluster, each Bottlerocket container instance (ECS attribute bottlerocket.variant)
with its EC2 instance ID, ECS status, agent connection, the rollwave job that owns it, its stage
(rollwave.stage), the failure reason of a failed job (rollwave.failure) and, for a job the
drainer holds before admission, why it waits and since when (rollwave.waiting); the counts in
service, out of service (taken by rollwave, or drained by someone else) and failed, and how many
the limit counts (every instance that does not serve, failed ones parked out of service
included); the depth of
every pipeline queue and its dead-letter queue; the pauses; what blocks the rollout of each
cluster (a pause, the out-of-service limit reached); the failed instances that need attention
(parked out of service, each counted against the limit until a person releases it); and the
launch templates of its Auto Scaling groups that the scanner found drifted from the version its
hosts run (each group's newest "Launch Template Drift" within --since).

With a staged promotion ($ROLLWAVE_STAGES, as the scanner and drainer have it) a section shows
each stage in order: its clusters and bake, the version its newest job went to (from the
history), its state (updating, baking with the bake left, baked, halted, idle), how many of its
jobs the promotion gate holds, and its gates: the stage before it, a halt of the promotion, the
gate alarms that would halt it during a bake (the deployment's, $ROLLWAVE_ALARM_NAMES and
$ROLLWAVE_ALARM_PREFIX, and its clusters' own in $ROLLWAVE_CLUSTER_POLICIES).

--versions also runs the update-check document on every instance over SSM and shows its
Bottlerocket version and update state (slower: one SSM command per 50 instances).

Without --cluster it shows the clusters of $ROLLWAVE_CLUSTERS, else every cluster of the region.
--max-out-of-service is the drainer's limit (default $ROLLWAVE_MAX_OUT_OF_SERVICE, else 1).
--watch redraws every --interval until Ctrl-C. -o json prints one JSON document (per redraw with
--watch) whose fields are stable for scripts.

Examples:
  rollwave status
  rollwave status --cluster prod --versions
  rollwave status --watch --interval 2s
  rollwave status -o json | jq '.clusters[] | {cluster, blocked}'
`,
	run: runStatus,
}

// statusReport is the document of status -o json. Its field names are a contract with scripts.
type statusReport struct {
	At       time.Time       `json:"at"`
	Prefix   string          `json:"prefix"`
	Clusters []clusterStatus `json:"clusters"`
	Queues   []queueStatus   `json:"queues"`
	Paused   []pause.Info    `json:"paused"`
	// Stages is the staged promotion, stage by stage, when ROLLWAVE_STAGES sets one.
	Stages []stageStatus `json:"stages,omitempty"`
}

type clusterStatus struct {
	Cluster           string           `json:"cluster"`
	Instances         []instanceStatus `json:"instances"`
	Total             int              `json:"total"`
	InService         int              `json:"inService"`
	OutOfServiceByUs  int              `json:"outOfServiceByRollwave"`
	OutOfServiceOther int              `json:"outOfServiceByOthers"`
	Failed            int              `json:"failed"`
	// OutOfService is what the limit counts (update.InstanceView.OutOfService): every instance
	// that does not serve, failed ones parked out of service included.
	OutOfService int         `json:"outOfService"`
	Limit        int         `json:"outOfServiceLimit"`
	parked       int         // failed and out of service: waiting for a person
	Paused       *pause.Info `json:"paused,omitempty"`
	// Blocked says what keeps new drains from starting: a pause or halt, the limit.
	Blocked []string `json:"blocked"`
	// NeedsAttention says which failed instances wait for a person.
	NeedsAttention []string `json:"needsAttention"`
	// Progress is the rollout's progress, from the instances and the history.
	Progress rolloutProgress `json:"progress"`
	// LaunchTemplates are the launch templates of the cluster's Auto Scaling groups that the
	// scanner found drifted from the version its hosts run, each group's newest finding within
	// the history read ("Launch Template Drift", docs/policies.md "Launch templates").
	LaunchTemplates []launchTemplateStatus `json:"launchTemplates"`
}

// launchTemplateStatus is a group's newest launch template finding.
type launchTemplateStatus struct {
	AutoScalingGroup string    `json:"autoScalingGroup"`
	Outcome          string    `json:"outcome"`
	Reason           string    `json:"reason,omitempty"`
	Message          string    `json:"message"`
	At               time.Time `json:"at"`
}

// launchTemplates returns the newest "Launch Template Drift" finding of each Auto Scaling group
// of cluster among records, by group.
func launchTemplates(cluster string, records []history.Record) []launchTemplateStatus {
	newest := map[string]launchTemplateStatus{}
	for _, r := range records {
		if r.Event != notify.LaunchTemplateDrift || update.ClusterName(r.Cluster) != cluster {
			continue
		}
		if old, ok := newest[r.AutoScalingGroup]; !ok || !r.At.Before(old.At) {
			newest[r.AutoScalingGroup] = launchTemplateStatus{AutoScalingGroup: r.AutoScalingGroup, Outcome: r.Outcome, Reason: r.Reason, Message: r.Message, At: r.At}
		}
	}
	out := []launchTemplateStatus{}
	for _, g := range slices.Sorted(maps.Keys(newest)) {
		out = append(out, newest[g])
	}
	return out
}

// rolloutProgress is how far a cluster's rollout got: each Bottlerocket instance counts once, by
// what it is now (a job in flight or waiting, failed) or else by how its last job ended within
// the history read (--since).
type rolloutProgress struct {
	Updated  int `json:"updated"`
	Total    int `json:"total"`
	Percent  int `json:"percent"`
	InFlight int `json:"inFlight"`
	// Waiting are the jobs held before admission, each with why.
	Waiting []waitingJob `json:"waiting"`
	// Failed instances need attention (rollwave.stage=failed), parked or returned to service.
	Failed int `json:"failed"`
	// Skipped are the instances whose last job ended without an update, each with the reason
	// code: they are not updated.
	Skipped      []skippedInstance `json:"skipped"`
	DeadLettered int               `json:"deadLettered"`
	// UpToDate are the instances that no job updated within the history read but that run the
	// latest version already (update state Idle): known only with --versions.
	UpToDate int `json:"upToDate"`
	// Remaining are the instances neither updated, up to date, skipped nor failed.
	Remaining int `json:"remaining"`
	// MeanSeconds is the measured time from a job's start to its success, averaged over
	// Measured updates; ETA is now + ⌈Remaining / limit⌉ × that mean, when anything was measured.
	MeanSeconds float64   `json:"meanSecondsPerInstance,omitempty"`
	Measured    int       `json:"measured"`
	ETA         time.Time `json:"eta,omitzero"`
}

type waitingJob struct {
	Instance string    `json:"instance"`
	Job      string    `json:"job"`
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since,omitzero"`
	// Detail is what the drainer said when it announced the wait ("Instance Update Waiting"),
	// e.g. when the window opens; empty until the job has waited ROLLWAVE_WAITING_THRESHOLD.
	Detail string `json:"detail,omitempty"`
}

type skippedInstance struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

type instanceStatus struct {
	EC2InstanceID        string `json:"ec2InstanceId"`
	ContainerInstanceARN string `json:"containerInstanceArn"`
	Status               string `json:"status"`
	AgentConnected       bool   `json:"agentConnected"`
	Job                  string `json:"job,omitempty"`
	Stage                string `json:"stage,omitempty"`
	Failure              string `json:"failure,omitempty"`
	Version              string `json:"version,omitempty"`
	UpdateState          string `json:"updateState,omitempty"`
	VersionError         string `json:"versionError,omitempty"`
	// Waiting is why the drainer holds the instance's job before admission (an update.WaitReason,
	// or the raw rollwave.waiting value when it does not parse), WaitingSince since when.
	Waiting      string    `json:"waiting,omitempty"`
	WaitingSince time.Time `json:"waitingSince,omitzero"`
}

type queueStatus struct {
	Queue       string `json:"queue"`
	Messages    int    `json:"messages"`
	InFlight    int    `json:"inFlight"`
	Delayed     int    `json:"delayed"`
	DeadLetters int    `json:"deadLetters"`
}

func runStatus(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "show this cluster (repeatable, or comma-separated)")
	versions := fs.Bool("versions", false, "run the update check over SSM to show each instance's version (slower)")
	watch := fs.Bool("watch", false, "redraw until Ctrl-C")
	interval := fs.Duration("interval", 5*time.Second, "how often --watch redraws")
	limitFlag := fs.String("max-out-of-service", orDefault(strings.TrimSpace(a.getenv("ROLLWAVE_MAX_OUT_OF_SERVICE")), "1"), "the drainer's limit per cluster: a count or a percentage")
	since := fs.Duration("since", 24*time.Hour, "how far back the history is read for the progress: the rollout's age at most")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	limit, err := update.ParseLimit(*limitFlag)
	if err != nil {
		return usagef("%s: --max-out-of-service: %v", c.name, err)
	}
	if *interval < 100*time.Millisecond {
		return usagef("%s: --interval %v is too short", c.name, *interval)
	}
	if len(clusters) == 0 {
		_ = clusters.Set(a.getenv("ROLLWAVE_CLUSTERS")) // a stringList takes any value
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	if *since <= 0 {
		return usagef("%s: --since must be positive", c.name)
	}
	// On a terminal --watch redraws in place; piped, it appends one line per cluster per look.
	inPlace := isTerminal(a.stdout)
	draw := func() error {
		r, err := a.status(ctx, clusters, limit, *versions, time.Now().Add(-*since))
		if err != nil {
			return err
		}
		return a.emit(out, r, func(w io.Writer) {
			switch {
			case *watch && inPlace:
				fmt.Fprint(w, "\033[H\033[2J") // home, clear screen
				printStatus(w, r)
			case *watch:
				printProgressLines(w, r)
			default:
				printStatus(w, r)
			}
		})
	}
	if err := draw(); err != nil || !*watch {
		return err
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // Ctrl-C ends a watch: not a failure
		case <-tick.C:
			if err := draw(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// status reads everything status shows.
func (a *app) status(ctx context.Context, names []string, limit update.Limit, versions bool, since time.Time) (statusReport, error) {
	cl, err := a.aws(ctx)
	if err != nil {
		return statusReport{}, err
	}
	r := statusReport{At: time.Now().UTC(), Prefix: a.prefix, Clusters: []clusterStatus{}, Paused: []pause.Info{}}
	if len(names) == 0 {
		names, err = clusterNames(ctx, cl.ecsAPI)
		if err != nil {
			return r, err
		}
	}
	drainer, err := a.drainerQueue(ctx)
	if err != nil {
		return r, err
	}
	pauses, err := pause.Read(ctx, cl.sqs, drainer)
	if err != nil {
		return r, err
	}
	r.Paused = append(r.Paused, pauses.All()...)
	records, err := history.NewReader(cl.logs, a.historyGroup()).Read(ctx, history.Query{Since: since})
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %s\n", a.historyProblem(err))
	}
	plan, err := promotion.ParsePlan(a.getenv(promotion.Env))
	if err != nil {
		return r, usagef("status: %s: %v", promotion.Env, err)
	}
	if !plan.IsZero() {
		if r.Stages, err = a.stages(ctx, cl, plan, drainer, records, r.At); err != nil {
			return r, err
		}
	}
	deadByCluster := map[string]int{}
	for _, q := range a.topology().Queues {
		dead, err := a.deadLetters(ctx, q)
		if err != nil {
			return r, err
		}
		for _, d := range dead {
			if d.Job != nil {
				deadByCluster[pause.ClusterName(d.Job.Cluster)]++
			}
		}
	}
	for _, q := range a.topology().Queues {
		url, err := a.queueURL(ctx, q.Name)
		if err != nil {
			return r, err
		}
		dlq, err := a.queueURL(ctx, q.DeadLetter.Name)
		if err != nil {
			return r, err
		}
		s := queueStatus{Queue: q.Name}
		if s.Messages, s.InFlight, s.Delayed, err = a.queueCounts(ctx, url); err != nil {
			return r, err
		}
		if s.DeadLetters, _, _, err = a.queueCounts(ctx, dlq); err != nil {
			return r, err
		}
		r.Queues = append(r.Queues, s)
	}
	for _, name := range names {
		instances, err := cl.ecs.ListInstances(ctx, name, "", "attribute:bottlerocket.variant exists")
		if err != nil {
			return r, err
		}
		cs := clusterStatus{Cluster: name, Instances: []instanceStatus{}, Blocked: []string{}, NeedsAttention: []string{}, LaunchTemplates: []launchTemplateStatus{}}
		var views []update.InstanceView
		for _, in := range instances {
			is := instanceStatus{
				EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN, Status: in.Status,
				AgentConnected: in.AgentConnected, Job: in.Attributes[update.AttrJob],
				Stage: in.Attributes[update.AttrStage], Failure: in.Attributes[update.AttrFailure],
			}
			if w, ok := in.Waiting(); ok {
				is.Waiting, is.WaitingSince = string(w.Reason), w.Since
			}
			cs.Instances = append(cs.Instances, is)
			views = append(views, in.View())
		}
		sort.Slice(cs.Instances, func(i, j int) bool { return cs.Instances[i].EC2InstanceID < cs.Instances[j].EC2InstanceID })
		count(&cs, views, limit)
		if i, ok := pauses.Paused(name); ok {
			cs.Paused = &i
			cs.Blocked = append(cs.Blocked, i.String())
		}
		if cs.OutOfService >= cs.Limit {
			cs.Blocked = append(cs.Blocked, fmt.Sprintf("at the out-of-service limit: %d of at most %d instances out of service", cs.OutOfService, cs.Limit))
		}
		for _, in := range cs.Instances {
			if in.Stage != string(update.StageFailed) {
				continue
			}
			where := "parked out of service, counted against the limit"
			if in.Status == cluster.StatusActive {
				where = "returned to service"
			}
			cs.NeedsAttention = append(cs.NeedsAttention, fmt.Sprintf("%s failed (%s), %s: rollwave jobs describe %s; after a look, rollwave instances release %s",
				orDefault(in.EC2InstanceID, in.ContainerInstanceARN), orDefault(in.Failure, "no reason recorded"), where, in.EC2InstanceID, in.EC2InstanceID))
		}
		if versions {
			a.versions(ctx, cl, cs.Instances)
		}
		cs.Progress = progress(cs, records, deadByCluster[name], r.At)
		cs.LaunchTemplates = launchTemplates(name, records)
		for i, w := range cs.Progress.Waiting {
			if w.Detail == "" && w.Reason == string(update.WaitWindow) {
				cs.Progress.Waiting[i].Detail = a.windowNote(name, r.At)
			}
		}
		r.Clusters = append(r.Clusters, cs)
	}
	return r, nil
}

// progress measures a cluster's rollout from its instances now and the history's records.
func progress(cs clusterStatus, records []history.Record, deadLettered int, now time.Time) rolloutProgress {
	p := rolloutProgress{Total: cs.Total, Waiting: []waitingJob{}, Skipped: []skippedInstance{}, DeadLettered: deadLettered}
	last := map[string]history.Record{}   // instance -> its last ended job
	waited := map[string]history.Record{} // job -> its last Waiting event
	started := map[string]time.Time{}
	var total time.Duration
	for _, r := range records {
		if r.Cluster != cs.Cluster {
			continue
		}
		id := orDefault(r.EC2InstanceID, r.Instance)
		switch {
		case r.Event == notify.InstanceUpdateStarted:
			started[r.JobID] = r.At
		case r.Event == notify.InstanceUpdateWaiting:
			waited[r.JobID] = r
		case r.Ended():
			last[id] = r
			if r.Outcome == "updated" && !started[r.JobID].IsZero() {
				total += r.At.Sub(started[r.JobID])
				p.Measured++
			}
		}
	}
	for _, in := range cs.Instances {
		switch {
		case in.Stage == string(update.StageFailed):
			p.Failed++
		case in.Job != "" && in.Waiting != "":
			w := waitingJob{Instance: in.EC2InstanceID, Job: in.Job, Reason: in.Waiting, Since: in.WaitingSince}
			if e, ok := waited[in.Job]; ok {
				w.Detail = e.Message
			}
			p.Waiting = append(p.Waiting, w)
		case in.Job != "":
			p.InFlight++
		default:
			switch r := last[in.EC2InstanceID]; {
			case r.Outcome == "updated":
				p.Updated++
			case r.Outcome == "skipped" || r.Outcome == "duplicate":
				p.Skipped = append(p.Skipped, skippedInstance{Instance: in.EC2InstanceID, Reason: r.Reason})
			case in.UpdateState == "Idle":
				p.UpToDate++
			}
		}
	}
	if p.Total > 0 {
		p.Percent = p.Updated * 100 / p.Total
	}
	p.Remaining = p.Total - p.Updated - p.UpToDate - len(p.Skipped) - p.Failed
	if p.Measured > 0 {
		mean := total / time.Duration(p.Measured)
		p.MeanSeconds = mean.Seconds()
		rounds := (p.Remaining + max(cs.Limit, 1) - 1) / max(cs.Limit, 1)
		p.ETA = now.Add(time.Duration(rounds) * mean)
	}
	return p
}

// progressLine is a cluster's progress in one line, as --watch appends it when piped.
func progressLine(cs clusterStatus, now time.Time) string {
	p := cs.Progress
	line := fmt.Sprintf("%s: %d/%d updated (%d%%), %d in flight, %d waiting, %d failed, %d skipped, %d dead-lettered",
		cs.Cluster, p.Updated, p.Total, p.Percent, p.InFlight, len(p.Waiting), p.Failed, len(p.Skipped), p.DeadLettered)
	if p.UpToDate > 0 {
		line += fmt.Sprintf(", %d already up to date", p.UpToDate)
	}
	switch {
	case p.Remaining == 0:
		line += "; nothing left"
	case !p.ETA.IsZero():
		line += fmt.Sprintf("; ETA %s (%d left, %s per instance measured over %d, limit %d)", age(max(p.ETA.Sub(now), 0)), p.Remaining,
			time.Duration(p.MeanSeconds*float64(time.Second)).Round(time.Second), p.Measured, cs.Limit)
	default:
		line += fmt.Sprintf("; %d left, no ETA until an update has been measured", p.Remaining)
	}
	return line
}

// printProgressLines appends one line per cluster: what --watch prints when piped.
func printProgressLines(w io.Writer, r statusReport) {
	for _, cs := range r.Clusters {
		fmt.Fprintf(w, "%s %s\n", r.At.Format(time.RFC3339), progressLine(cs, r.At))
	}
}

// count fills the counts of cs from the admission's view of its instances.
func count(cs *clusterStatus, views []update.InstanceView, limit update.Limit) {
	cs.Total = len(views)
	cs.Limit = limit.Max(len(views))
	for _, v := range views {
		if v.OutOfService() {
			cs.OutOfService++
		}
		switch {
		case v.Stage == update.StageFailed:
			cs.Failed++
			if v.OutOfService() {
				cs.parked++
			}
		case v.Stage.TakenOutOfService():
			cs.OutOfServiceByUs++
		case v.Status != cluster.StatusActive:
			cs.OutOfServiceOther++
		default:
			cs.InService++
		}
	}
}

// versions runs the update check on the instances and records each one's version.
func (a *app) versions(ctx context.Context, cl *clients, instances []instanceStatus) {
	var ids []string
	for _, in := range instances {
		if in.EC2InstanceID != "" {
			ids = append(ids, in.EC2InstanceID)
		}
	}
	if len(ids) == 0 {
		return
	}
	results, err := ssmcommand.New(cl.ssm).Run(ctx, ssmdoc.Name(a.prefix, ssmdoc.Check), ids, ssmcommand.Options{
		Wait: 60 * time.Second, PollInterval: 500 * time.Millisecond, DeliveryTimeout: 60 * time.Second,
	})
	for i, in := range instances {
		res, ok := results[in.EC2InstanceID]
		switch {
		case !ok && err != nil:
			instances[i].VersionError = err.Error()
		case !ok:
			instances[i].VersionError = "no result"
		case !res.OK():
			instances[i].VersionError = fmt.Sprintf("update check %s (exit %d) %s", res.Status, res.ResponseCode, strings.TrimSpace(res.Stderr))
			if res.Err != nil {
				instances[i].VersionError = res.Err.Error()
			}
		default:
			st, perr := bottlerocket.ParseUpdateCheck([]byte(res.Stdout))
			if perr != nil {
				instances[i].VersionError = perr.Error()
				continue
			}
			instances[i].Version, instances[i].UpdateState = st.ActiveVersion(), string(st.UpdateState)
		}
	}
}

func printStatus(w io.Writer, r statusReport) {
	fmt.Fprintf(w, "rollwave status (prefix %s) at %s\n", r.Prefix, r.At.Format(time.RFC3339))
	if len(r.Paused) > 0 {
		for _, p := range r.Paused {
			fmt.Fprintf(w, "PAUSED: %s\n", p)
		}
	}
	printStages(w, r.Stages)
	for _, cs := range r.Clusters {
		fmt.Fprintf(w, "\nCluster %s: %d Bottlerocket instances, %d in service, %d out of service by rollwave, %d by others, %d failed; %d out of service as the limit counts (limit %d)\n",
			cs.Cluster, cs.Total, cs.InService, cs.OutOfServiceByUs, cs.OutOfServiceOther, cs.Failed, cs.OutOfService, cs.Limit)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  INSTANCE\tSTATUS\tAGENT\tVERSION\tJOB\tSTAGE\tFAILURE\tWAITING")
		for _, in := range cs.Instances {
			agent := "connected"
			if !in.AgentConnected {
				agent = "DISCONNECTED"
			}
			version := orDefault(in.Version, "-")
			if in.UpdateState != "" {
				version += " (" + in.UpdateState + ")"
			}
			if in.VersionError != "" {
				version = "? " + truncate(in.VersionError, 40)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDefault(in.EC2InstanceID, in.ContainerInstanceARN), in.Status, agent,
				version, orDefault(in.Job, "-"), orDefault(in.Stage, "-"), orDefault(in.Failure, "-"), waiting(in, r.At))
		}
		tw.Flush()
		fmt.Fprintf(w, "  progress: %s\n", strings.TrimPrefix(progressLine(cs, r.At), cs.Cluster+": "))
		for _, wj := range cs.Progress.Waiting {
			fmt.Fprintf(w, "  waiting: %s (job %s): %s", wj.Instance, wj.Job, wj.Reason)
			if !wj.Since.IsZero() {
				fmt.Fprintf(w, " for %s", age(max(r.At.Sub(wj.Since), 0)))
			}
			if wj.Detail != "" {
				fmt.Fprintf(w, ": %s", wj.Detail)
			}
			fmt.Fprintln(w)
		}
		for _, sk := range cs.Progress.Skipped {
			fmt.Fprintf(w, "  skipped, not updated: %s (%s)\n", sk.Instance, sk.Reason)
		}
		if len(cs.Blocked) == 0 {
			fmt.Fprintln(w, "  blocked: nothing")
		}
		for _, b := range cs.Blocked {
			fmt.Fprintf(w, "  blocked: %s\n", b)
		}
		for _, n := range cs.NeedsAttention {
			fmt.Fprintf(w, "  needs attention: %s\n", n)
		}
		for _, lt := range cs.LaunchTemplates {
			fmt.Fprintf(w, "  launch template of %s: %s", lt.AutoScalingGroup, lt.Outcome)
			if lt.Reason != "" {
				fmt.Fprintf(w, " (%s)", lt.Reason)
			}
			fmt.Fprintf(w, " %s ago: %s\n", age(max(r.At.Sub(lt.At), 0)), lt.Message)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tWAITING\tIN FLIGHT\tDELAYED\tDEAD LETTERS")
	for _, q := range r.Queues {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", q.Queue, q.Messages, q.InFlight, q.Delayed, q.DeadLetters)
	}
	tw.Flush()
}

// waiting describes an instance's wait for admission at now: "paused for 1h2m (since
// 2025-06-02T09:00:02Z)", or "-".
func waiting(in instanceStatus, now time.Time) string {
	switch {
	case in.Waiting == "":
		return "-"
	case in.WaitingSince.IsZero():
		return in.Waiting
	}
	return fmt.Sprintf("%s for %s (since %s)", in.Waiting, max(now.Sub(in.WaitingSince), 0).Round(time.Second),
		in.WaitingSince.UTC().Format(time.RFC3339))
}

// clusterNames lists every cluster of the region by name.
func clusterNames(ctx context.Context, api *ecs.Client) ([]string, error) {
	var names []string
	p := ecs.NewListClustersPaginator(api, &ecs.ListClustersInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
		for _, arn := range out.ClusterArns {
			names = append(names, pause.ClusterName(arn))
		}
	}
	sort.Strings(names)
	return names, nil
}
