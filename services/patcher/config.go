package main

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

// config is the patcher's configuration, read from the environment:
//
//	ROLLWAVE_APPLY_TIMEOUT     how long staging (apiclient update apply) may take (default 15m)
//	ROLLWAVE_SSM_TIMEOUT       how long a quick command (update check, cancel) may take (default 2m)
//	ROLLWAVE_STANDALONE_TASKS  skip (default), wait or stop: what to do with an instance running a
//	                           task that no service started; ROLLWAVE_CLUSTER_POLICIES overrides it
//	                           per cluster (shared/policy, docs/policies.md)
//
// ROLLWAVE_LEASE (pipeline.Common) must be at least twice ROLLWAVE_APPLY_TIMEOUT plus three
// ROLLWAVE_SSM_TIMEOUTs: the longest staging may take between two writes of the job's lease.
//
// and the settings every worker shares (pipeline.Common).
type config struct {
	pipeline.Common
	ApplyTimeout time.Duration
	SSMTimeout   time.Duration
	// Policies are the rollout policies per cluster: the patcher decides by their Standalone.
	Policies policy.Set
}

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:       pipeline.LoadCommon(r),
		ApplyTimeout: r.Duration("ROLLWAVE_APPLY_TIMEOUT", 15*time.Minute),
		SSMTimeout:   r.Duration("ROLLWAVE_SSM_TIMEOUT", 2*time.Minute),
	}
	set, err := policy.Load(getenv)
	if err != nil {
		r.Fail("policies", "%v", err)
	}
	c.Policies = set
	// Staging runs from the accept, which writes a fresh lease, to the staged mark, which
	// writes the next: lock, check, apply, check.
	c.CheckLeaseGap(r, "staging (ROLLWAVE_APPLY_TIMEOUT + 3 × ROLLWAVE_SSM_TIMEOUT)", c.ApplyTimeout+3*c.SSMTimeout, update.MaxLeaseHold(c.Lease))
	if err := r.Err(); err != nil {
		return config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}
