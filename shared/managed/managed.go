// Package managed is rollwave's trust boundary: the ECS clusters one deployment manages, those
// named in ROLLWAVE_CLUSTERS (by name or ARN) and those carrying ROLLWAVE_CLUSTER_TAG. Every
// worker asks it before it changes anything: a job or scan request about any other cluster goes
// to the dead-letter queue with the reason cluster-not-managed, whoever sent it.
//
// A cluster's name and ARN are one identity: a job may name its cluster either way, and both
// match the cluster as the set resolved it (DescribeClusters gives each configured name its ARN,
// the tag lookup gives both). The set is resolved once per process and again when it is older
// than its refresh interval, because the clusters carrying the tag change; a cluster the set does
// not know makes it resolve again at once if the last resolution is older than MinRefresh, so a
// cluster tagged a moment ago is not refused for long and a flood of foreign jobs costs at most
// one resolution per MinRefresh.
package managed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/update"
)

// Reason is the dead-letter reason (queue.AttrReason) of a job or scan request about a cluster
// the deployment does not manage; the reason attribute begins with it.
const Reason = "cluster-not-managed"

// Defaults of Config.
const (
	DefaultRefresh = 5 * time.Minute
	MinRefresh     = 30 * time.Second
)

// Config is what selects the managed clusters, read from the environment by Load:
//
//	ROLLWAVE_CLUSTERS          comma-separated cluster names or ARNs
//	ROLLWAVE_CLUSTER_TAG       key=value (or key, for any value): every ACTIVE cluster carrying it
//	ROLLWAVE_CLUSTERS_REFRESH  how old the resolved set may get before it is resolved again
//	                           (default 5m; at least 30s)
//
// At least one of ROLLWAVE_CLUSTERS and ROLLWAVE_CLUSTER_TAG is required: a worker that manages
// no cluster would refuse every job.
type Config struct {
	Clusters []string
	Tag      *cluster.TagSelector // nil: no tag selection
	Refresh  time.Duration
	// Clock is the time the resolved set's age is read on; nil is clock.Real. Not read by Load.
	Clock clock.Clock
}

// Load reads Config; problems are recorded in r.
func Load(r *envconfig.Reader) Config {
	c := Config{Clusters: r.List("ROLLWAVE_CLUSTERS", nil)}
	tag, err := cluster.ParseTagSelector(r.String("ROLLWAVE_CLUSTER_TAG", ""))
	if err != nil {
		r.Fail("ROLLWAVE_CLUSTER_TAG", "%v", err)
	}
	c.Tag = tag
	if len(c.Clusters) == 0 && tag == nil && err == nil {
		r.Fail("ROLLWAVE_CLUSTERS", "or ROLLWAVE_CLUSTER_TAG is required: the clusters this deployment manages, by name or ARN or by a tag (key=value)")
	}
	c.Refresh = r.Duration("ROLLWAVE_CLUSTERS_REFRESH", DefaultRefresh)
	if c.Refresh < MinRefresh {
		r.Fail("ROLLWAVE_CLUSTERS_REFRESH", "%s: must be at least %s", c.Refresh, MinRefresh)
	}
	return c
}

// Finder describes clusters and finds those carrying a tag (*cluster.Client, clustertest.Fake).
type Finder interface {
	Clusters(ctx context.Context, names []string) ([]cluster.Cluster, error)
	ClustersTagged(ctx context.Context, key, value string) ([]cluster.Cluster, error)
}

// Cluster is one managed cluster. ARN is "" only for a configured name that ECS does not know
// (a job for it can do nothing: its instance is not found).
type Cluster struct {
	Name, ARN string
}

// Is reports whether name (a cluster name or ARN) is this cluster.
func (c Cluster) Is(name string) bool {
	name = strings.TrimSpace(name)
	if strings.HasPrefix(name, "arn:") {
		if c.ARN != "" {
			return name == c.ARN
		}
		return update.ClusterName(name) == c.Name
	}
	return name == c.Name
}

// Set is the managed clusters of a deployment. It is safe for concurrent use.
type Set struct {
	cfg    Config
	finder Finder
	now    func() time.Time

	mu       sync.Mutex
	clusters []Cluster
	at       time.Time // when clusters were resolved; zero: never
}

// New returns the Set that cfg selects, resolved through finder on first use.
func New(cfg Config, finder Finder) *Set {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	return &Set{cfg: cfg, finder: finder, now: clock.OrReal(cfg.Clock).Now}
}

// Lookup returns the managed cluster that name (a name or ARN) is, and whether there is one. An
// error means the set could not be resolved (transient): the caller retries, it never treats
// "not known" as either answer.
func (s *Set) Lookup(ctx context.Context, name string) (Cluster, bool, error) {
	clusters, fresh, err := s.get(ctx, false)
	if err != nil {
		return Cluster{}, false, err
	}
	if c, ok := find(clusters, name); ok || fresh {
		return c, ok, nil
	}
	clusters, _, err = s.get(ctx, true)
	if err != nil {
		return Cluster{}, false, err
	}
	c, ok := find(clusters, name)
	return c, ok, nil
}

// Manages reports whether name (a name or ARN) is a managed cluster.
func (s *Set) Manages(ctx context.Context, name string) (bool, error) {
	_, ok, err := s.Lookup(ctx, name)
	return ok, err
}

// Clusters returns every managed cluster, resolved again when older than the refresh interval.
func (s *Set) Clusters(ctx context.Context) ([]Cluster, error) {
	clusters, _, err := s.get(ctx, false)
	return clusters, err
}

// Resolve resolves the set now, whatever its age, and returns it: the scanner does so at each
// scan, so that a scan sees the clusters tagged at that moment.
func (s *Set) Resolve(ctx context.Context) ([]Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolveLocked(ctx)
}

// get returns the set, resolving it when it is older than the refresh interval or, with miss,
// older than MinRefresh. fresh is true when it was resolved by this call.
func (s *Set) get(ctx context.Context, miss bool) ([]Cluster, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	age := s.now().Sub(s.at)
	if !s.at.IsZero() && age < s.cfg.Refresh && (!miss || age < MinRefresh) {
		return s.clusters, false, nil
	}
	clusters, err := s.resolveLocked(ctx)
	return clusters, err == nil, err
}

func (s *Set) resolveLocked(ctx context.Context) ([]Cluster, error) {
	clusters, err := resolve(ctx, s.finder, s.cfg)
	if err != nil {
		return nil, err
	}
	s.clusters, s.at = clusters, s.now()
	return clusters, nil
}

// resolve describes the configured clusters and finds the tagged ones, each cluster once, the
// configured ones first in their order.
func resolve(ctx context.Context, f Finder, cfg Config) ([]Cluster, error) {
	var out []Cluster
	add := func(c Cluster) {
		if !slices.ContainsFunc(out, func(o Cluster) bool { return o.Name == c.Name }) {
			out = append(out, c)
		}
	}
	if len(cfg.Clusters) > 0 {
		described, err := describe(ctx, f, cfg.Clusters)
		if err != nil {
			return nil, err
		}
		for _, c := range described {
			add(c)
		}
	}
	if cfg.Tag != nil {
		tagged, err := f.ClustersTagged(ctx, cfg.Tag.Key, cfg.Tag.Value)
		if err != nil {
			return nil, fmt.Errorf("find the clusters tagged %s: %w", cfg.Tag, err)
		}
		for _, c := range tagged {
			add(Cluster{Name: c.Name, ARN: c.ARN})
		}
	}
	return out, nil
}

// describe resolves configured names to clusters in one call; when ECS does not know one of
// them, it describes each alone, and keeps one it does not know by its name (and its ARN when it
// was configured by ARN).
func describe(ctx context.Context, f Finder, names []string) ([]Cluster, error) {
	cs, err := f.Clusters(ctx, names)
	if err == nil {
		out := make([]Cluster, 0, len(cs))
		for _, c := range cs {
			out = append(out, Cluster{Name: c.Name, ARN: c.ARN})
		}
		return out, nil
	}
	if !errors.Is(err, cluster.ErrClusterNotFound) {
		return nil, fmt.Errorf("describe the managed clusters: %w", err)
	}
	out := make([]Cluster, 0, len(names))
	for _, n := range names {
		cs, err := f.Clusters(ctx, []string{n})
		switch {
		case errors.Is(err, cluster.ErrClusterNotFound):
			c := Cluster{Name: update.ClusterName(n)}
			if strings.HasPrefix(n, "arn:") {
				c.ARN = n
			}
			out = append(out, c)
		case err != nil:
			return nil, fmt.Errorf("describe the managed clusters: %w", err)
		default:
			out = append(out, Cluster{Name: cs[0].Name, ARN: cs[0].ARN})
		}
	}
	return out, nil
}

func find(clusters []Cluster, name string) (Cluster, bool) {
	for _, c := range clusters {
		if c.Is(name) {
			return c, true
		}
	}
	return Cluster{}, false
}

// NotManaged is the dead-letter reason of a job or scan request about cluster: Reason, then
// what a person needs to see why.
func NotManaged(name string) string {
	return fmt.Sprintf("%s: cluster %q is not one this deployment manages (ROLLWAVE_CLUSTERS, ROLLWAVE_CLUSTER_TAG); nothing was changed", Reason, name)
}
