package main

import (
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

// defaultConcurrency is the drainer's default ROLLWAVE_CONCURRENCY: higher than the other
// workers', because it holds each job for as long as its drain takes.
const defaultConcurrency = 16

// DefaultWaitingThreshold is ROLLWAVE_WAITING_THRESHOLD's default.
const DefaultWaitingThreshold = 15 * time.Minute

// config is the drainer's configuration. Besides pipeline.Common:
//
//	ROLLWAVE_MAX_OUT_OF_SERVICE  and the other per-cluster policies of shared/policy (docs/policies.md),
//	                             with ROLLWAVE_CLUSTER_POLICIES overriding them per cluster
//	ROLLWAVE_DRAIN_TIMEOUT       how long a drain may take before it is undone (default 25m)
//	ROLLWAVE_RECHECK_INTERVAL    how often a drain is re-checked without an ECS event (default 30s)
//	ROLLWAVE_ADMISSION_RETRY     how long a job that was not admitted waits, plus jitter (default 30s)
//	ROLLWAVE_PAUSE_REFRESH       how old the pause state (tags of the drainer's queue) may be when
//	                             a drain is admitted: a pause stops new drains within it (default 5s)
//	ROLLWAVE_WAITING_THRESHOLD   how long a job may wait for admission before the drainer warns
//	                             (log, JobsWaiting, one "Instance Update Waiting"), and how often it
//	                             warns again while the job waits (default 15m)
//
// ROLLWAVE_LEASE (pipeline.Common) must be at least eight times ROLLWAVE_ADMISSION_RETRY and four
// times ROLLWAVE_RECHECK_INTERVAL: each look at a job renews its lease when due.
type config struct {
	pipeline.Common
	policy       timings
	Policies     policy.Set
	PauseRefresh time.Duration
}

// policyVariables are the variables of policy.Load, named here so that the deployment tests see
// that the drainer reads them (config_test keeps the list whole). The drainer decides by all of
// them but ROLLWAVE_ON_VERIFY_FAILURE, which it only validates (the verifier decides by it).
var policyVariables = []string{
	"ROLLWAVE_MAX_OUT_OF_SERVICE", "ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE", "ROLLWAVE_CAPACITY_CHECK",
	"ROLLWAVE_HEALTH_GATE", "ROLLWAVE_HEALTH_GATE_TIMEOUT", "ROLLWAVE_MAINTENANCE_WINDOW",
	"ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_STANDALONE_DEADLINE", "ROLLWAVE_STANDALONE_GRACE",
	"ROLLWAVE_ROLLBACK", "ROLLWAVE_ON_VERIFY_FAILURE", "ROLLWAVE_ERROR_BUDGET_FAILURES", "ROLLWAVE_ERROR_BUDGET_WINDOW", "ROLLWAVE_CLUSTER_POLICIES",
}

// loadConfig reads the configuration from getenv and reports every problem at once.
func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{Common: pipeline.LoadCommon(r)}
	if strings.TrimSpace(getenv("ROLLWAVE_CONCURRENCY")) == "" {
		c.Concurrency = defaultConcurrency
	}
	set, err := policy.Load(getenv)
	if err != nil {
		r.Fail("policies", "%v", err)
	}
	c.policy = timings{
		DrainTimeout:     r.Duration("ROLLWAVE_DRAIN_TIMEOUT", 25*time.Minute),
		Recheck:          r.Duration("ROLLWAVE_RECHECK_INTERVAL", 30*time.Second),
		AdmissionRetry:   r.Duration("ROLLWAVE_ADMISSION_RETRY", 30*time.Second),
		WaitingThreshold: r.Duration("ROLLWAVE_WAITING_THRESHOLD", DefaultWaitingThreshold),
	}
	if t := c.policy.WaitingThreshold; t < time.Second {
		// rollwave.waiting records its times to the second.
		r.Fail("ROLLWAVE_WAITING_THRESHOLD", "%s is below 1s", t)
	}
	c.Policies = set
	c.PauseRefresh = r.Duration("ROLLWAVE_PAUSE_REFRESH", pause.DefaultMaxAge)
	// A job waiting for admission is looked at again after the retry plus up to as much jitter;
	// a draining one every recheck. (A closed window's wait is capped at the lease's gap.)
	c.CheckLeaseGap(r, "ROLLWAVE_ADMISSION_RETRY with its jitter", 2*c.policy.AdmissionRetry, update.MaxLeaseGap(c.Lease))
	c.CheckLeaseGap(r, "ROLLWAVE_RECHECK_INTERVAL", c.policy.Recheck, update.MaxLeaseGap(c.Lease))
	if err := r.Err(); err != nil {
		return config{}, err
	}
	return c, nil
}
