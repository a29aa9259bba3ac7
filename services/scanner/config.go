package main

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pipeline"
)

// config is the scanner's configuration, read from the environment:
//
//	ROLLWAVE_CLUSTERS     comma-separated ECS cluster names or ARNs to scan (required)
//	ROLLWAVE_SSM_TIMEOUT  how long one scan waits for the update checks (default 5m)
//
// and the settings every worker shares (pipeline.Common).
type config struct {
	pipeline.Common
	Clusters   []string
	SSMTimeout time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:     pipeline.LoadCommon(r),
		Clusters:   r.List("ROLLWAVE_CLUSTERS", nil),
		SSMTimeout: r.Duration("ROLLWAVE_SSM_TIMEOUT", 5*time.Minute),
	}
	if len(c.Clusters) == 0 {
		r.Fail("ROLLWAVE_CLUSTERS", "is required: the clusters to keep up to date")
	}
	if err := r.Err(); err != nil {
		return config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}
