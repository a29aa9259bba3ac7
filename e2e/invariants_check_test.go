package e2e_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// TestCheckInvariants holds crafted fleetsim reports to the promises: each row breaks (or keeps)
// one, and the check must name exactly the broken ones.
func TestCheckInvariants(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	cluster := func(name string, counts ...int) admin.ClusterReport {
		c := admin.ClusterReport{Cluster: name, Instances: 4}
		for i, n := range counts {
			c.Samples = append(c.Samples, admin.ClusterSample{T: t0.Add(time.Duration(i) * time.Second), OutOfService: n})
			c.MaxOutOfService = max(c.MaxOutOfService, n)
		}
		return c
	}
	service := func(name string, daemon bool, floor, minRunning int) admin.ServiceReport {
		return admin.ServiceReport{Cluster: "a", Service: name, Daemon: daemon, Floor: floor, MinRunning: minRunning}
	}
	instance := func(id, status string, attrs ...string) admin.InstanceReport {
		in := admin.InstanceReport{Cluster: "a", EC2InstanceID: id, Status: status, Attributes: map[string]string{}}
		for i := 0; i+1 < len(attrs); i += 2 {
			in.Attributes[attrs[i]] = attrs[i+1]
		}
		return in
	}
	healthy := admin.Report{
		Clusters: []admin.ClusterReport{cluster("a", 0, 1, 0), cluster("b", 0, 1, 0)},
		Services: []admin.ServiceReport{service("web", false, 2, 2), service("logs", true, 0, 0)},
		Instances: []admin.InstanceReport{
			instance("i-1", "ACTIVE", "rollwave.verified-at", "2026-01-01T09:00:00Z"),
			instance("i-2", "ACTIVE"),
		},
	}
	lim := limits{perCluster: map[string]int{"a": 1, "b": 1}, global: 2}
	quiet := jobsState{quiet: true, ended: map[string]bool{"j-done": true}}
	working := jobsState{quiet: false, ended: map[string]bool{"j-done": true}}
	with := func(f func(r *admin.Report)) admin.Report {
		r := healthy
		r.Clusters = append([]admin.ClusterReport(nil), healthy.Clusters...)
		r.Services = append([]admin.ServiceReport(nil), healthy.Services...)
		r.Instances = append([]admin.InstanceReport(nil), healthy.Instances...)
		f(&r)
		return r
	}

	tests := []struct {
		name    string
		rep     admin.Report
		jobs    jobsState
		allowed map[invariant]string
		want    []string // the start of each violation, in order
	}{
		{name: "a clean rollout keeps every promise", rep: healthy, jobs: quiet},
		{name: "a cluster above its limit", jobs: quiet,
			rep:  with(func(r *admin.Report) { r.Clusters[0] = cluster("a", 0, 1, 2, 1, 0) }),
			want: []string{"limit: cluster a had 2 instances out of service at once, above its limit 1"}},
		{name: "the clusters together above the global limit", jobs: quiet,
			rep: with(func(r *admin.Report) {
				r.Clusters = []admin.ClusterReport{cluster("a", 1, 1, 0), cluster("b", 0, 1, 1), cluster("c", 0, 1, 0)}
			}),
			want: []string{"limit: 3 instances out of service at once across the clusters, above the global limit 2"}},
		{name: "a service below its floor", jobs: quiet,
			rep:  with(func(r *admin.Report) { r.Services[0] = service("web", false, 2, 1) }),
			want: []string{"floor: service a/web ran 1 healthy tasks at its lowest, below its floor 2"}},
		{name: "a daemon has no floor", jobs: quiet,
			rep: with(func(r *admin.Report) { r.Services[1] = service("logs", true, 1, 0) })},
		{name: "an instance a person left DRAINING", jobs: quiet,
			rep:  with(func(r *admin.Report) { r.Instances[1] = instance("i-2", "DRAINING") }),
			want: []string{"draining: i-2 (a) left DRAINING, no rollwave mark"}},
		{name: "an instance parked failed with its reason", jobs: quiet,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "DRAINING", "rollwave.job", "j-done", "rollwave.stage", "failed", "rollwave.failure", "never-came-back")
			})},
		{name: "an instance parked failed without a reason", jobs: quiet,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "DRAINING", "rollwave.job", "j-done", "rollwave.stage", "failed")
			}),
			want: []string{"draining: i-2 (a) left DRAINING", "mark: i-2 (a) parked failed without a reason"}},
		{name: "an instance still draining for a job that has not ended", jobs: working,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "DRAINING", "rollwave.job", "j-running", "rollwave.stage", "draining")
			})},
		{name: "an instance left draining once every job ended", jobs: quiet,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "DRAINING", "rollwave.job", "j-lost", "rollwave.stage", "draining")
			}),
			want: []string{"draining: i-2 (a) left DRAINING, rollwave.job=j-lost rollwave.stage=draining",
				"mark: i-2 (a) left marked with no job in the queues: rollwave.job=j-lost rollwave.stage=draining"}},
		{name: "a job held at staged while the pipeline works", jobs: working,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "ACTIVE", "rollwave.job", "j-waiting", "rollwave.stage", "staged")
			})},
		{name: "the marks of a job that ended, while others work", jobs: working,
			rep: with(func(r *admin.Report) {
				r.Instances[1] = instance("i-2", "ACTIVE", "rollwave.job", "j-done", "rollwave.stage", "staging")
			}),
			want: []string{"mark: i-2 (a) keeps the marks of job j-done, which ended"}},
		{name: "a stage without a job once the queues are empty", jobs: quiet,
			rep:  with(func(r *admin.Report) { r.Instances[1] = instance("i-2", "ACTIVE", "rollwave.stage", "staged") }),
			want: []string{"mark: i-2 (a) left marked with no job in the queues: rollwave.stage=staged"}},
		{name: "a test that declares what it breaks", jobs: quiet,
			allowed: map[invariant]string{drainingInvariant: "a person drains i-2", limitInvariant: "a person drains i-2"},
			rep: with(func(r *admin.Report) {
				r.Clusters[0] = cluster("a", 0, 1, 2, 1)
				r.Instances[1] = instance("i-2", "DRAINING")
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkInvariants(tt.rep, lim, tt.jobs, tt.allowed)
			var prefixes []string
			for i, v := range got {
				if i < len(tt.want) && strings.HasPrefix(v, tt.want[i]) {
					v = tt.want[i]
				}
				prefixes = append(prefixes, v)
			}
			if diff := cmp.Diff(tt.want, prefixes); diff != "" {
				t.Errorf("checkInvariants() violations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLimitsOf resolves the limits from the workers' environment as the drainer does: the
// default, a cluster's override (by name or by ARN), a percentage of the cluster's instances,
// and the global limit; a later entry wins.
func TestLimitsOf(t *testing.T) {
	rep := admin.Report{Clusters: []admin.ClusterReport{
		{Cluster: "ten", Instances: 10}, {Cluster: "five", Instances: 5}, {Cluster: "plain", Instances: 3}, {Cluster: "arn", Instances: 4},
	}}
	arns := map[string]string{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/arn"}
	env := []string{
		"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE=5",
		`ROLLWAVE_CLUSTER_POLICIES={"ten": {"maxOutOfService": "20%"}, "five": {"maxOutOfService": "3"},
			"arn:aws:ecs:us-east-1:123456789012:cluster/arn": {"maxOutOfService": "2"}}`,
		"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE=4",
	}
	got, err := limitsOf(env, rep, arns)
	if err != nil {
		t.Fatalf("limitsOf() error: %v", err)
	}
	want := limits{perCluster: map[string]int{"ten": 2, "five": 3, "plain": 1, "arn": 2}, global: 4}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(limits{})); diff != "" {
		t.Errorf("limitsOf() (-want +got):\n%s", diff)
	}
	if _, err := limitsOf([]string{"ROLLWAVE_MAX_OUT_OF_SERVICE=none"}, rep, arns); err == nil {
		t.Error("limitsOf() with ROLLWAVE_MAX_OUT_OF_SERVICE=none: no error, want the loader's")
	}
}

// TestWaitQuietWantsEmptyQueuesSeveralLooksInARow: one look that finds the job queues empty is
// not enough (a job moving between queues, or one whose visibility ends while SQS counts, is in
// no count); the pipeline is quiet only after quietReads empty looks in a row.
func TestWaitQuietWantsEmptyQueuesSeveralLooksInARow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		count func(look int) int // the jobs look number look (from 0) counts
		quiet bool
		looks int
	}{
		{"empty from the start", func(int) int { return 0 }, true, quietReads},
		{"a job missed by one look", func(look int) int { return []int{2, 0, 1, 0}[min(look, 3)] }, true, 3 + quietReads},
		{"a job missed at every other look", func(look int) int { return look % 2 }, false, 0},
		{"a job that waits", func(int) int { return 1 }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				looks := 0
				count := func(context.Context) (int, error) {
					looks++
					return tc.count(looks - 1), nil
				}
				quiet, err := waitQuiet(t.Context(), 10*time.Second, count)
				if err != nil {
					t.Fatal(err)
				}
				if quiet != tc.quiet {
					t.Errorf("quiet = %t after %d looks, want %t", quiet, looks, tc.quiet)
				}
				if tc.quiet && looks != tc.looks {
					t.Errorf("quiet after %d looks, want %d", looks, tc.looks)
				}
			})
		})
	}
}
