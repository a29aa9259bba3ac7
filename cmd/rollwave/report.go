package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/report"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

var reportCommand = command{
	name:    "report",
	summary: "draw a rollout as an HTML page: each instance's steps on a time axis, out of service per cluster",
	usage:   "[--history [--since D] [--cluster C]] [--fleetsim URL] [--out FILE|-] [--max-out-of-service N|P%] [--title T] [-o text|json|table] [--query Q]",
	help: `
Writes a self-contained HTML page (inline SVG and CSS: no script, nothing fetched) of a rollout:
one row per instance with its steps as bars on a time axis (staging, waiting, drain, reboot,
verify) and its outcome, and for each cluster the instances out of service over time against
the limit. Open it in any browser, attach it to a ticket.

--history reads the jobs of the deployment's history (the log group /aws/events/<prefix>-history,
docs/architecture.md) that started within --since: it records when each job started, waited
for admission and ended, and how, not its drain and reboot, so each row shows the job as one
bar (its wait apart) and each cluster's out-of-service chart is left out.

--fleetsim reads the rollout from a fleet simulator's report (GET <URL>/fleetsim/report), the
local stack of 'make up' or a test's: an instance whose version changed is shown updated, one
that rollwave left marked failed, failed. With --history too, the steps come from the simulator
and each instance's outcome and reason from the history (a skip, and why). make demo writes the same page, with every outcome
and reason from the pipeline's events, next to its outcome.json.

--max-out-of-service is the limit drawn on each cluster's chart (default
$ROLLWAVE_MAX_OUT_OF_SERVICE, else 1). --out - writes the page to standard output.

Examples:
  rollwave report --history --since 6h --out rollout.html
  rollwave report --fleetsim http://127.0.0.1:4599 --out rollout.html
  rollwave report --fleetsim "$ROLLWAVE_FLEETSIM_URL" --history --out rollout.html
  rollwave report --fleetsim "$ROLLWAVE_FLEETSIM_URL" --max-out-of-service 20% --out - > rollout.html
`,
	run: runReport,
}

func runReport(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var fleetsim, out, limitFlag, title string
	fs.StringVar(&fleetsim, "fleetsim", "", "base URL of a fleet simulator whose report to draw")
	fromHistory := fs.Bool("history", false, "draw the jobs of the deployment's history (its log group); with --fleetsim, take the outcomes from it")
	sinceFlag := fs.Duration("since", 24*time.Hour, "with --history: the jobs that started within this long")
	clusterFlag := fs.String("cluster", "", "with --history: only this cluster's jobs")
	fs.StringVar(&out, "out", "rollout.html", "file to write the page to; - for standard output")
	fs.StringVar(&limitFlag, "max-out-of-service", firstNonEmpty(a.getenv("ROLLWAVE_MAX_OUT_OF_SERVICE"), "1"), "the limit drawn per cluster: a count or a percentage")
	fs.StringVar(&title, "title", "", "the page's title; empty: rollout of <clusters>")
	o := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	since, clusterFilter := time.Now().Add(-*sinceFlag), *clusterFlag
	if fleetsim == "" && !*fromHistory {
		return usagef("report: give a source: --history (the deployment's history), --fleetsim URL (a fleet simulator's report), or both")
	}
	limit, err := update.ParseLimit(limitFlag)
	if err != nil {
		return usagef("report: --max-out-of-service: %v", err)
	}
	var r report.Rollout
	if *fromHistory {
		if r, err = a.historyRollout(ctx, since, clusterFilter); err != nil {
			return err
		}
	}
	if fleetsim != "" {
		jobs := r
		rep, err := admin.New(fleetsim).Report(ctx)
		if err != nil {
			return fmt.Errorf("read the fleet simulator's report: %w", err)
		}
		r = rep.Rollout()
		size := map[string]int{}
		for _, cr := range rep.Clusters {
			size[cr.Cluster] = cr.Instances
		}
		for i, cl := range r.Clusters {
			r.Clusters[i].Limit = limit.Max(size[cl.Name])
		}
		if *fromHistory {
			withOutcomes(&r, jobs)
		}
	}
	var names []string
	for _, cl := range r.Clusters {
		names = append(names, cl.Name)
	}
	r.Title = title
	if r.Title == "" {
		r.Title = "rollout of " + strings.Join(names, ", ")
	}
	if out == "-" {
		return report.WriteHTML(a.stdout, r)
	}
	if !o.json() {
		return writePage(out, r, a.stdout)
	}
	if err := writePage(out, r, io.Discard); err != nil {
		return err
	}
	updated := 0
	for _, in := range r.Instances {
		if in.Outcome == report.Updated {
			updated++
		}
	}
	return a.emit(o, map[string]any{"out": out, "instances": len(r.Instances), "updated": updated}, nil)
}

// writePage writes r's page to path and says where it is.
func writePage(path string, r report.Rollout, stdout io.Writer) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := report.WriteHTML(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	updated := 0
	for _, in := range r.Instances {
		if in.Outcome == report.Updated {
			updated++
		}
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: %d instances, %d updated\n", path, len(r.Instances), updated)
	return err
}

// historyRollout is the rollout of the jobs of the history that started since then (of cluster
// only, when given): per instance, each job from its start to its end (or to now, in flight),
// the wait for admission it reported apart, with its outcome and reason in words.
func (a *app) historyRollout(ctx context.Context, since time.Time, cluster string) (report.Rollout, error) {
	cl, err := a.aws(ctx)
	if err != nil {
		return report.Rollout{}, err
	}
	records, err := history.NewReader(cl.logs, a.historyGroup()).Read(ctx, history.Query{Since: since, Cluster: cluster})
	if errors.Is(err, history.ErrNoHistory) {
		return report.Rollout{}, notFoundf("no history log group %s: check --prefix and --region, or deploy the history rule (terraform/README.md)", a.historyGroup())
	}
	if err != nil {
		return report.Rollout{}, err
	}
	return rolloutOfHistory(records, time.Now()), nil
}

// withOutcomes gives the instances of r (a fleet simulator's steps) the outcome and reason of
// their last job in jobs (the history's), which the fleet alone cannot tell: a skip, and why.
func withOutcomes(r *report.Rollout, jobs report.Rollout) {
	byID := map[string]report.Instance{}
	for _, in := range jobs.Instances {
		byID[in.Cluster+"/"+in.ID] = in
	}
	for i, in := range r.Instances {
		if j, ok := byID[in.Cluster+"/"+in.ID]; ok && j.Outcome != report.None {
			r.Instances[i].Outcome, r.Instances[i].Detail = j.Outcome, j.Detail
		}
	}
}

// unrecorded is why a page of the history draws no out-of-service chart.
const unrecorded = "the history records when each job started, waited and ended, not when its instance was drained and rebooted"

// rolloutOfHistory turns records (oldest first) into a rollout: one row per instance, a job bar
// per job, split around its reported wait for admission; a job without an end runs until now.
func rolloutOfHistory(records []history.Record, now time.Time) report.Rollout {
	type job struct {
		cluster, instance      string
		start, end             time.Time
		waitFrom, waitTo       time.Time
		outcome, reason, msg   string
		fromVersion, toVersion string
	}
	jobs := map[string]*job{}
	var order []string
	for _, rec := range records {
		if rec.JobID == "" {
			continue // pauses, halts: not a job
		}
		j := jobs[rec.JobID]
		if j == nil {
			j = &job{cluster: rec.Cluster, instance: firstNonEmpty(rec.EC2InstanceID, rec.Instance), start: rec.At}
			jobs[rec.JobID] = j
			order = append(order, rec.JobID)
		}
		switch {
		case rec.Event == notify.InstanceUpdateWaiting:
			j.waitFrom, j.waitTo = rec.WaitingSince, rec.At
		case rec.Ended():
			j.end, j.outcome, j.reason, j.msg = rec.At, rec.Outcome, rec.Reason, rec.Message
			j.fromVersion, j.toVersion = rec.FromVersion, rec.ToVersion
		}
	}
	var r report.Rollout
	rows := map[string]int{}
	seen := map[string]bool{}
	for _, id := range order {
		j := jobs[id]
		key := j.cluster + "/" + j.instance
		i, ok := rows[key]
		if !ok {
			i = len(r.Instances)
			rows[key] = i
			r.Instances = append(r.Instances, report.Instance{Cluster: j.cluster, ID: j.instance})
		}
		end := j.end
		if end.IsZero() {
			end = now
		}
		in := &r.Instances[i]
		if !j.waitFrom.IsZero() && !j.waitFrom.Before(j.start) && j.waitTo.After(j.waitFrom) && !j.waitTo.After(end) {
			in.Steps = append(in.Steps, report.Step{Kind: report.Job, Start: j.start, End: j.waitFrom},
				report.Step{Kind: report.Waiting, Start: j.waitFrom, End: j.waitTo},
				report.Step{Kind: report.Job, Start: j.waitTo, End: end})
		} else {
			in.Steps = append(in.Steps, report.Step{Kind: report.Job, Start: j.start, End: end})
		}
		// The row tells the instance's last job.
		in.Outcome, in.Detail = report.None, "in flight"
		switch update.Result(j.outcome) {
		case update.ResultUpdated:
			in.Outcome, in.Detail = report.Updated, strings.TrimPrefix(j.fromVersion+" → "+j.toVersion, " → ")
		case update.ResultSkipped:
			in.Outcome, in.Detail = report.Skipped, update.Code(j.reason).Words()+" ("+j.reason+")"
		case update.ResultFailed:
			in.Outcome, in.Detail = report.Failed, update.Code(j.reason).Words()+" ("+j.reason+")"
		case update.ResultDuplicate:
			in.Detail = "duplicate: " + update.Code(j.reason).Words()
		}
		if !seen[j.cluster] {
			seen[j.cluster] = true
			r.Clusters = append(r.Clusters, report.Cluster{Name: j.cluster, Unrecorded: unrecorded})
		}
	}
	return r
}
