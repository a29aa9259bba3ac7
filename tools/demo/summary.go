package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// Ended is how one instance's job ended, from its pipeline event (shared/notify).
type Ended struct {
	DetailType string           `json:"detailType"`
	Detail     notify.JobDetail `json:"detail"`
}

// Outcome is everything the summary is made from.
type Outcome struct {
	Report admin.Report `json:"report"`
	// Ended by EC2 instance ID.
	Ended map[string]Ended `json:"ended"`
	// Limit is how many instances of a cluster may be out of service at once, as
	// ROLLWAVE_MAX_OUT_OF_SERVICE takes it: a count ("1") or a percentage ("20%").
	Limit string `json:"limit"`
	// TimedOut is true when the demo's deadline ended the wait for the jobs.
	TimedOut bool `json:"timedOut"`
	// ScanRequested is the simulated time at which the scan request was sent.
	ScanRequested time.Time `json:"scanRequested"`
	// QueueCalls are the SQS, EventBridge and CloudWatch calls that passed the counting proxy in
	// front of moto, by access key ID (a worker's name) and "service:Operation".
	QueueCalls map[string]map[string]int `json:"queueCalls"`
}

// Summary is the verdict on a rollout and the lines that explain it.
type Summary struct {
	// Headline is the tally a person reads first: how many instances were updated, skipped (by
	// reason, in words) and failed.
	Headline  string
	Instances []InstanceLine
	Services  []string
	Clusters  []string
	Lines     []string
	// Problems lists why the rollout did not succeed; empty means it did.
	Problems []string
	Updated  int
	// CallsPerUpdated is the workers' AWS API calls (ECS, SSM, EC2) per updated instance.
	CallsPerUpdated float64
	// QueueCallsPerUpdated is the workers' SQS, EventBridge and CloudWatch calls per updated
	// instance.
	QueueCallsPerUpdated float64
	// MeanBeyond, MedianBeyond, P99Beyond and MaxBeyond are the updated instances' time out of
	// service beyond their drain and reboot (simulated), from fleetsim's report.
	MeanBeyond, MedianBeyond, P99Beyond, MaxBeyond time.Duration
	// Makespan is the simulated time from the first updated instance going out of service to the
	// last coming back; LowerBound the least it could be (lowerBound); LeadIn the time from the
	// scan request to the first drain (scan, staging, admission).
	Makespan, LowerBound, LeadIn time.Duration
	// OverLimit is the number of clusters that had more instances out of service at once than
	// the limit, BelowFloor the services that ran fewer tasks than their floor, LeftDraining the
	// instances left DRAINING. Each is zero in a safe rollout.
	OverLimit, BelowFloor, LeftDraining int
}

// InstanceLine is one instance's result.
type InstanceLine struct {
	Cluster, Instance, Result string
}

// OK reports whether the rollout succeeded.
func (s Summary) OK() bool { return len(s.Problems) == 0 }

// Summarize judges a rollout. It succeeded when every instance's job ended updated (on a new
// version, rebooted exactly once) or skipped with a reason, no service ran fewer tasks than its
// minimumHealthyPercent floor, no cluster had more instances out of service than the limit,
// and no instance is left DRAINING.
func Summarize(o Outcome) Summary {
	var s Summary
	problem := func(f string, a ...any) { s.Problems = append(s.Problems, fmt.Sprintf(f, a...)) }
	if o.TimedOut {
		problem("the deadline passed before every job ended")
	}
	insts := append([]admin.InstanceReport(nil), o.Report.Instances...)
	sort.Slice(insts, func(i, j int) bool {
		if insts[i].Cluster != insts[j].Cluster {
			return insts[i].Cluster < insts[j].Cluster
		}
		return insts[i].EC2InstanceID < insts[j].EC2InstanceID
	})
	limit, err := update.ParseLimit(o.Limit)
	if err != nil {
		problem("%v", err)
	}
	skipped, failed := map[string]int{}, 0
	var beyondTotal time.Duration
	var beyond []time.Duration
	var updated []admin.InstanceReport
	for _, in := range insts {
		line := InstanceLine{Cluster: in.Cluster, Instance: in.EC2InstanceID}
		e, ended := o.Ended[in.EC2InstanceID]
		switch {
		case !ended:
			line.Result = fmt.Sprintf("no job ended (still %s on %s)", in.Status, in.Version)
			problem("%s/%s: no job ended", in.Cluster, in.EC2InstanceID)
		case e.DetailType == notify.InstanceUpdateSucceeded:
			line.Result = fmt.Sprintf("updated %s → %s, %d reboot(s)", in.InitialVersion, in.Version, in.Reboots)
			line.Result += fmt.Sprintf(", out of service %s = drain %s + reboot %s + %s beyond",
				round(in.OutOfService.D()), round(in.Drain.D()), round(in.Reboot.D()), round(in.Beyond.D()))
			beyondTotal += in.Beyond.D()
			beyond = append(beyond, in.Beyond.D())
			updated = append(updated, in)
			s.MaxBeyond = max(s.MaxBeyond, in.Beyond.D())
			s.Updated++
			if in.Version == in.InitialVersion {
				problem("%s/%s: reported updated but still runs %s", in.Cluster, in.EC2InstanceID, in.Version)
			}
			if in.Reboots != 1 {
				problem("%s/%s: rebooted %d times, want exactly 1", in.Cluster, in.EC2InstanceID, in.Reboots)
			}
			if in.Status != "ACTIVE" {
				problem("%s/%s: updated but %s", in.Cluster, in.EC2InstanceID, in.Status)
			}
		case e.DetailType == notify.InstanceUpdateSkipped:
			reason := e.Detail.Reason
			line.Result = "skipped: " + reasonInWords(e.Detail)
			if e.Detail.Message != "" {
				line.Result += " — " + e.Detail.Message
			}
			skipped[reasonInWords(e.Detail)]++
			if reason == "" {
				problem("%s/%s: skipped without a reason", in.Cluster, in.EC2InstanceID)
			}
		default:
			failed++
			line.Result = fmt.Sprintf("failed: %s", reasonInWords(e.Detail))
			if e.Detail.Message != "" {
				line.Result += " (" + e.Detail.Message + ")"
			}
			problem("%s/%s: failed: %s", in.Cluster, in.EC2InstanceID, orNone(e.Detail.Reason))
		}
		s.Instances = append(s.Instances, line)
	}
	s.Headline = headline(s.Updated, skipped, failed, len(insts))

	for _, sv := range o.Report.Services {
		if sv.Daemon {
			s.Services = append(s.Services, fmt.Sprintf("%s/%s: daemon, min %d running of %d", sv.Cluster, sv.Service, sv.MinRunning, sv.Desired))
			continue
		}
		verdict := "ok"
		if sv.BelowFloor || sv.MinRunning < sv.Floor {
			verdict = "BELOW FLOOR"
			s.BelowFloor++
			problem("%s/%s: %d running, below its floor of %d", sv.Cluster, sv.Service, sv.MinRunning, sv.Floor)
		}
		s.Services = append(s.Services, fmt.Sprintf("%s/%s: min %d running, floor %d (%d%% of %d): %s",
			sv.Cluster, sv.Service, sv.MinRunning, sv.Floor, sv.MinimumHealthyPercent, sv.Desired, verdict))
	}
	size := map[string]int{}
	for _, c := range o.Report.Clusters {
		size[c.Cluster] = c.Instances
		most := limit.Max(c.Instances)
		verdict := "ok"
		if c.MaxOutOfService > most {
			verdict = "OVER THE LIMIT"
			s.OverLimit++
			problem("%s: %d instances out of service at once, limit %d", c.Cluster, c.MaxOutOfService, most)
		}
		s.Clusters = append(s.Clusters, fmt.Sprintf("%s: max %d out of service at once, limit %d: %s", c.Cluster, c.MaxOutOfService, most, verdict))
	}
	s.LeftDraining = len(o.Report.LeftDraining)
	if len(o.Report.LeftDraining) > 0 {
		problem("left DRAINING: %s", strings.Join(o.Report.LeftDraining, ", "))
		s.Lines = append(s.Lines, "left DRAINING: "+strings.Join(o.Report.LeftDraining, ", "))
	} else {
		s.Lines = append(s.Lines, "left DRAINING: none")
	}
	calls, byService := 0, map[string]int{}
	for _, w := range workers {
		for op, n := range o.Report.APICallsByCaller[w] {
			calls += n
			svc, _, _ := strings.Cut(op, ":")
			byService[svc] += n
		}
	}
	var parts []string
	for _, svc := range sortedKeys(byService) {
		parts = append(parts, fmt.Sprintf("%s %d", svc, byService[svc]))
	}
	queueCalls, queueByService := 0, map[string]int{}
	for _, w := range workers {
		for op, n := range o.QueueCalls[w] {
			queueCalls += n
			svc, _, _ := strings.Cut(op, ":")
			queueByService[svc] += n
		}
	}
	var queueParts []string
	for _, svc := range sortedKeys(queueByService) {
		queueParts = append(queueParts, fmt.Sprintf("%s %d", svc, queueByService[svc]))
	}
	perInstance, queuePerInstance := "n/a (nothing updated)", "n/a (nothing updated)"
	if s.Updated > 0 {
		s.CallsPerUpdated = float64(calls) / float64(s.Updated)
		s.QueueCallsPerUpdated = float64(queueCalls) / float64(s.Updated)
		s.MeanBeyond = beyondTotal / time.Duration(s.Updated)
		s.MedianBeyond, s.P99Beyond = percentile(beyond, 50), percentile(beyond, 99)
		perInstance = fmt.Sprintf("%.1f per updated instance", s.CallsPerUpdated)
		queuePerInstance = fmt.Sprintf("%.1f per updated instance", s.QueueCallsPerUpdated)
		s.Lines = append(s.Lines, fmt.Sprintf("time out of service beyond drain and reboot, per updated instance: mean %s, median %s, p99 %s, max %s",
			round(s.MeanBeyond), round(s.MedianBeyond), round(s.P99Beyond), round(s.MaxBeyond)))
		if first, last, ok := outOfServiceSpan(updated); ok && lowerBound(updated, size, limit) > 0 {
			s.Makespan, s.LowerBound = last.Sub(first), lowerBound(updated, size, limit)
			line := fmt.Sprintf("rollout from the first drain to the last instance back in service: %s, %.2f × its lower bound of %s",
				round(s.Makespan), s.Makespan.Seconds()/s.LowerBound.Seconds(), round(s.LowerBound))
			if !o.ScanRequested.IsZero() {
				s.LeadIn = first.Sub(o.ScanRequested)
				line += fmt.Sprintf(" (%s from the scan request to the first drain)", round(s.LeadIn))
			}
			s.Lines = append(s.Lines, line)
		}
	}
	s.Lines = append(s.Lines, fmt.Sprintf("AWS API calls of the workers (ECS, SSM, EC2): %d, %s (%s)", calls, perInstance, strings.Join(parts, ", ")))
	if o.QueueCalls != nil {
		s.Lines = append(s.Lines, fmt.Sprintf("their SQS, EventBridge and CloudWatch calls: %d, %s (%s)", queueCalls, queuePerInstance, strings.Join(queueParts, ", ")))
	}
	return s
}

// headline is "Result: 7 updated, 1 skipped (1 a task that no service started runs there), 0 failed,
// of 8 instances".
func headline(updated int, skipped map[string]int, failed, total int) string {
	n := 0
	var why []string
	for _, reason := range sortedKeys(skipped) {
		n += skipped[reason]
		why = append(why, fmt.Sprintf("%d %s", skipped[reason], reason))
	}
	skips := fmt.Sprintf("%d skipped", n)
	if n > 0 {
		skips += " (" + strings.Join(why, "; ") + ")"
	}
	return fmt.Sprintf("Result: %d updated, %s, %d failed, of %d instances", updated, skips, failed, total)
}

// Write prints the summary.
func (s Summary) Write(w io.Writer) {
	fmt.Fprintln(w, s.Headline)
	fmt.Fprintln(w, "Instances:")
	for _, l := range s.Instances {
		fmt.Fprintf(w, "  %s/%s: %s\n", l.Cluster, l.Instance, l.Result)
	}
	fmt.Fprintln(w, "  (simulated times from fleetsim's report; \"beyond\" = time out of service minus the drain, DRAINING")
	fmt.Fprintln(w, "   until the last task stopped, and the reboot, host down until the ECS agent reconnected)")
	fmt.Fprintln(w, "Services (fewest running tasks vs the minimumHealthyPercent floor):")
	for _, l := range s.Services {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w, "Clusters:")
	for _, l := range s.Clusters {
		fmt.Fprintln(w, "  "+l)
	}
	for _, l := range s.Lines {
		fmt.Fprintln(w, l)
	}
	if s.OK() {
		fmt.Fprintln(w, "Rollout succeeded.")
		return
	}
	fmt.Fprintln(w, "Rollout did NOT succeed:")
	for _, p := range s.Problems {
		fmt.Fprintln(w, "  - "+p)
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

func orNone(s string) string {
	if s == "" {
		return "(no reason given)"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
