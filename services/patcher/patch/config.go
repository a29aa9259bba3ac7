package patch

import (
	"fmt"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/update"
)

// The patcher's defaults per lane (docs/decisions/lanes.md).
const (
	// DefaultRebootConcurrency is how many reboots the reboot lane sends at once. A reboot holds
	// its slot for a few calls only, but every instance waiting for one is out of service, so the
	// lane takes a whole wave at once: keep it at least the largest number of instances a cluster
	// may have out of service (its maxOutOfService limit).
	DefaultRebootConcurrency = 32
	// DefaultStageWaiting is how many staging jobs the stage lane holds while their cluster's
	// look-ahead is full, beyond ROLLWAVE_CONCURRENCY staging at once.
	DefaultStageWaiting = 32
	// DefaultStageRecheck is the backstop of a staging job held by the look-ahead: it looks
	// again this often when nothing woke it.
	DefaultStageRecheck = time.Minute
)

// config is the patcher's configuration, read from the environment:
//
//	ROLLWAVE_CONCURRENCY         the stage lane (the patcher queue): staging jobs handled at once
//	                             (default 4; a job waits for its apply back in the queue)
//	ROLLWAVE_REBOOT_CONCURRENCY  the reboot lane (the reboot queue): reboots sent at once
//	                             (default 32; at least the largest cluster limit)
//	ROLLWAVE_STAGE_WAITING       staging jobs held while their cluster's look-ahead is full, beyond
//	                             those staging (default 32; more wait in the queue)
//	ROLLWAVE_STAGE_RECHECK       how often a held staging job looks again when nothing woke it
//	                             (default 1m)
//	ROLLWAVE_APPLY_TIMEOUT       how long staging (apiclient update apply) may take (default 15m)
//	ROLLWAVE_APPLY_EXPECTED      how long staging typically takes: the job's first look at its
//	                             apply (default 1m)
//	ROLLWAVE_SSM_TIMEOUT         how long a quick command (update check, cancel) may take (default 2m)
//	ROLLWAVE_OFFER_RECHECK       how long a rollout's job whose host is not offered the target yet
//	                             (its wave) waits before it looks again (default 10m, at most 15m;
//	                             shorter when a quarter of ROLLWAVE_LEASE is shorter, as each look
//	                             renews the job's lease)
//	ROLLWAVE_WAITING_THRESHOLD   how long such a job may wait before the patcher warns (default 15m)
//	ROLLWAVE_STANDALONE_TASKS    skip (default), wait or stop: what to do with an instance running a
//	                             task that no service started; ROLLWAVE_CLUSTER_POLICIES overrides it
//	                             per cluster (shared/policy, docs/policies.md)
//	ROLLWAVE_MAX_OUT_OF_SERVICE  each cluster's limit (shared/policy), which is also its look-ahead:
//	                             how many instances are staged ahead of the drains (update.MayStage)
//
// ROLLWAVE_LEASE (service.Common) must be at least twice ROLLWAVE_APPLY_TIMEOUT plus three
// ROLLWAVE_SSM_TIMEOUTs: the longest staging may take between two writes of the job's lease.
//
// and the settings every worker shares (service.Common).
type config struct {
	service.Common
	RebootConcurrency int
	StageWaiting      int
	StageRecheck      time.Duration
	ApplyTimeout      time.Duration
	ApplyExpected     time.Duration
	SSMTimeout        time.Duration
	// OfferRecheck and WaitingThreshold govern a rollout's job that waits for its host's wave.
	OfferRecheck     time.Duration
	WaitingThreshold time.Duration
	// Policies are the rollout policies per cluster: the patcher decides by their Standalone,
	// and keeps a look-ahead of their MaxOutOfService.
	Policies policy.Set
}

// maxOfferRecheck is the longest delay SQS gives a message.
const maxOfferRecheck = 15 * time.Minute

func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{
		Common:            service.LoadCommon(r),
		RebootConcurrency: r.Int("ROLLWAVE_REBOOT_CONCURRENCY", DefaultRebootConcurrency, envconfig.Min(1)),
		StageWaiting:      r.Int("ROLLWAVE_STAGE_WAITING", DefaultStageWaiting, envconfig.Min(0)),
		StageRecheck:      r.Duration("ROLLWAVE_STAGE_RECHECK", DefaultStageRecheck),
		ApplyTimeout:      r.Duration("ROLLWAVE_APPLY_TIMEOUT", 15*time.Minute),
		ApplyExpected:     r.Duration("ROLLWAVE_APPLY_EXPECTED", time.Minute),
		SSMTimeout:        r.Duration("ROLLWAVE_SSM_TIMEOUT", 2*time.Minute),

		OfferRecheck:     r.Duration("ROLLWAVE_OFFER_RECHECK", 10*time.Minute),
		WaitingThreshold: r.Duration("ROLLWAVE_WAITING_THRESHOLD", 15*time.Minute),
	}
	if d := c.OfferRecheck; d < time.Second || d > maxOfferRecheck {
		r.Fail("ROLLWAVE_OFFER_RECHECK", "%s is not within 1s..%s (the longest delay SQS gives a message)", d, maxOfferRecheck)
	}
	if t := c.WaitingThreshold; t < time.Second {
		r.Fail("ROLLWAVE_WAITING_THRESHOLD", "%s is below 1s", t)
	}
	if c.StageRecheck < time.Second || c.StageRecheck > 12*time.Hour {
		r.Fail("ROLLWAVE_STAGE_RECHECK", "%s is outside 1s to 12h (a held job goes back to its queue for as long, and SQS hides a message for at most 12h)", c.StageRecheck)
	}
	if c.ApplyExpected >= c.ApplyTimeout {
		r.Fail("ROLLWAVE_APPLY_EXPECTED", "%s is not below ROLLWAVE_APPLY_TIMEOUT (%s): the first poll would come after the deadline", c.ApplyExpected, c.ApplyTimeout)
	}
	c.CheckSSMExpected(r, "ROLLWAVE_SSM_TIMEOUT", c.SSMTimeout)
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
