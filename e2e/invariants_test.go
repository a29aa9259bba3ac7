package e2e_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// invariant names one promise that every e2e test keeps unless it declares otherwise
// (pipeline.breaks).
type invariant string

// The promises checkInvariants holds every test to, from fleetsim's report when the test ends.
const (
	// limitInvariant: no cluster ever had more instances out of service (status not ACTIVE or
	// agent disconnected, whoever put them there) than its limit, and the clusters together never
	// more than the global limit, both as the workers' policy resolves them.
	limitInvariant invariant = "limit"
	// floorInvariant: no service ever ran fewer healthy tasks than its floor,
	// ceil(desired × minimumHealthyPercent / 100).
	floorInvariant invariant = "floor"
	// drainingInvariant: nothing is left DRAINING except instances parked failed with a reason
	// (rollwave.stage=failed and rollwave.failure) and those a job that has not ended drains.
	drainingInvariant invariant = "draining"
	// markInvariant: no instance is left marked (rollwave.job or rollwave.stage) without a job:
	// once the pipeline's job queues are empty, only instances parked failed with a reason keep
	// their marks, and no instance keeps the marks of a job that ended.
	markInvariant invariant = "mark"
)

// The ECS attributes the check reads (docs/job.md).
const (
	attrJob     = "rollwave.job"
	attrStage   = "rollwave.stage"
	attrFailure = "rollwave.failure"
	stageFailed = "failed"
)

// quietTimeout bounds how long the check waits for the job queues to empty before it takes the
// pipeline for still working (a test may end with jobs held on purpose).
const quietTimeout = 10 * time.Second

// limits are the out-of-service limits the workers were started with.
type limits struct {
	perCluster map[string]int // cluster name -> most instances out of service at once
	global     int            // 0: no global limit
}

// limitsOf resolves the limits that the workers' environment env sets (later entries win, as in
// a process environment) for the clusters of rep, with the same loader the drainer uses, so that
// the check holds each test to exactly what it configured.
func limitsOf(env []string, rep admin.Report, arns map[string]string) (limits, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	set, err := policy.Load(func(k string) string { return vars[k] })
	if err != nil {
		return limits{}, fmt.Errorf("load the workers' policies: %w", err)
	}
	l := limits{perCluster: map[string]int{}, global: set.GlobalMaxOutOfService}
	for _, c := range rep.Clusters {
		pol := set.For(c.Cluster)
		if byARN, ok := set.Clusters[arns[c.Cluster]]; ok {
			pol = byARN
		}
		l.perCluster[c.Cluster] = pol.MaxOutOfService.Max(c.Instances)
	}
	return l, nil
}

// jobsState is what the check knows about the pipeline's jobs when the test ends.
type jobsState struct {
	// quiet: every job queue (scanner, patcher, drainer, verifier) was empty, nothing visible, in
	// flight or delayed: no job can still own an instance.
	quiet bool
	// ended holds the IDs of the jobs whose ending pipeline event was seen.
	ended map[string]bool
}

// checkInvariants returns one line per broken promise in rep, skipping the invariants in
// allowed (each with the reason the test gave).
func checkInvariants(rep admin.Report, lim limits, jobs jobsState, allowed map[invariant]string) []string {
	var out []string
	check := func(inv invariant) bool { _, skip := allowed[inv]; return !skip }
	if check(limitInvariant) {
		for _, c := range rep.Clusters {
			if limit, ok := lim.perCluster[c.Cluster]; ok && c.MaxOutOfService > limit {
				out = append(out, fmt.Sprintf("%s: cluster %s had %d instances out of service at once, above its limit %d (samples %s)",
					limitInvariant, c.Cluster, c.MaxOutOfService, limit, samples(c.Samples)))
			}
		}
		if total := maxTotalOutOfService(rep.Clusters); lim.global > 0 && total > lim.global {
			out = append(out, fmt.Sprintf("%s: %d instances out of service at once across the clusters, above the global limit %d",
				limitInvariant, total, lim.global))
		}
	}
	if check(floorInvariant) {
		for _, s := range rep.Services {
			if !s.Daemon && s.MinRunning < s.Floor {
				out = append(out, fmt.Sprintf("%s: service %s/%s ran %d healthy tasks at its lowest, below its floor %d",
					floorInvariant, s.Cluster, s.Service, s.MinRunning, s.Floor))
			}
		}
	}
	for _, in := range rep.Instances {
		job, stage, failure := in.Attributes[attrJob], in.Attributes[attrStage], in.Attributes[attrFailure]
		parked := stage == stageFailed && failure != ""
		// inFlight: a job that has not ended may still own the instance.
		inFlight := !jobs.quiet && (job == "" || !jobs.ended[job])
		marked := job != "" || stage != ""
		if check(drainingInvariant) && in.Status == "DRAINING" && !parked && !(marked && inFlight) {
			out = append(out, fmt.Sprintf("%s: %s (%s) left DRAINING, %s", drainingInvariant, in.EC2InstanceID, in.Cluster, marksOf(in)))
		}
		if !check(markInvariant) || !marked || parked {
			continue
		}
		switch {
		case stage == stageFailed:
			out = append(out, fmt.Sprintf("%s: %s (%s) parked failed without a reason, %s", markInvariant, in.EC2InstanceID, in.Cluster, marksOf(in)))
		case job != "" && jobs.ended[job]:
			out = append(out, fmt.Sprintf("%s: %s (%s) keeps the marks of job %s, which ended: %s", markInvariant, in.EC2InstanceID, in.Cluster, job, marksOf(in)))
		case jobs.quiet:
			out = append(out, fmt.Sprintf("%s: %s (%s) left marked with no job in the queues: %s", markInvariant, in.EC2InstanceID, in.Cluster, marksOf(in)))
		}
	}
	return out
}

// marksOf describes an instance's rollwave marks for a violation.
func marksOf(in admin.InstanceReport) string {
	var kv []string
	for _, k := range []string{attrJob, attrStage, attrFailure} {
		if v, ok := in.Attributes[k]; ok {
			kv = append(kv, k+"="+v)
		}
	}
	if len(kv) == 0 {
		return "no rollwave mark"
	}
	return strings.Join(kv, " ")
}

// samples formats a cluster's out-of-service counts as "count@time ...".
func samples(ss []admin.ClusterSample) string {
	var out []string
	for _, s := range ss {
		out = append(out, strconv.Itoa(s.OutOfService)+"@"+s.T.Format("15:04:05.000"))
	}
	return strings.Join(out, " ")
}

// breaks declares that the test breaks inv on purpose, and why: the check after the test leaves
// that invariant out and logs the reason.
//
//nolint:unused // how a test declares a broken invariant (doc.go); no test breaks one today
func (p *pipeline) breaks(inv invariant, reason string) {
	p.allowed[inv] = reason
}

// checkInvariantsAtEnd is registered by startPipeline to run when the test ends, before the
// workers and the stack stop: it waits (up to quietTimeout) for the job queues to empty, collects
// the pipeline events still in the results queue, and fails the test on every promise that
// fleetsim's report shows broken (checkInvariants).
func (p *pipeline) checkInvariantsAtEnd() {
	t := p.t
	// The test's context is cancelled before its cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), quietTimeout+30*time.Second)
	defer cancel()
	quiet, err := waitQuiet(ctx, quietTimeout, p.jobsQueued)
	if err != nil {
		t.Errorf("invariants: %v", err)
		return
	}
	if err := p.newResults().pollCtx(ctx); err != nil {
		t.Errorf("invariants: %v", err)
		return
	}
	rep, err := p.fleet.Report(ctx)
	if err != nil {
		t.Errorf("invariants: fleetsim report: %v", err)
		return
	}
	lim, err := limitsOf(p.env, rep, p.clusters)
	if err != nil {
		t.Errorf("invariants: %v", err)
		return
	}
	for _, inv := range slices.Sorted(maps.Keys(p.allowed)) {
		t.Logf("invariant %q not checked: %s", inv, p.allowed[inv])
	}
	for _, v := range checkInvariants(rep, lim, jobsState{quiet: quiet, ended: p.endedJobs}, p.allowed) {
		t.Errorf("invariant broken: %s", v)
	}
}

// quietReads is how many looks in a row must find the job queues empty before the pipeline is
// taken for quiet. One look can miss a job that is there: the queues are read one after the
// other, so a job forwarded from a queue not read yet to one already read is in neither count,
// and SQS's counts are approximate (moto reads its clock once per count, so a message whose
// visibility ends between two counts is in none of them). A job that waits is seen again at the
// next look.
const quietReads = 3

// waitQuiet polls the job queues (count, every 100 ms) until quietReads looks in a row find them
// all empty (quiet is true) or timeout passed.
func waitQuiet(ctx context.Context, timeout time.Duration, count func(context.Context) (int, error)) (quiet bool, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	empty := 0
	for {
		n, err := count(ctx)
		if err != nil {
			return false, err
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty == quietReads {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("wait for the job queues to empty: %w", ctx.Err())
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
	}
}

// jobsQueued counts the messages in the job queues: visible, in flight and delayed.
func (p *pipeline) jobsQueued(ctx context.Context) (int, error) {
	total := 0
	for _, logical := range []string{topology.Scanner, topology.Patcher, topology.Reboot, topology.Drainer, topology.Verifier} {
		q, err := p.topo.Queue(logical)
		if err != nil {
			return 0, err
		}
		a, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(q.URL),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
			},
		})
		if err != nil {
			return 0, fmt.Errorf("get attributes of %s: %w", q.Name, err)
		}
		for _, v := range a.Attributes {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("attributes of %s: count %q: %w", q.Name, v, err)
			}
			total += n
		}
	}
	return total, nil
}
