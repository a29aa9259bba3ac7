package main

import (
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/update"
)

// defaultConcurrency is the drainer's default ROLLWAVE_CONCURRENCY: higher than the other
// workers', because it holds each job for as long as its drain takes.
const defaultConcurrency = 16

// config is the drainer's configuration. Besides pipeline.Common:
//
//	ROLLWAVE_MAX_OUT_OF_SERVICE  instances of a cluster out of service at once: a count or a percentage (default 1)
//	ROLLWAVE_DRAIN_TIMEOUT       how long a drain may take before it is undone (default 25m)
//	ROLLWAVE_RECHECK_INTERVAL    how often a drain is re-checked without an ECS event (default 30s)
//	ROLLWAVE_ADMISSION_RETRY     how long a job that was not admitted waits, plus jitter (default 30s)
//	ROLLWAVE_STANDALONE_TASKS    skip or wait for an instance running standalone tasks (default skip)
//	ROLLWAVE_PAUSE_REFRESH       how old the pause state (tags of the drainer's queue) may be when
//	                             a drain is admitted: a pause stops new drains within it (default 5s)
type config struct {
	pipeline.Common
	policy
	PauseRefresh time.Duration
}

// loadConfig reads the configuration from getenv and reports every problem at once.
func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{Common: pipeline.LoadCommon(r)}
	if strings.TrimSpace(getenv("ROLLWAVE_CONCURRENCY")) == "" {
		c.Concurrency = defaultConcurrency
	}
	limit, err := update.ParseLimit(r.String("ROLLWAVE_MAX_OUT_OF_SERVICE", update.DefaultLimit.String()))
	if err != nil {
		r.Fail("ROLLWAVE_MAX_OUT_OF_SERVICE", "%v", err)
	}
	standalone, err := update.ParseStandalonePolicy(r.String("ROLLWAVE_STANDALONE_TASKS", string(update.StandaloneSkip)))
	if err != nil {
		r.Fail("ROLLWAVE_STANDALONE_TASKS", "%v", err)
	}
	c.policy = policy{
		Limit:          limit,
		DrainTimeout:   r.Duration("ROLLWAVE_DRAIN_TIMEOUT", 25*time.Minute),
		Recheck:        r.Duration("ROLLWAVE_RECHECK_INTERVAL", 30*time.Second),
		AdmissionRetry: r.Duration("ROLLWAVE_ADMISSION_RETRY", 30*time.Second),
		Standalone:     standalone,
	}
	c.PauseRefresh = r.Duration("ROLLWAVE_PAUSE_REFRESH", pause.DefaultMaxAge)
	if err := r.Err(); err != nil {
		return config{}, err
	}
	return c, nil
}
