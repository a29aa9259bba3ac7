package main

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pipeline"
)

// config is the scanner's configuration, read from the environment:
//
//	ROLLWAVE_CLUSTERS     comma-separated ECS cluster names or ARNs to scan
//	ROLLWAVE_CLUSTER_TAG  key=value (or key, for any value): also scan every ACTIVE cluster of the
//	                      account and region that carries this tag, looked up at each scan
//	ROLLWAVE_SSM_TIMEOUT  how long one scan waits for the update checks (default 5m)
//
// At least one of ROLLWAVE_CLUSTERS and ROLLWAVE_CLUSTER_TAG is required; with both, the scanner
// scans the union. Plus the settings every worker shares (pipeline.Common).
type config struct {
	pipeline.Common
	Clusters   []string
	ClusterTag *cluster.TagSelector // nil: no tag selection
	SSMTimeout time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:     pipeline.LoadCommon(r),
		Clusters:   r.List("ROLLWAVE_CLUSTERS", nil),
		SSMTimeout: r.Duration("ROLLWAVE_SSM_TIMEOUT", 5*time.Minute),
	}
	tag, err := cluster.ParseTagSelector(r.String("ROLLWAVE_CLUSTER_TAG", ""))
	if err != nil {
		r.Fail("ROLLWAVE_CLUSTER_TAG", "%v", err)
	}
	c.ClusterTag = tag
	if len(c.Clusters) == 0 && tag == nil && err == nil {
		r.Fail("ROLLWAVE_CLUSTERS", "or ROLLWAVE_CLUSTER_TAG is required: the clusters to keep up to date, by name or by a tag (key=value)")
	}
	if err := r.Err(); err != nil {
		return config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}
