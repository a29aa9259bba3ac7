package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

var jobsListCommand = command{
	name:    "jobs list",
	summary: "every job in flight, waiting, dead-lettered, and ended recently",
	usage:   "[--cluster C ...] [--stage S ...] [--outcome O ...] [--since D] [-o text|json|table] [--query Q]",
	help: `
Lists every job rollwave knows of, one row each, from three sources (--cluster keeps the rows of
those clusters; without it the instances of $ROLLWAVE_CLUSTERS, else of every cluster, are read):
  - the instances' marks in ECS (rollwave.job, rollwave.stage, rollwave.waiting): the jobs in
    flight, the ones the drainer holds before admission (state waiting, with why and since when),
    and the failed ones whose instance is parked for a person (state failed: needs attention);
  - the dead-letter queues, read without consuming (each message is hidden for a few seconds
    and released at once): state dead-lettered, with the worker's reason and the receives;
  - the history (the log group /aws/events/<prefix>-history): the jobs that ended within --since,
    with their outcome and reason code (docs/events.md), and when each job started.

--stage keeps the jobs at these stages (rollwave.stage, or the dead-lettered job's step);
--outcome the ended jobs with these outcomes (updated, skipped, failed, duplicate). The state of
a row is in-flight, waiting, failed, dead-lettered or ended. ATTEMPTS is the receive count of the
job's message at its step (1 is the first try; more is retries after failures or, for a held
job, looks): a dead-lettered job's from its dead letter; any other job's as of its latest event
in the history (each worker's decision carries it), since a message in flight cannot be read
without taking it from its worker.

Examples:
  rollwave jobs list
  rollwave jobs list --cluster prod --outcome failed --since 72h
  rollwave jobs list -o json --query "[?state=='waiting'].[instance, waiting]"
`,
	run: runJobsList,
}

var jobsDescribeCommand = command{
	name:    "jobs describe",
	summary: "one job's history: every step with its time, worker, decision and reason",
	usage:   "(JOB-ID | i-… | ARN) [--cluster C ...] [-o text|json|table] [--query Q]",
	help: `
Shows what rollwave knows of one job, named by its ID, or of the jobs of one instance, named by
its EC2 instance ID or container instance ARN: the instance's marks now (status, job, stage,
why it waits, the failure); every event of the history (docs/events.md), oldest first, with its
time, the worker that published it, its step, the decision (started; staged; held, with the
wait's reason; admitted; drained; rebooted; waiting long; the outcome), the reason code, the
receives the step took and the message; and, where the job is dead-lettered, the worker's
reason and the command that redrives it.

An instance is looked for in the clusters of --cluster, else $ROLLWAVE_CLUSTERS, else every
cluster of the region. Nothing found anywhere is exit 3.

Examples:
  rollwave jobs describe j-9b1e5d7c3a2f80e46d5a
  rollwave jobs describe i-0123456789abcdef0 -o json | jq '.history[] | {at, worker, decision, reason, receives}'
`,
	run: runJobsDescribe,
}

// Job states of jobs list.
const (
	stateInFlight     = "in-flight"
	stateWaiting      = "waiting"
	stateFailed       = "failed"
	stateDeadLettered = "dead-lettered"
	stateEnded        = "ended"
)

// jobRow is one row of jobs list -o json. Its field names are a contract with scripts.
type jobRow struct {
	JobID    string `json:"jobId"`
	Cluster  string `json:"cluster"`
	Instance string `json:"instance"`
	State    string `json:"state"`
	Stage    string `json:"stage,omitempty"`
	// Since is when the job entered its state: its start, its wait, its dead-lettering, its end.
	Since   time.Time `json:"since,omitzero"`
	Waiting string    `json:"waiting,omitempty"`
	// WaitingDetail says more of a wait for the window: when it opens.
	WaitingDetail string `json:"waitingDetail,omitempty"`
	// Attempts is the receive count of the job's message at its step: a dead letter's, else
	// that of the job's latest event in the history; absent when neither says.
	Attempts int    `json:"attempts,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	// DeadLetterQueue and MessageID locate a dead-lettered job for dlq redrive.
	DeadLetterQueue string `json:"deadLetterQueue,omitempty"`
	MessageID       string `json:"messageId,omitempty"`
}

func runJobsList(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters, stages, outcomes stringList
	fs.Var(&clusters, "cluster", "only this cluster (repeatable, or comma-separated)")
	fs.Var(&stages, "stage", "only jobs at this stage, e.g. staged, draining, failed (repeatable)")
	fs.Var(&outcomes, "outcome", "only ended jobs with this outcome: updated, skipped, failed, duplicate (repeatable)")
	since := fs.Duration("since", 24*time.Hour, "how far back the history is read for ended jobs")
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	if *since <= 0 {
		return usagef("%s: --since must be positive", c.name)
	}
	for _, o := range outcomes {
		if !slices.Contains([]string{"updated", "skipped", "failed", "duplicate"}, o) {
			return usagef("%s: --outcome %q: want updated, skipped, failed or duplicate", c.name, o)
		}
	}
	// --cluster filters every row; without it, the instances of $ROLLWAVE_CLUSTERS (else of
	// every cluster) are read, and the dead letters and history of any cluster are shown.
	only := slices.Clone(clusters)
	if len(clusters) == 0 {
		_ = clusters.Set(a.getenv("ROLLWAVE_CLUSTERS")) // a stringList takes any value
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	rows, warnings, err := a.jobs(ctx, clusters, time.Now().Add(-*since))
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	rows = slices.DeleteFunc(rows, func(r jobRow) bool {
		return (len(only) > 0 && !slices.Contains(only, r.Cluster)) ||
			(len(stages) > 0 && !slices.Contains(stages, r.Stage)) ||
			(len(outcomes) > 0 && !slices.Contains(outcomes, r.Outcome))
	})
	return a.emit(out, rows, func(w io.Writer) { printJobs(w, rows, time.Now()) })
}

// jobs gathers the rows of jobs list: the instances' marks, the dead letters and the history
// since since. A history that cannot be read is a warning, not a failure: the live state is
// still worth showing.
func (a *app) jobs(ctx context.Context, clusters []string, since time.Time) (rows []jobRow, warnings []string, err error) {
	cl, err := a.aws(ctx)
	if err != nil {
		return nil, nil, err
	}
	records, err := history.NewReader(cl.logs, a.historyGroup()).Read(ctx, history.Query{Since: since})
	if err != nil {
		warnings = append(warnings, a.historyProblem(err))
	}
	started := map[string]time.Time{}
	ended := map[string]history.Record{}
	receives := map[string]int{} // of the job's latest event that carries them
	for _, r := range records {
		if r.JobID != "" && r.Receives > 0 {
			receives[r.JobID] = r.Receives
		}
		switch {
		case r.JobID == "":
		case r.Event == "Instance Update Started":
			started[r.JobID] = r.At
		case r.Ended():
			ended[r.JobID] = r
		}
	}
	live := map[string]bool{}

	names := clusters
	if len(names) == 0 {
		if names, err = clusterNames(ctx, cl.ecsAPI); err != nil {
			return nil, warnings, err
		}
	}
	for _, name := range names {
		instances, err := cl.ecs.ListInstances(ctx, name, "", "attribute:"+update.AttrJob+" exists")
		if err != nil {
			return nil, warnings, err
		}
		for _, in := range instances {
			id := in.Attributes[update.AttrJob]
			r := jobRow{JobID: id, Cluster: name, Instance: orDefault(in.EC2InstanceID, in.ARN), State: stateInFlight,
				Stage: in.Attributes[update.AttrStage], Since: started[id], Attempts: receives[id]}
			if w, ok := in.Waiting(); ok {
				r.State, r.Waiting = stateWaiting, string(w.Reason)
				if !w.Since.IsZero() {
					r.Since = w.Since
				}
				if r.Waiting == string(update.WaitWindow) {
					r.WaitingDetail = a.windowNote(name, time.Now())
				}
			}
			if r.Stage == string(update.StageFailed) {
				r.State, r.Reason = stateFailed, in.Attributes[update.AttrFailure]
				r.Message = "needs attention: parked out of service; after a look, rollwave instances release " + r.Instance
				if e, ok := ended[id]; ok {
					r.Since, r.Message = e.At, e.Message
				}
			}
			live[id] = true
			rows = append(rows, r)
		}
	}

	for _, q := range a.topology().Queues {
		dead, err := a.deadLetters(ctx, q)
		if err != nil {
			return nil, warnings, err
		}
		for _, d := range dead {
			r := jobRow{State: stateDeadLettered, Since: d.SentAt, Attempts: d.ReceiveCount, Reason: d.Reason,
				DeadLetterQueue: q.DeadLetter.Name, MessageID: d.ID}
			if d.Job != nil {
				r.JobID, r.Cluster, r.Instance, r.Stage = d.Job.ID, d.Job.Cluster, d.Job.Instance, string(d.Job.Step)
			}
			if r.JobID != "" {
				live[r.JobID] = true
			}
			rows = append(rows, r)
		}
	}

	for id, e := range ended {
		if live[id] {
			continue
		}
		rows = append(rows, jobRow{JobID: id, Cluster: e.Cluster, Instance: orDefault(e.EC2InstanceID, e.Instance),
			State: stateEnded, Stage: e.Step, Since: e.At, Attempts: receives[id], Outcome: e.Outcome, Reason: e.Reason, Message: e.Message})
	}
	order := map[string]int{stateFailed: 0, stateDeadLettered: 1, stateWaiting: 2, stateInFlight: 3, stateEnded: 4}
	sort.SliceStable(rows, func(i, j int) bool {
		if order[rows[i].State] != order[rows[j].State] {
			return order[rows[i].State] < order[rows[j].State]
		}
		if rows[i].Cluster != rows[j].Cluster {
			return rows[i].Cluster < rows[j].Cluster
		}
		return rows[i].Instance < rows[j].Instance
	})
	if rows == nil {
		rows = []jobRow{}
	}
	return rows, warnings, nil
}

// deadLetters reads the messages of q's dead-letter queue (up to oldestPeek) without consuming
// them; an empty queue costs one GetQueueAttributes, not a receive.
func (a *app) deadLetters(ctx context.Context, q topology.Queue) ([]deadLetter, error) {
	url, err := a.queueURL(ctx, q.DeadLetter.Name)
	if err != nil {
		return nil, err
	}
	if visible, _, _, err := a.queueCounts(ctx, url); err != nil || visible == 0 {
		return nil, err
	}
	msgs, err := a.peek(ctx, url, oldestPeek, 10*time.Second)
	a.release(ctx, url, msgs)
	return msgs, err
}

func (a *app) historyGroup() string { return topology.HistoryLogGroup(a.prefix) }

// historyProblem says why the history is missing and what to check.
func (a *app) historyProblem(err error) string {
	if errors.Is(err, history.ErrNoHistory) {
		return fmt.Sprintf("no history: the log group %s does not exist (the Terraform module and the bootstrap create it; check --prefix and --region); ended jobs are not shown", a.historyGroup())
	}
	return fmt.Sprintf("the history could not be read, ended jobs are not shown: %v", err)
}

func printJobs(w io.Writer, rows []jobRow, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCLUSTER\tINSTANCE\tSTATE\tSTAGE\tSINCE\tATTEMPTS\tWHY")
	for _, r := range rows {
		since := "-"
		if !r.Since.IsZero() {
			since = age(max(now.Sub(r.Since), 0)) + " ago"
		}
		attempts := "-"
		if r.Attempts > 0 {
			attempts = fmt.Sprint(r.Attempts)
		}
		var why string
		switch r.State {
		case stateWaiting:
			why = "waiting: " + r.Waiting
			if r.WaitingDetail != "" {
				why += ": " + r.WaitingDetail
			}
		case stateEnded:
			why = r.Outcome + ": " + r.Reason
		case stateFailed:
			why = "needs attention: " + r.Reason
		case stateDeadLettered:
			why = truncate(r.Reason, 50) + "; rollwave dlq redrive " + r.DeadLetterQueue + " --message-id " + r.MessageID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDefault(r.JobID, "?"), orDefault(r.Cluster, "?"), orDefault(r.Instance, "?"),
			r.State, orDefault(r.Stage, "-"), since, attempts, orDefault(why, "-"))
	}
	tw.Flush()
}

// jobDescription is the document of jobs describe -o json. Its field names are a contract.
type jobDescription struct {
	// ID is what was asked for: a job ID or an instance.
	ID string `json:"id"`
	// Instance is the instance's state now, when it was found in ECS.
	Instance *instanceNow `json:"instance,omitempty"`
	// History is every event about the job or the instance, oldest first.
	History []history.Record `json:"history"`
	// DeadLetters are the job's messages in a dead-letter queue, each with its redrive command.
	DeadLetters []deadLetterRef `json:"deadLetters"`
}

type instanceNow struct {
	Cluster              string    `json:"cluster"`
	EC2InstanceID        string    `json:"ec2InstanceId"`
	ContainerInstanceARN string    `json:"containerInstanceArn"`
	Status               string    `json:"status"`
	Job                  string    `json:"job,omitempty"`
	Stage                string    `json:"stage,omitempty"`
	Failure              string    `json:"failure,omitempty"`
	Waiting              string    `json:"waiting,omitempty"`
	WaitingSince         time.Time `json:"waitingSince,omitzero"`
}

type deadLetterRef struct {
	Queue     string    `json:"deadLetterQueue"`
	MessageID string    `json:"messageId"`
	JobID     string    `json:"jobId,omitempty"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	At        time.Time `json:"deadLetteredAt"`
	Redrive   string    `json:"redrive"`
}

func runJobsDescribe(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "look for an instance in this cluster (repeatable, or comma-separated)")
	out := a.outputFlags(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("%s needs exactly one job ID or instance, got %d arguments", c.name, len(args))
	}
	id := args[0]
	if len(clusters) == 0 {
		_ = clusters.Set(a.getenv("ROLLWAVE_CLUSTERS")) // a stringList takes any value
	}
	cl, err := a.aws(ctx)
	if err != nil {
		return err
	}
	d := jobDescription{ID: id, History: []history.Record{}, DeadLetters: []deadLetterRef{}}
	records, err := history.NewReader(cl.logs, a.historyGroup()).Read(ctx, history.Query{About: id})
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %s\n", a.historyProblem(err))
	}
	d.History = append(d.History, records...)

	// The instance: the one named, else the one the job's events name.
	instance, cluster := "", ""
	if update.IsEC2InstanceID(id) || update.IsContainerInstanceARN(id) {
		instance = id
	}
	for _, r := range records {
		if r.JobID == id {
			instance, cluster = orDefault(r.EC2InstanceID, r.Instance), r.Cluster
		}
	}
	for _, q := range a.topology().Queues {
		dead, err := a.deadLetters(ctx, q)
		if err != nil {
			return err
		}
		for _, m := range dead {
			if m.Job == nil || (m.Job.ID != id && m.Job.Instance != id) {
				continue
			}
			d.DeadLetters = append(d.DeadLetters, deadLetterRef{Queue: q.DeadLetter.Name, MessageID: m.ID, JobID: m.Job.ID,
				Reason: m.Reason, Attempts: m.ReceiveCount, At: m.SentAt,
				Redrive: fmt.Sprintf("rollwave dlq redrive %s --message-id %s", q.Logical, m.ID)})
			if instance == "" {
				instance, cluster = m.Job.Instance, m.Job.Cluster
			}
		}
	}
	if instance != "" {
		search := []string(clusters)
		if cluster != "" {
			search = []string{cluster}
		}
		if d.Instance, err = a.findInstance(ctx, search, instance); err != nil {
			return err
		}
	}
	if d.Instance == nil && len(d.History) == 0 && len(d.DeadLetters) == 0 {
		return notFoundf("nothing known of %s: no instance with that ID in %s, no event in the history %s, no dead letter", id,
			orDefault(strings.Join(clusters, ", "), "any cluster"), a.historyGroup())
	}
	return a.emit(out, d, func(w io.Writer) { printDescription(w, d) })
}

// findInstance looks for the instance (EC2 ID or ARN) in the clusters (every cluster when none)
// and returns its state, or nil when no cluster has it.
func (a *app) findInstance(ctx context.Context, clusters []string, instance string) (*instanceNow, error) {
	cl, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	if len(clusters) == 0 {
		if clusters, err = clusterNames(ctx, cl.ecsAPI); err != nil {
			return nil, err
		}
	}
	for _, name := range clusters {
		in, err := cl.ecs.Instance(ctx, name, instance)
		if err != nil {
			continue // not in this cluster (or the cluster is gone): look in the next
		}
		now := &instanceNow{Cluster: name, EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN, Status: in.Status,
			Job: in.Attributes[update.AttrJob], Stage: in.Attributes[update.AttrStage], Failure: in.Attributes[update.AttrFailure]}
		if w, ok := in.Waiting(); ok {
			now.Waiting, now.WaitingSince = string(w.Reason), w.Since
		}
		return now, nil
	}
	return nil, nil
}

func printDescription(w io.Writer, d jobDescription) {
	if in := d.Instance; in != nil {
		fmt.Fprintf(w, "Instance %s in cluster %s: %s", in.EC2InstanceID, in.Cluster, in.Status)
		switch {
		case in.Job == "":
			fmt.Fprint(w, ", no rollwave job")
		case in.Stage == string(update.StageFailed):
			fmt.Fprintf(w, ", job %s failed (%s): needs attention; after a look: rollwave instances release %s", in.Job, in.Failure, in.EC2InstanceID)
		default:
			fmt.Fprintf(w, ", job %s at stage %s", in.Job, orDefault(in.Stage, "-"))
		}
		if in.Waiting != "" {
			fmt.Fprintf(w, ", waiting: %s", in.Waiting)
			if !in.WaitingSince.IsZero() {
				fmt.Fprintf(w, " since %s", in.WaitingSince.UTC().Format(time.RFC3339))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nHistory:")
	if len(d.History) == 0 {
		fmt.Fprintln(w, "  nothing recorded")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(d.History) > 0 {
		fmt.Fprintln(tw, "  TIME\tWORKER\tJOB\tSTEP\tDECISION\tREASON\tRECEIVES\tMESSAGE")
	}
	for _, r := range d.History {
		decision := strings.TrimPrefix(strings.TrimPrefix(r.Event, "Instance Update "), "Cluster Rollout ")
		switch {
		case r.Outcome != "":
			decision = r.Outcome
		case r.Decision != "":
			decision = r.Decision
		}
		if r.DryRun {
			decision += " (dry run)"
		}
		receives := "-"
		if r.Receives > 0 {
			receives = fmt.Sprint(r.Receives)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.UTC().Format(time.RFC3339), orDefault(r.Worker, "-"), orDefault(r.JobID, "-"),
			orDefault(r.Step, "-"), strings.ToLower(decision), orDefault(r.Reason, "-"), receives, orDefault(truncate(r.Message, 80), "-"))
	}
	tw.Flush()
	for _, dl := range d.DeadLetters {
		fmt.Fprintf(w, "\nDead-lettered in %s at %s after %d attempt(s): %s\n  redrive: %s\n", dl.Queue, dl.At.UTC().Format(time.RFC3339),
			dl.Attempts, orDefault(dl.Reason, "no reason recorded"), dl.Redrive)
	}
}

// windowNote says when the maintenance window of cluster opens, by the policies of this shell's
// environment (ROLLWAVE_MAINTENANCE_WINDOW, ROLLWAVE_CLUSTER_POLICIES: the workers' settings when
// the operator has them at hand), or "" when they name no window or do not load.
func (a *app) windowNote(cluster string, now time.Time) string {
	set, err := policy.Load(a.getenv)
	if err != nil {
		return ""
	}
	w := set.For(cluster).Window
	if w.Always() {
		return ""
	}
	return fmt.Sprintf("outside the maintenance window %q; it opens at %s (by this shell's policy settings)", w.String(),
		w.NextOpen(now).UTC().Format(time.RFC3339))
}
