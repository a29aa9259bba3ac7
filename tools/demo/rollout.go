package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/report"
	"github.com/rollwave/rollwave/shared/update"
)

// Rollout is the outcome as the page of shared/report draws it: fleetsim's steps and counts,
// each instance's outcome from its pipeline event (a skipped or failed one with its reason in
// words), each cluster's limit, and the time axis from the scan request to the report.
func (o Outcome) Rollout() report.Rollout {
	r := o.Report.Rollout()
	r.Start = o.ScanRequested
	var names []string
	limit, _ := update.ParseLimit(o.Limit) // Summarize reports a bad limit
	size := map[string]int{}
	for _, c := range o.Report.Clusters {
		size[c.Cluster] = c.Instances
	}
	for i, c := range r.Clusters {
		names = append(names, c.Name)
		r.Clusters[i].Limit = limit.Max(size[c.Name])
	}
	r.Title = "make demo: rollout of " + strings.Join(names, ", ") + " (simulated time)"
	for i, in := range r.Instances {
		e, ok := o.Ended[in.ID]
		if !ok {
			continue
		}
		switch e.DetailType {
		case notify.InstanceUpdateSucceeded:
			r.Instances[i].Outcome = report.Updated
		case notify.InstanceUpdateSkipped:
			r.Instances[i].Outcome, r.Instances[i].Detail = report.Skipped, reasonInWords(e.Detail)
		case notify.InstanceUpdateFailed:
			r.Instances[i].Outcome, r.Instances[i].Detail = report.Failed, reasonInWords(e.Detail)
		}
	}
	return r
}

// reasonInWords is a pipeline event's reason as a person reads it: its meaning, then the code
// that dashboards and docs/job.md use.
func reasonInWords(d notify.JobDetail) string {
	if d.Reason == "" {
		return "(no reason given)"
	}
	return fmt.Sprintf("%s (%s)", update.Code(d.Reason).Words(), d.Reason)
}

// writeRolloutPage writes the rollout's page (shared/report) to path.
func writeRolloutPage(path string, o Outcome) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create rollout page: %w", err)
	}
	if err := report.WriteHTML(f, o.Rollout()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write rollout page: %w", err)
	}
	return nil
}
