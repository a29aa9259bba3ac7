package main

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pipeline"
)

// config is the scanner's configuration, read from the environment:
//
//	ROLLWAVE_SSM_TIMEOUT  how long one scan waits for the update checks (default 5m)
//
// ROLLWAVE_LEASE (pipeline.Common) is the lease the workers write; the scanner reclaims an
// instance whose lease expired half a lease ago.
//
// plus the settings every worker shares (pipeline.Common), among them the managed clusters
// (ROLLWAVE_CLUSTERS, ROLLWAVE_CLUSTER_TAG): a scan request without clusters scans all of them,
// the clusters carrying the tag looked up at each scan.
type config struct {
	pipeline.Common
	SSMTimeout time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:     pipeline.LoadCommon(r),
		SSMTimeout: r.Duration("ROLLWAVE_SSM_TIMEOUT", 5*time.Minute),
	}
	if err := r.Err(); err != nil {
		return config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}
