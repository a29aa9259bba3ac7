package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmcommand/ssmcommandtest"
	"github.com/rollwave/rollwave/shared/update"
)

type sentJobs struct {
	mu      sync.Mutex
	jobs    []update.Job
	batches int
	fail    error
	failAt  int
}

// SendBatch records the jobs; failAt (1-based) fails that message of each batch with fail.
func (s *sentJobs) SendBatch(_ context.Context, _ string, msgs []queue.Outgoing) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	ids := make([]string, len(msgs))
	var errs []error
	for i, m := range msgs {
		if s.fail != nil && i+1 == s.failAt {
			errs = append(errs, fmt.Errorf("send message %d of %d: %w", i+1, len(msgs), s.fail))
			continue
		}
		j, err := update.Decode(m.Body)
		if err != nil {
			return nil, fmt.Errorf("scanner sent an invalid job: %w", err)
		}
		s.jobs = append(s.jobs, j)
		ids[i] = fmt.Sprint(len(s.jobs))
	}
	return ids, errors.Join(errs...)
}

const (
	checkDoc  = "rollwave-update-check"
	cancelDoc = "rollwave-update-cancel"
)

func status(state, active, chosen string, available ...string) string {
	ch := "null"
	if chosen != "" {
		ch = fmt.Sprintf(`{"arch":"x86_64","version":%q,"variant":"aws-ecs-2"}`, chosen)
	}
	av, _ := json.Marshal(append([]string{}, available...))
	return fmt.Sprintf(`{"update_state":%q,"available_updates":%s,"chosen_update":%s,
	"active_partition":{"image":{"arch":"x86_64","version":%q,"variant":"aws-ecs-2"},"next_to_boot":true},
	"staging_partition":null}`, state, av, ch, active)
}

type host struct {
	id, state, active, chosen string
	available                 []string
	jobAttr                   string
	checkFails                bool
	optOut                    bool
}

func newScanner(t *testing.T, hosts ...host) (*scanner, *clustertest.Fake, *ssmcommandtest.Fake, *sentJobs) {
	t.Helper()
	ecs := clustertest.NewFake()
	ecs.AddCluster("prod", nil)
	ssm := ssmcommandtest.NewFake()
	for _, h := range hosts {
		attrs := map[string]string{"bottlerocket.variant": "aws-ecs-2"}
		if h.jobAttr != "" {
			attrs[update.AttrJob] = h.jobAttr
		}
		if h.optOut {
			attrs[update.AttrOptOut] = "" // any value, even none
		}
		ecs.AddInstance("prod", cluster.Instance{EC2InstanceID: h.id, Status: "ACTIVE", AgentConnected: true, Attributes: attrs})
		ssm.AddInstance(h.id, true)
		r := ssmcommandtest.Response{Stdout: status(h.state, h.active, h.chosen, h.available...)}
		if h.checkFails {
			r = ssmcommandtest.Response{ExitCode: 1, Stderr: "Failed to refresh updates"}
		}
		ssm.Respond(h.id, checkDoc, r)
	}
	sent := &sentJobs{}
	now := func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	opts := ssmcommand.Options{Wait: time.Minute, PollInterval: time.Millisecond}
	s := &scanner{
		managed: managed.New(managed.Config{Clusters: []string{"prod"}}, ecs), instances: ecs, commands: ssm, jobs: sent,
		reclaim: &reclaimer{ecs: ecs, commands: ssm, events: &published{}, checkDoc: checkDoc, cancelDoc: cancelDoc,
			ssm: opts, lease: time.Hour, now: now},
		patcherURL: "patcher", checkDoc: checkDoc,
		ssm: opts,
		now: now,
	}
	return s, ecs, ssm, sent
}

func targets(jobs []update.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Instance+" "+j.FromVersion+"->"+j.TargetVersion)
	}
	return out
}

func TestScanSendsOneJobPerInstanceWithAnUpdate(t *testing.T) {
	s, _, _, sent := newScanner(t,
		host{id: "i-0000000000000000a", state: "Idle", active: "1.20.3"},
		host{id: "i-0000000000000000b", state: "Available", active: "1.19.5", chosen: "1.20.3"},
		host{id: "i-0000000000000000c", state: "Staged", active: "1.19.5", chosen: "1.20.3"},
		host{id: "i-0000000000000000d", state: "Ready", active: "1.18.0", chosen: "1.20.3"},
		host{id: "i-0000000000000000e", state: "Available", active: "1.19.5", chosen: "1.20.3", jobAttr: "j-other"},
		host{id: "i-0000000000000000f", state: "Available", active: "1.19.5", chosen: "1.20.3", checkFails: true},
	)
	out := s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(`{"schema":"rollwave.scan/v1"}`)})
	if out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	// Oldest version first; Idle, already owned and unreadable instances get no job.
	want := []string{"i-0000000000000000d 1.18.0->1.20.3", "i-0000000000000000b 1.19.5->1.20.3", "i-0000000000000000c 1.19.5->1.20.3"}
	if diff := cmp.Diff(want, targets(sent.jobs)); diff != "" {
		t.Errorf("jobs sent (-want +got):\n%s", diff)
	}
	for _, j := range sent.jobs {
		if j.Step != update.StepStage || j.ContainerInstanceARN == "" || j.RequestedBy != "scanner" || j.Reason != "scheduled scan" {
			t.Errorf("job %+v: want step stage, the container instance ARN, requestedBy scanner, reason scheduled scan", j)
		}
	}
}

func TestRedeliveredScanSendsTheSameJobIDs(t *testing.T) {
	s, _, _, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
	for i := 0; i < 2; i++ {
		s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(scanAll)})
	}
	if len(sent.jobs) != 2 || sent.jobs[0].ID != sent.jobs[1].ID {
		t.Fatalf("jobs = %+v, want two sends of the same job ID", sent.jobs)
	}
	s.handle(context.Background(), queue.Message{ID: "m2", Body: []byte(scanAll)})
	if sent.jobs[2].ID == sent.jobs[0].ID {
		t.Errorf("a new scan reused job ID %s, want a new one", sent.jobs[2].ID)
	}
}

func TestScanRequestNamesClustersAndWhoAsked(t *testing.T) {
	s, ecs, ssm, sent := newScanner(t)
	ecs.AddCluster("staging", nil)
	s.managed = managed.New(managed.Config{Clusters: []string{"prod", "staging"}}, ecs)
	ecs.AddInstance("staging", cluster.Instance{EC2InstanceID: "i-000000aa", Status: "ACTIVE", AgentConnected: true, Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2"}})
	ssm.AddInstance("i-000000aa", true)
	ssm.Respond("i-000000aa", checkDoc, ssmcommandtest.Response{Stdout: status("Available", "1.19.5", "1.20.3")})
	out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(`{"schema":"rollwave.scan/v1","clusters":["staging"],"requestedBy":"alice","reason":"CVE-2026-1"}`)})
	if out != queue.Done() || len(sent.jobs) != 1 {
		t.Fatalf("handle() = %+v with %d jobs, want Done with 1", out, len(sent.jobs))
	}
	if j := sent.jobs[0]; j.Cluster != "staging" || j.RequestedBy != "scanner for alice" || j.Reason != "CVE-2026-1" {
		t.Errorf("job = %+v, want cluster staging, requestedBy 'scanner for alice', reason CVE-2026-1", j)
	}
}

// scanAll is the scan request of every managed cluster.
const scanAll = `{"schema":"rollwave.scan/v1"}`

func TestEmptyScanRequestIsRefusedBeforeAnyScan(t *testing.T) {
	for _, body := range []string{"", " \n\t", "{}"} {
		s, ecs, ssm, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
		out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(body)})
		if !strings.HasPrefix(out.String(), "poison: invalid scan request: ") {
			t.Errorf("handle(%q) = %v, want Poison with the reason", body, out)
		}
		if len(sent.jobs) != 0 || len(ssm.Calls()) != 0 || len(ecs.Calls()) != 0 {
			t.Errorf("handle(%q) sent %d jobs, made %d SSM and %d ECS calls, want none", body, len(sent.jobs), len(ssm.Calls()), len(ecs.Calls()))
		}
	}
}

// TestScanRequestForAClusterNotManaged: a request that names a cluster the deployment does not
// manage, by name or ARN, goes to the dead-letter queue with reason cluster-not-managed before
// any cluster is listed or checked; the same cluster named by ARN is scanned.
func TestScanRequestForAClusterNotManaged(t *testing.T) {
	for _, clusters := range []string{`["other"]`, `["prod","other"]`, `["arn:aws:ecs:us-east-1:123456789012:cluster/other"]`, `["arn:aws:ecs:eu-west-1:999999999999:cluster/prod"]`} {
		s, ecs, ssm, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
		ecs.AddCluster("other", nil)
		out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(`{"schema":"rollwave.scan/v1","clusters":` + clusters + `}`)})
		if !strings.HasPrefix(out.String(), "poison: cluster-not-managed: ") {
			t.Errorf("handle(clusters %s) = %v, want poison: cluster-not-managed: ...", clusters, out)
		}
		for _, c := range ecs.Calls() {
			if c.Op == "ListInstances" {
				t.Errorf("handle(clusters %s) listed the instances of %s; want nothing scanned", clusters, c.Cluster)
			}
		}
		if len(ssm.Commands()) != 0 || len(sent.jobs) != 0 {
			t.Errorf("handle(clusters %s): %d SSM commands, %d jobs; want none", clusters, len(ssm.Commands()), len(sent.jobs))
		}
	}
	s, _, _, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
	out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(`{"schema":"rollwave.scan/v1","clusters":["arn:aws:ecs:us-east-1:123456789012:cluster/prod"]}`)})
	if out != queue.Done() || len(sent.jobs) != 1 || sent.jobs[0].Cluster != "prod" {
		t.Errorf("handle(prod by ARN) = %v, %d jobs; want done, one job of cluster prod", out, len(sent.jobs))
	}
}

func TestMalformedScanRequestIsPoison(t *testing.T) {
	s, _, _, _ := newScanner(t)
	out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(`{"cluster":"prod"}`)})
	if out == queue.Done() || !strings.Contains(fmt.Sprintf("%+v", out), "cluster") {
		t.Fatalf("handle(typo) = %+v, want Poison naming the unknown field", out)
	}
}

func TestAnUnknownClusterDoesNotStopTheOthers(t *testing.T) {
	s, ecs, _, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
	s.managed = managed.New(managed.Config{Clusters: []string{"missing", "prod"}}, ecs)
	if out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(scanAll)}); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	if len(sent.jobs) != 1 {
		t.Errorf("jobs = %d, want 1 for prod", len(sent.jobs))
	}
}

func TestTransientFailureOfEveryClusterRetries(t *testing.T) {
	s, ecs, _, _ := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
	ecs.FailNext("ListInstances", fmt.Errorf("list: %w: %w", cluster.ErrThrottled, cluster.ErrTransient))
	out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(scanAll)})
	if out == queue.Done() {
		t.Fatalf("handle() with a throttled ECS = Done, want a retry")
	}
}

func TestConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(func(k string) string {
		return map[string]string{"ROLLWAVE_SSM_TIMEOUT": "soon", "ROLLWAVE_CONCURRENCY": "0"}[k]
	})
	if err == nil {
		t.Fatal("loadConfig() = nil, want errors")
	}
	for _, want := range []string{"ROLLWAVE_CLUSTERS", "ROLLWAVE_CLUSTER_TAG", "ROLLWAVE_SSM_TIMEOUT", "ROLLWAVE_CONCURRENCY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig() = %q, want it to name %s", err, want)
		}
	}
	c, err := loadConfig(func(k string) string { return map[string]string{"ROLLWAVE_CLUSTERS": "a, b"}[k] })
	if err != nil || !cmp.Equal(c.Managed.Clusters, []string{"a", "b"}) || c.Prefix != "rollwave" {
		t.Errorf("loadConfig(minimal) = %+v, %v; want clusters [a b] and prefix rollwave", c, err)
	}
}

func TestConfigSelectsClustersByNameOrTag(t *testing.T) {
	tests := []struct {
		env      map[string]string
		clusters []string
		tag      *cluster.TagSelector
		wantErr  string
	}{
		{map[string]string{"ROLLWAVE_CLUSTERS": "a"}, []string{"a"}, nil, ""},
		{map[string]string{"ROLLWAVE_CLUSTER_TAG": "rollwave=on"}, nil, &cluster.TagSelector{Key: "rollwave", Value: "on"}, ""},
		{map[string]string{"ROLLWAVE_CLUSTER_TAG": " team "}, nil, &cluster.TagSelector{Key: "team"}, ""},
		{map[string]string{"ROLLWAVE_CLUSTERS": "a", "ROLLWAVE_CLUSTER_TAG": "rollwave=on"}, []string{"a"}, &cluster.TagSelector{Key: "rollwave", Value: "on"}, ""},
		{map[string]string{}, nil, nil, "ROLLWAVE_CLUSTER_TAG is required"},
		{map[string]string{"ROLLWAVE_CLUSTER_TAG": "=on"}, nil, nil, "ROLLWAVE_CLUSTER_TAG"},
	}
	for _, tt := range tests {
		c, err := loadConfig(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loadConfig(%v) = %v, want an error naming %s", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(c.Managed.Clusters, tt.clusters) || !cmp.Equal(c.Managed.Tag, tt.tag) {
			t.Errorf("loadConfig(%v) = clusters %v, tag %v, %v; want %v, %v", tt.env, c.Managed.Clusters, c.Managed.Tag, err, tt.clusters, tt.tag)
		}
	}
}

func TestScanFindsTaggedClusters(t *testing.T) {
	s, ecs, ssm, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
	add := func(name string, tags map[string]string, id string) {
		ecs.AddCluster(name, tags)
		ecs.AddInstance(name, cluster.Instance{EC2InstanceID: id, Status: "ACTIVE", AgentConnected: true, Attributes: map[string]string{"bottlerocket.variant": "aws-ecs-2"}})
		ssm.AddInstance(id, true)
		ssm.Respond(id, checkDoc, ssmcommandtest.Response{Stdout: status("Available", "1.19.5", "1.20.3")})
	}
	add("tagged", map[string]string{"rollwave": "on"}, "i-00000002")
	add("other-value", map[string]string{"rollwave": "off"}, "i-00000003")
	add("untagged", nil, "i-00000004")
	s.managed = managed.New(managed.Config{Clusters: []string{"prod"}, Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, ecs)
	if out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(scanAll)}); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	var got []string
	for _, j := range sent.jobs {
		got = append(got, j.Cluster+"/"+j.Instance)
	}
	if diff := cmp.Diff([]string{"prod/i-00000001", "tagged/i-00000002"}, got); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}

	// A tag lookup that fails retries the scan rather than scanning part of the fleet.
	ecs.FailNext("ClustersTagged", fmt.Errorf("list: %w: %w", cluster.ErrThrottled, cluster.ErrTransient))
	if out := s.handle(context.Background(), queue.Message{ID: "m2", Body: []byte(scanAll)}); out == queue.Done() {
		t.Error("handle() with a failing tag lookup = Done, want a retry")
	}
}

func TestOptedOutInstancesGetNoJob(t *testing.T) {
	s, ecs, _, sent := newScanner(t,
		host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"},
		host{id: "i-00000002", state: "Available", active: "1.19.5", chosen: "1.20.3", optOut: true},
	)
	if out := s.handle(context.Background(), queue.Message{ID: "m", Body: []byte(scanAll)}); out != queue.Done() {
		t.Fatalf("handle() = %+v, want Done", out)
	}
	if diff := cmp.Diff([]string{"i-00000001 1.19.5->1.20.3"}, targets(sent.jobs)); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	for _, c := range ecs.Calls() {
		if c.Op == "ListInstances" && !strings.Contains(strings.Join(c.Args, " "), "attribute:rollwave.optout !exists") {
			t.Errorf("ListInstances%v: want the server-side filter to exclude rollwave.optout", c.Args)
		}
	}
}

// A cluster's jobs go to the queue as one batch; a job the queue did not take fails the scan, to
// be retried, while the jobs it took stay sent.
func TestScanSendsJobsInBatches(t *testing.T) {
	tests := []struct {
		name      string
		failAt    int
		wantDone  bool
		wantSent  int
		wantCalls int
	}{
		{name: "every job sent", wantDone: true, wantSent: 12, wantCalls: 1},
		{name: "one job not sent retries the scan", failAt: 5, wantSent: 11, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hosts []host
			for i := range 12 {
				hosts = append(hosts, host{id: fmt.Sprintf("i-%08x", i+1), state: "Available", active: "1.19.5", chosen: "1.20.3"})
			}
			s, _, _, sent := newScanner(t, hosts...)
			sent.failAt = tt.failAt
			if tt.failAt > 0 {
				sent.fail = errors.New("InternalError")
			}
			out := s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(scanAll)})
			if got := out == queue.Done(); got != tt.wantDone {
				t.Errorf("handle() = %v, want done %t", out, tt.wantDone)
			}
			if len(sent.jobs) != tt.wantSent || sent.batches != tt.wantCalls {
				t.Errorf("sent %d jobs in %d batches, want %d in %d", len(sent.jobs), sent.batches, tt.wantSent, tt.wantCalls)
			}
		})
	}
}
