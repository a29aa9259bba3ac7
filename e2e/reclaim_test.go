package e2e_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestLostJobsAreReclaimed loses every job of a rollout in flight (the workers die and the job
// queues are deleted and created again, as a careless redeploy would) while a host is DRAINING,
// and shows that nothing is orphaned: once the leases on the marked hosts have expired (plus the
// grace), a scan reclaims each of them (ACTIVE again if rollwave drained it, marks removed,
// "Instance Reclaimed" published) and sends fresh jobs that update every host.
func TestLostJobsAreReclaimed(t *testing.T) {
	t.Parallel()
	// The workers' lease, short for the test; staging (apply + 3 SSM timeouts) must fit in half
	// of it, and the reclaim waits half of it past the expiry.
	const lease = 40 * time.Second
	p := startPipeline(t, "testdata/reclaim.yaml", "ROLLWAVE_LEASE="+lease.String(),
		"ROLLWAVE_APPLY_TIMEOUT=8s", "ROLLWAVE_SSM_TIMEOUT=4s", "ROLLWAVE_MAX_OUT_OF_SERVICE=2")
	ctx := t.Context()
	reclaimed := p.routeToQueue(ctx, eventbridge.NewFromConfig(p.stack.AWSConfig(ctx)), p.prefix, p.prefix+"-reclaimed",
		`{"source":["rollwave"],"detail-type":["`+notify.InstanceReclaimed+`"]}`)
	res := p.newResults()
	p.scan()

	// Rollwave draining at least one host. Staging is just in time (a look-ahead of the limit,
	// docs/decisions/lanes.md), so some hosts may be unmarked then: their jobs are lost too, in
	// the queues, and the rescan below sends them fresh ones; the marked ones are the orphans.
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		var marked, draining []string
		for _, in := range p.instances()["reclaim"] {
			if in.Attributes[update.AttrJob] != "" {
				marked = append(marked, in.EC2InstanceID)
			}
			if in.Status == "DRAINING" && in.Attributes[update.AttrStage] == string(update.StageDraining) {
				draining = append(draining, in.EC2InstanceID)
			}
		}
		return len(draining) > 0, fmt.Sprintf("marked: %v; draining: %v", marked, draining)
	})

	// Lose every job: the workers die, the queues are deleted and created again, empty.
	for _, w := range workers {
		p.procs[w].Kill()
	}
	p.recreateQueues()
	for _, w := range workers {
		p.procs[w].Restart()
	}
	orphans := map[string]admin.InstanceState{}
	for _, in := range p.instances()["reclaim"] {
		if in.Attributes[update.AttrJob] != "" {
			orphans[in.EC2InstanceID] = in
		}
	}
	drainedByRollwave := []string{}
	for id, in := range orphans {
		stage, _ := update.ParseStage(in.Attributes[update.AttrStage])
		if in.Status == "DRAINING" && stage.DrainedByRollwave() {
			drainedByRollwave = append(drainedByRollwave, id)
		}
		if _, err := update.ParseLease(in.Attributes[update.AttrLease]); err != nil {
			t.Errorf("%s is marked %v without a lease: %v", id, in.Attributes, err)
		}
	}
	slices.Sort(drainedByRollwave)
	t.Logf("lost every job: %d hosts left marked, %v DRAINING by rollwave", len(orphans), drainedByRollwave)
	if len(drainedByRollwave) == 0 {
		t.Fatal("no host left DRAINING by rollwave when the jobs were lost: the test shows nothing")
	}

	// Nobody renews the orphans' leases now. Wait until each expired half a lease ago: before,
	// a scan must take it for a slow worker's.
	harness.Eventually(t, 3*lease, func() (bool, string) {
		var holding []string
		for _, in := range p.instances()["reclaim"] {
			exp, err := update.ParseLease(in.Attributes[update.AttrLease])
			if err == nil && time.Now().Before(exp.Add(update.ReclaimGrace(lease))) {
				holding = append(holding, in.EC2InstanceID+" until "+exp.Add(update.ReclaimGrace(lease)).Format(time.RFC3339))
			}
		}
		return len(holding) == 0, fmt.Sprintf("leases not yet reclaimable: %v", holding)
	})
	rescan := time.Now()
	p.scan()

	// Each orphan is reclaimed, once, and what rollwave drained is ACTIVE again.
	events := map[string]notify.ReclaimedDetail{}
	harness.Eventually(t, 60*time.Second, func() (bool, string) {
		for _, d := range receiveDetails[notify.ReclaimedDetail](p, reclaimed, "reclaim") {
			if _, twice := events[d.EC2InstanceID]; twice {
				t.Errorf("%s reclaimed twice: %+v", d.EC2InstanceID, d)
			}
			events[d.EC2InstanceID] = d
		}
		var missing []string
		for id := range orphans {
			if _, ok := events[id]; !ok {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("not reclaimed yet: %v", missing)
	})
	t.Logf("every orphan reclaimed %s after the scan request", time.Since(rescan).Round(time.Millisecond))
	for id, in := range orphans {
		d := events[id]
		wantReactivated := slices.Contains(drainedByRollwave, id)
		if d.JobID != in.Attributes[update.AttrJob] || d.Stage != in.Attributes[update.AttrStage] || d.Reactivated != wantReactivated || d.Cluster != "reclaim" {
			t.Errorf("%s reclaimed as %+v, want job %s, stage %s, reactivated %t", id, d, in.Attributes[update.AttrJob], in.Attributes[update.AttrStage], wantReactivated)
		}
		if !strings.Contains(d.Message, "expired at") {
			t.Errorf("%s: the event's message %q does not say when the lease expired", id, d.Message)
		}
	}
	for id := range events {
		if _, ok := orphans[id]; !ok {
			t.Errorf("%s reclaimed, but no lost job had marked it", id)
		}
	}

	// The same scan sent fresh jobs: every host ends updated, ACTIVE and unmarked.
	harness.Eventually(t, 120*time.Second, func() (bool, string) {
		if err := res.poll(); err != nil {
			return false, err.Error()
		}
		var wrong []string
		for _, in := range p.instances()["reclaim"] {
			if in.Status != "ACTIVE" || !in.AgentConnected || in.Version != targetVersion || marked(in) {
				wrong = append(wrong, fmt.Sprintf("%s %s agent=%t %s %v", in.EC2InstanceID, in.Status, in.AgentConnected, in.Version, in.Attributes))
			}
		}
		return len(wrong) == 0, "not yet ACTIVE on " + targetVersion + " and unmarked: " + strings.Join(wrong, "; ")
	})
	for id := range orphans {
		e, ok := res.byEC2[id]
		if ok && e.At.After(events[id].At) && (e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion) {
			t.Errorf("%s's fresh job ended %q (%s: %s), want %q to %s", id, e.DetailType, e.Reason, e.Message, notify.InstanceUpdateSucceeded, targetVersion)
		}
	}
	rep := p.report()
	if len(rep.LeftDraining) > 0 {
		t.Errorf("instances left DRAINING: %v", rep.LeftDraining)
	}
	for _, c := range rep.Clusters {
		if c.MaxOutOfService > 2 {
			t.Errorf("cluster %s had %d instances out of service at once, limit 2", c.Cluster, c.MaxOutOfService)
		}
	}
	p.checkNoDeadLetters()
}

// recreateQueues deletes every queue of the topology with its dead-letter queue and creates them
// again, empty, under the same names: every message they held is lost.
func (p *pipeline) recreateQueues() {
	t := p.t
	t.Helper()
	ctx := t.Context()
	for _, q := range p.topo.Queues {
		for _, url := range []string{q.URL, q.DeadLetterURL} {
			if _, err := p.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
				t.Fatalf("delete queue %s: %v", url, err)
			}
		}
	}
	cfg := p.stack.AWSConfig(ctx)
	arns := make([]string, 0, len(p.clusters))
	for _, arn := range p.clusters {
		arns = append(arns, arn)
	}
	topo, err := topology.Bootstrap(ctx, topology.Clients{SQS: p.sqs, Events: eventbridge.NewFromConfig(cfg)},
		topology.Default(p.prefix).RestrictToClusters(arns))
	if err != nil {
		t.Fatalf("bootstrap again: %v", err)
	}
	p.topo = topo
}
