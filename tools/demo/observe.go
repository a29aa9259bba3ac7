package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// observer keeps the last fleetsim state for the live view and remembers which instances ever
// held a job. It measures nothing: the time each instance spent out of service comes from
// fleetsim's report (admin.InstanceReport), exact in simulated time.
type observer struct {
	// jobs holds the instances that were ever seen with a rollwave.job attribute.
	jobs map[string]bool
	last admin.State
}

func newObserver() *observer { return &observer{jobs: map[string]bool{}} }

// Observe records one state.
func (o *observer) Observe(st admin.State) {
	o.last = st
	for _, c := range st.Clusters {
		for _, in := range c.Instances {
			if in.Attributes[update.AttrJob] != "" {
				o.jobs[in.EC2InstanceID] = true
			}
		}
	}
}

// Busy returns the instances that hold a job that has not ended: a rollwave.job attribute with a
// stage other than failed.
func (o *observer) Busy() []string {
	var ids []string
	for _, c := range o.last.Clusters {
		for _, in := range c.Instances {
			if in.Attributes[update.AttrJob] != "" && in.Attributes[update.AttrStage] != string(update.StageFailed) {
				ids = append(ids, in.EC2InstanceID)
			}
		}
	}
	return ids
}

// row is one instance as the live view shows it.
type row struct{ cluster, instance, version, status, stage, ended string }

func (r row) String() string {
	return fmt.Sprintf("%-9s %-21s %-8s %-9s %-10s %s", r.cluster, r.instance, r.version, r.status, r.stage, r.ended)
}

// rows returns the instances of the last state with their job's ending, if any.
func (o *observer) rows(ended map[string]Ended) []row {
	var rs []row
	for _, c := range o.last.Clusters {
		for _, in := range c.Instances {
			status := in.Status
			if !in.HostUp {
				status = "REBOOTING"
			} else if !in.AgentConnected {
				status += "/agent-off"
			}
			r := row{cluster: c.Name, instance: in.EC2InstanceID, version: in.Version, status: status, stage: in.Attributes[update.AttrStage]}
			if r.stage == "" {
				r.stage = "-"
			}
			if e, ok := ended[in.EC2InstanceID]; ok {
				r.ended = strings.TrimPrefix(e.DetailType, "Instance Update ")
				if e.DetailType != notify.InstanceUpdateSucceeded {
					r.ended += ": " + reasonInWords(e.Detail)
				}
			}
			rs = append(rs, r)
		}
	}
	return rs
}

// view renders the live view: in place on a terminal, as lines of changes otherwise.
type view struct {
	w        io.Writer
	terminal bool
	// limit is how many instances of a cluster may be out of service at once.
	limit    update.Limit
	drawn    int // lines of the last frame
	prev     map[string]string
	progress string // the last progress line written, off a terminal
}

// progress is the line under the live view: how far the rollout is, each cluster's instances out
// of service against the limit, and an estimate of the time left.
//
// The estimate assumes the instances left take as long each as the ended ones took on average
// since the demo started (elapsed): it is a rate, shown once a job has ended.
func progress(o *observer, ended map[string]Ended, elapsed time.Duration, limit update.Limit) string {
	total, updated, skipped, failed := 0, 0, 0, 0
	var oos []string
	for _, c := range o.last.Clusters {
		out := 0
		for _, in := range c.Instances {
			total++
			if in.Status != "ACTIVE" || !in.AgentConnected || !in.HostUp {
				out++
			}
			switch ended[in.EC2InstanceID].DetailType {
			case notify.InstanceUpdateSucceeded:
				updated++
			case notify.InstanceUpdateSkipped:
				skipped++
			case notify.InstanceUpdateFailed:
				failed++
			}
		}
		oos = append(oos, fmt.Sprintf("%s %d/%d", c.Name, out, limit.Max(len(c.Instances))))
	}
	done := updated + skipped + failed
	eta := "time left: estimated once a job has ended"
	switch {
	case done >= total:
		eta = "every instance has ended"
	case done > 0:
		left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
		eta = fmt.Sprintf("about %s left", left.Round(time.Second))
	}
	return fmt.Sprintf("updated %d/%d, skipped %d, failed %d · out of service (limit %s): %s · %s",
		updated, total, skipped, failed, limit, strings.Join(oos, ", "), eta)
}

func (v *view) render(o *observer, ended map[string]Ended, elapsed time.Duration) {
	rs := o.rows(ended)
	line := progress(o, ended, elapsed, v.limit)
	if !v.terminal {
		if v.prev == nil {
			v.prev = map[string]string{}
		}
		for _, r := range rs {
			s := r.String()
			if v.prev[r.instance] != s {
				v.prev[r.instance] = s
				fmt.Fprintf(v.w, "%6.1fs %s\n", elapsed.Seconds(), s)
			}
		}
		// A new line when the counts change, not for every tick of the estimate.
		if counts, _, _ := strings.Cut(line, " · about"); counts != v.progress {
			v.progress = counts
			fmt.Fprintf(v.w, "%6.1fs %s\n", elapsed.Seconds(), line)
		}
		return
	}
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.drawn)
	}
	lines := []string{fmt.Sprintf("rollwave demo  %5.1fs  simulated %s", elapsed.Seconds(), o.last.Now.Format("15:04:05")),
		row{"CLUSTER", "INSTANCE", "VERSION", "STATUS", "STAGE", "JOB"}.String()}
	for _, r := range rs {
		lines = append(lines, r.String())
	}
	lines = append(lines, line)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	v.drawn = len(lines)
	fmt.Fprint(v.w, b.String()) // a frame on the terminal: nothing to do if it cannot be drawn
}
