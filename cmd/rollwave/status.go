package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
)

var statusCommand = command{
	name:    "status",
	summary: "show each cluster's Bottlerocket instances, the queues, pauses and what is blocked",
	usage:   "[--cluster C ...] [--versions] [--watch [--interval D]] [--max-out-of-service N|P%] [-o text|json]",
	help: `
Shows, per cluster, each Bottlerocket container instance (ECS attribute bottlerocket.variant)
with its EC2 instance ID, ECS status, agent connection, the rollwave job that owns it, its stage
(rollwave.stage), the failure reason of a failed job (rollwave.failure) and, for a job the
drainer holds before admission, why it waits and since when (rollwave.waiting); the counts in
service, out of service (taken by rollwave, or drained by someone else) and failed, and how many
the limit counts (every instance that does not serve, failed ones parked out of service
included); the depth of
every pipeline queue and its dead-letter queue; the pauses; and what blocks the rollout of each
cluster (a pause, the out-of-service limit, failed instances waiting for a person).

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
	Blocked      []string    `json:"blocked"`
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

// attrFailure is the attribute in which a failed job leaves its reason (shared/pipeline).
const attrFailure = "rollwave.failure"

func runStatus(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "show this cluster (repeatable, or comma-separated)")
	versions := fs.Bool("versions", false, "run the update check over SSM to show each instance's version (slower)")
	watch := fs.Bool("watch", false, "redraw until Ctrl-C")
	interval := fs.Duration("interval", 5*time.Second, "how often --watch redraws")
	limitFlag := fs.String("max-out-of-service", orDefault(strings.TrimSpace(a.getenv("ROLLWAVE_MAX_OUT_OF_SERVICE")), "1"), "the drainer's limit per cluster: a count or a percentage")
	output := outputFlag(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(c, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
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
		clusters.Set(a.getenv("ROLLWAVE_CLUSTERS"))
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	draw := func() error {
		r, err := a.status(ctx, clusters, limit, *versions)
		if err != nil {
			return err
		}
		if *output == "json" {
			return writeJSON(a, r)
		}
		if *watch {
			fmt.Fprint(a.stdout, "\033[H\033[2J") // home, clear screen
		}
		printStatus(a.stdout, r)
		return nil
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
func (a *app) status(ctx context.Context, names []string, limit update.Limit, versions bool) (statusReport, error) {
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
		cs := clusterStatus{Cluster: name, Instances: []instanceStatus{}, Blocked: []string{}}
		var views []update.InstanceView
		for _, in := range instances {
			is := instanceStatus{
				EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN, Status: in.Status,
				AgentConnected: in.AgentConnected, Job: in.Attributes[update.AttrJob],
				Stage: in.Attributes[update.AttrStage], Failure: in.Attributes[attrFailure],
			}
			if raw, ok := in.Attributes[update.AttrWaiting]; ok {
				is.Waiting = raw
				if w, err := update.ParseWaiting(raw); err == nil {
					is.Waiting, is.WaitingSince = string(w.Reason), w.Since
				}
			}
			cs.Instances = append(cs.Instances, is)
			stage, _ := update.ParseStage(in.Attributes[update.AttrStage])
			views = append(views, update.InstanceView{ARN: in.ARN, EC2InstanceID: in.EC2InstanceID, Status: in.Status,
				AgentConnected: in.AgentConnected, Job: in.Attributes[update.AttrJob], Stage: stage})
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
		if cs.parked > 0 {
			cs.Blocked = append(cs.Blocked, fmt.Sprintf("%d failed instance(s) kept out for a person, counted against the limit: see rollwave.failure, fix, then re-activate them in ECS", cs.parked))
		}
		if versions {
			a.versions(ctx, cl, cs.Instances)
		}
		r.Clusters = append(r.Clusters, cs)
	}
	return r, nil
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
		if len(cs.Blocked) == 0 {
			fmt.Fprintln(w, "  blocked: nothing")
		}
		for _, b := range cs.Blocked {
			fmt.Fprintf(w, "  blocked: %s\n", b)
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
