package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// rolloutSummary is what a rollout did, or is forecast to do: read from its pipeline events (as
// the history keeps them) and the fleet's report. plan prints it for a forecast; the test that
// checks a forecast builds the same from the real rollout, so both are measured alike.
type rolloutSummary struct {
	// Start is the first job's start, End the last job's end; Makespan is End − Start.
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Makespan string    `json:"makespan"`
	// MakespanSeconds is Makespan in seconds, for scripts.
	MakespanSeconds float64           `json:"makespanSeconds"`
	Waves           []summaryWave     `json:"waves"`
	Instances       []summaryInstance `json:"instances"`
	Services        []summaryService  `json:"services"`
	Waits           []summaryWait     `json:"waits"`
	// Unfinished are the jobs that did not end, or that ended in a dead-letter queue, with why.
	Unfinished []string `json:"unfinished"`
}

// summaryWave is a wave of drains of a cluster: the instances taken out of service before the
// first of them came back, from the first drain to the last return.
type summaryWave struct {
	Cluster   string    `json:"cluster"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Instances []string  `json:"instances"`
}

// summaryInstance is one instance's part: when its job started and it left service, how long
// it was out, and how its job ended.
type summaryInstance struct {
	Cluster       string    `json:"cluster"`
	EC2InstanceID string    `json:"ec2InstanceId"`
	JobStart      time.Time `json:"jobStart,omitzero"`
	// OutAt is when it first left service (DRAINING), zero if it never did.
	OutAt        time.Time `json:"outOfServiceAt,omitzero"`
	OutOfService string    `json:"outOfService"`
	// Outcome is updated, skipped, failed, or none (no job: no update offered, or opted out).
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Waited lists the reasons admission held its drain, in order.
	Waited []string `json:"waited,omitempty"`
}

// summaryService is a service's lowest running count during the rollout, against its floor.
type summaryService struct {
	Cluster    string `json:"cluster"`
	Service    string `json:"service"`
	Desired    int    `json:"desired"`
	Floor      int    `json:"floor"`
	MinRunning int    `json:"minRunning"`
	BelowFloor bool   `json:"belowFloor"`
}

// summaryWait is where and why drains waited: per cluster and reason, how many jobs were held
// and the longest hold; Reported counts the holds long enough for the drainer to report them
// ("Instance Update Waiting", past ROLLWAVE_WAITING_THRESHOLD): the waits a person notices,
// where a hold of a few seconds (a look just before an instance came back) is not.
type summaryWait struct {
	Cluster  string `json:"cluster"`
	Reason   string `json:"reason"`
	Jobs     int    `json:"jobs"`
	Longest  string `json:"longest"`
	Reported int    `json:"reported"`
}

// standaloneTask is the reason of a job skipped for its instance's standalone tasks.
const standaloneTask = string(update.CodeStandaloneTask)

// summarize reads a rollout from its pipeline events (oldest first) and the fleet's report at
// its end; unfinished are the jobs the caller knows did not end.
func summarize(records []history.Record, fleet admin.Report, unfinished []string) rolloutSummary {
	s := rolloutSummary{Unfinished: append([]string{}, unfinished...), Waves: []summaryWave{}, Instances: []summaryInstance{},
		Services: []summaryService{}, Waits: []summaryWait{}}
	type hold struct {
		cluster, reason string
		since           time.Time
	}
	byInstance := map[string]*summaryInstance{}
	for _, in := range fleet.Instances {
		si := &summaryInstance{Cluster: in.Cluster, EC2InstanceID: in.EC2InstanceID, OutOfService: in.OutOfService.D().Truncate(time.Second).String(), Outcome: "none"}
		for _, e := range in.Timeline {
			if e.Event == admin.EventDraining {
				si.OutAt = e.T
				break
			}
		}
		byInstance[in.EC2InstanceID] = si
	}
	holds := map[string]hold{} // job ID -> the hold under way
	type waitKey struct{ cluster, reason string }
	waits := map[waitKey]*summaryWait{}
	longest := map[waitKey]time.Duration{}
	for _, r := range records {
		if r.JobID == "" {
			continue
		}
		si := byInstance[r.EC2InstanceID]
		if si == nil {
			si = &summaryInstance{Cluster: r.Cluster, EC2InstanceID: r.EC2InstanceID, Outcome: "none", OutOfService: "0s"}
			byInstance[r.EC2InstanceID] = si
		}
		k := waitKey{r.Cluster, ""}
		if h, ok := holds[r.JobID]; ok && (r.Decision != notify.DecisionHeld || r.Reason != h.reason) {
			k.reason = h.reason
			longest[k] = max(longest[k], r.At.Sub(h.since))
			delete(holds, r.JobID)
		}
		switch {
		case r.Event == notify.InstanceUpdateStarted:
			if s.Start.IsZero() || r.At.Before(s.Start) {
				s.Start = r.At
			}
			si.JobStart = r.At
		case r.Event == notify.InstanceUpdateWaiting:
			k.reason = r.Reason
			if waits[k] == nil {
				waits[k] = &summaryWait{Cluster: r.Cluster, Reason: r.Reason}
			}
			waits[k].Reported++
		case r.Decision == notify.DecisionHeld:
			if _, ok := holds[r.JobID]; ok {
				break
			}
			holds[r.JobID] = hold{cluster: r.Cluster, reason: r.Reason, since: r.At}
			k.reason = r.Reason
			if waits[k] == nil {
				waits[k] = &summaryWait{Cluster: r.Cluster, Reason: r.Reason}
			}
			waits[k].Jobs++
			if !slices.Contains(si.Waited, r.Reason) {
				si.Waited = append(si.Waited, r.Reason)
			}
		case r.Ended():
			s.End = maxTime(s.End, r.At)
			si.Outcome, si.Reason = r.Outcome, r.Reason
			if r.Outcome == "updated" {
				si.Reason = ""
			}
		}
	}
	for _, h := range holds { // held to the end
		k := waitKey{h.cluster, h.reason}
		longest[k] = max(longest[k], s.End.Sub(h.since))
	}
	if !s.End.IsZero() {
		s.Makespan = s.End.Sub(s.Start).Truncate(time.Second).String()
		s.MakespanSeconds = s.End.Sub(s.Start).Seconds()
	}
	for _, si := range byInstance {
		if si.Reason != standaloneTask || si.OutAt.IsZero() {
			continue
		}
		// Drained under the standalone policy wait or stop, it waited for its standalone
		// tasks until the drain was undone: out of service all that time.
		k := waitKey{si.Cluster, standaloneTask}
		if waits[k] == nil {
			waits[k] = &summaryWait{Cluster: si.Cluster, Reason: standaloneTask}
		}
		waits[k].Jobs++
		waits[k].Reported++
		out, _ := time.ParseDuration(si.OutOfService)
		longest[k] = max(longest[k], out)
	}
	for k, w := range waits {
		w.Longest = longest[k].Truncate(time.Second).String()
		s.Waits = append(s.Waits, *w)
	}
	slices.SortFunc(s.Waits, func(a, b summaryWait) int {
		return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Reason, b.Reason))
	})
	for _, si := range byInstance {
		s.Instances = append(s.Instances, *si)
	}
	slices.SortFunc(s.Instances, func(a, b summaryInstance) int {
		return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.EC2InstanceID, b.EC2InstanceID))
	})
	for _, sv := range fleet.Services {
		s.Services = append(s.Services, summaryService{Cluster: sv.Cluster, Service: sv.Service, Desired: sv.Desired, Floor: sv.Floor,
			MinRunning: sv.MinRunning, BelowFloor: sv.BelowFloor})
	}
	slices.SortFunc(s.Services, func(a, b summaryService) int {
		return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Service, b.Service))
	})
	s.Waves = waves(fleet)
	return s
}

// waves groups each cluster's drains into waves: a drain starts a new wave once an instance of
// the current wave is back in service (a slot freed), else it joins the current one.
func waves(fleet admin.Report) []summaryWave {
	type out struct {
		id            string
		drain, active time.Time
	}
	byCluster := map[string][]out{}
	for _, in := range fleet.Instances {
		var o out
		for _, e := range in.Timeline {
			switch {
			case e.Event == admin.EventDraining && o.drain.IsZero():
				o.drain = e.T
			case e.Event == admin.EventActive && !o.drain.IsZero():
				o.active = e.T
			}
		}
		if !o.drain.IsZero() {
			o.id = in.EC2InstanceID
			byCluster[in.Cluster] = append(byCluster[in.Cluster], o)
		}
	}
	var ws []summaryWave
	for c, outs := range byCluster {
		slices.SortFunc(outs, func(a, b out) int { return a.drain.Compare(b.drain) })
		var cur *summaryWave
		firstBack := time.Time{}
		for _, o := range outs {
			if cur == nil || (!firstBack.IsZero() && !o.drain.Before(firstBack)) {
				ws = append(ws, summaryWave{Cluster: c, Start: o.drain})
				cur = &ws[len(ws)-1]
				firstBack = time.Time{}
			}
			cur.Instances = append(cur.Instances, o.id)
			if !o.active.IsZero() && (firstBack.IsZero() || o.active.Before(firstBack)) {
				firstBack = o.active
			}
			cur.End = maxTime(cur.End, o.active)
		}
	}
	slices.SortFunc(ws, func(a, b summaryWave) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Cluster, b.Cluster))
	})
	return ws
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// printSummary writes s for a person, times as offsets from its start.
func printSummary(w io.Writer, s rolloutSummary) {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "+" + t.Sub(s.Start).Truncate(time.Second).String()
	}
	waves := fmt.Sprintf("%d waves", len(s.Waves))
	if len(s.Waves) == 1 {
		waves = "1 wave"
	}
	fmt.Fprintf(w, "forecast: makespan %s, %s\n", orDefault(s.Makespan, "- (no job ran)"), waves)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(s.Waves) > 0 {
		fmt.Fprintln(tw, "  WAVE\tCLUSTER\tFROM\tTO\tINSTANCES")
		for i, wv := range s.Waves {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", i+1, wv.Cluster, at(wv.Start), at(wv.End), strings.Join(wv.Instances, " "))
		}
		tw.Flush()
	}
	fmt.Fprintln(tw, "  INSTANCE\tCLUSTER\tJOB START\tOUT OF SERVICE AT\tOUT FOR\tOUTCOME\tWAITED")
	for _, in := range s.Instances {
		outcome := in.Outcome
		if in.Reason != "" {
			outcome += " (" + in.Reason + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.EC2InstanceID, in.Cluster, at(in.JobStart), at(in.OutAt), in.OutOfService, outcome,
			orDefault(strings.Join(in.Waited, ", "), "-"))
	}
	tw.Flush()
	if len(s.Services) > 0 {
		fmt.Fprintln(tw, "  SERVICE\tCLUSTER\tDESIRED\tFLOOR\tLOWEST RUNNING")
		for _, sv := range s.Services {
			low := fmt.Sprint(sv.MinRunning)
			if sv.BelowFloor {
				low += " BELOW FLOOR"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", sv.Service, sv.Cluster, sv.Desired, sv.Floor, low)
		}
		tw.Flush()
	}
	if len(s.Waits) > 0 {
		fmt.Fprintln(tw, "  DRAINS WAIT FOR\tCLUSTER\tJOBS\tLONGEST\tREPORTED")
		for _, wt := range s.Waits {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\n", wt.Reason, wt.Cluster, wt.Jobs, wt.Longest, wt.Reported)
		}
		tw.Flush()
	} else {
		fmt.Fprintln(w, "  no drain waits")
	}
	for _, u := range s.Unfinished {
		fmt.Fprintf(w, "  unfinished: %s\n", u)
	}
}
