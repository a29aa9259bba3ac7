package managed

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/cluster/clustertest"
	"github.com/rollwave/rollwave/shared/envconfig"
)

// fleet is an account with three clusters: prod and staging carry rollwave=on, other does not.
func fleet() *clustertest.Fake {
	f := clustertest.NewFake()
	f.AddCluster("prod", map[string]string{"rollwave": "on"})
	f.AddCluster("staging", map[string]string{"rollwave": "on"})
	f.AddCluster("other", map[string]string{"team": "x"})
	return f
}

func TestManages(t *testing.T) {
	arn := clustertest.ClusterARN
	foreign := "arn:aws:ecs:eu-west-1:999999999999:cluster/prod"
	tests := []struct {
		rule string
		cfg  Config
		name string
		want bool
	}{
		{"a configured name is managed", Config{Clusters: []string{"prod"}}, "prod", true},
		{"a configured name is managed when a job names its ARN", Config{Clusters: []string{"prod"}}, arn("prod"), true},
		{"a configured ARN is managed when a job names the cluster by name", Config{Clusters: []string{arn("prod")}}, "prod", true},
		{"a cluster of the same name in another account or region is not", Config{Clusters: []string{"prod"}}, foreign, false},
		{"a cluster that is not configured is not managed", Config{Clusters: []string{"prod"}}, "other", false},
		{"nor by its ARN", Config{Clusters: []string{"prod"}}, arn("other"), false},
		{"a tagged cluster is managed", Config{Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, "staging", true},
		{"a tagged cluster is managed by ARN", Config{Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, arn("staging"), true},
		{"a cluster without the tag is not", Config{Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, "other", false},
		{"a cluster with the tag's key but another value is not", Config{Tag: &cluster.TagSelector{Key: "team", Value: "y"}}, "other", false},
		{"names and the tag add up", Config{Clusters: []string{"other"}, Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}}, "other", true},
		{"a configured name ECS does not know stays managed by name", Config{Clusters: []string{"prod", "gone"}}, "gone", true},
		{"and the others it knows keep their ARN", Config{Clusters: []string{"prod", "gone"}}, arn("prod"), true},
		{"an empty name is not managed", Config{Clusters: []string{"prod"}}, "", false},
		{"a prefix of a name is not the name", Config{Clusters: []string{"prod"}}, "pro", false},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			s := New(tc.cfg, fleet())
			got, err := s.Manages(t.Context(), tc.name)
			if err != nil {
				t.Fatalf("Manages(%q): %v", tc.name, err)
			}
			if got != tc.want {
				t.Errorf("Manages(%q) with %+v = %t, want %t", tc.name, tc.cfg, got, tc.want)
			}
		})
	}
}

func TestClustersEachOnce(t *testing.T) {
	s := New(Config{Clusters: []string{"prod", clustertest.ClusterARN("prod")}, Tag: &cluster.TagSelector{Key: "rollwave"}}, fleet())
	got, err := s.Clusters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Cluster{{"prod", clustertest.ClusterARN("prod")}, {"staging", clustertest.ClusterARN("staging")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Clusters() (-want +got):\n%s", diff)
	}
}

// TestRefresh: the set is resolved once, again after the refresh interval, and at once on a
// cluster it does not know unless it was resolved less than MinRefresh ago.
func TestRefresh(t *testing.T) {
	f := fleet()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(Config{Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}, Refresh: 5 * time.Minute}, f)
	s.now = func() time.Time { return now }
	lookups := func() int {
		n := 0
		for _, c := range f.Calls() {
			if c.Op == "ClustersTagged" {
				n++
			}
		}
		return n
	}
	ask := func(name string, want bool, wantLookups int) {
		t.Helper()
		got, err := s.Manages(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || lookups() != wantLookups {
			t.Errorf("at %s Manages(%q) = %t after %d lookups, want %t after %d", now.Format(time.TimeOnly), name, got, lookups(), want, wantLookups)
		}
	}
	ask("prod", true, 1)
	ask("prod", true, 1) // cached
	ask("other", false, 1)
	f.AddCluster("new", map[string]string{"rollwave": "on"}) // tagged a moment later
	now = now.Add(MinRefresh - time.Second)
	ask("new", false, 1) // resolved too recently to look again
	now = now.Add(time.Second)
	ask("new", true, 2) // a miss resolves again
	ask("other", false, 2)
	now = now.Add(MinRefresh)
	ask("other", false, 3) // a miss resolves again once MinRefresh has passed
	now = now.Add(5 * time.Minute)
	ask("prod", true, 4) // the refresh interval passed
}

func TestResolveErrorIsNotAnAnswer(t *testing.T) {
	f := fleet()
	boom := errors.New("throttled")
	f.FailNext("ClustersTagged", boom)
	s := New(Config{Tag: &cluster.TagSelector{Key: "rollwave"}}, f)
	if _, err := s.Manages(t.Context(), "prod"); !errors.Is(err, boom) {
		t.Fatalf("Manages with the lookup failing = %v, want an error wrapping %v", err, boom)
	}
	if ok, err := s.Manages(t.Context(), "prod"); !ok || err != nil {
		t.Errorf("Manages after the failure = %t, %v; want true, nil", ok, err)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    Config
		wantErr string
	}{
		{map[string]string{"ROLLWAVE_CLUSTERS": "a, b"}, Config{Clusters: []string{"a", "b"}, Refresh: DefaultRefresh}, ""},
		{map[string]string{"ROLLWAVE_CLUSTER_TAG": "rollwave=on", "ROLLWAVE_CLUSTERS_REFRESH": "1m"},
			Config{Tag: &cluster.TagSelector{Key: "rollwave", Value: "on"}, Refresh: time.Minute}, ""},
		{map[string]string{}, Config{}, "ROLLWAVE_CLUSTER_TAG is required"},
		{map[string]string{"ROLLWAVE_CLUSTER_TAG": "=on"}, Config{}, "ROLLWAVE_CLUSTER_TAG"},
		{map[string]string{"ROLLWAVE_CLUSTERS": "a", "ROLLWAVE_CLUSTERS_REFRESH": "5s"}, Config{}, "ROLLWAVE_CLUSTERS_REFRESH"},
	}
	for _, tc := range tests {
		r := envconfig.New(func(k string) string { return tc.env[k] })
		got := Load(r)
		err := r.Err()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Load(%v) error = %v, want one containing %q", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%v): %v", tc.env, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Load(%v) (-want +got):\n%s", tc.env, diff)
		}
	}
}

var _ Finder = (*clustertest.Fake)(nil)
var _ Finder = (*cluster.Client)(nil)

func TestNotManagedBeginsWithTheReason(t *testing.T) {
	if got := NotManaged("x"); !strings.HasPrefix(got, Reason+": ") {
		t.Errorf("NotManaged(x) = %q, want it to begin with %q", got, Reason+": ")
	}
}
