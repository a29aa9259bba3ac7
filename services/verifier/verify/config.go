package verify

import (
	"errors"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	rollout "github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
)

// checkWait bounds one update check: a host that is going down or booting may never answer, and
// the waiter must look again rather than hang on one command.
const checkWait = 2 * time.Minute

// defaultConcurrency is the verifier's default ROLLWAVE_CONCURRENCY: higher than the other
// workers', because it holds each job until its host is back.
const defaultConcurrency = 16

// config is the verifier's configuration. Besides service.Common:
//
//	ROLLWAVE_REBOOT_TIMEOUT      how long after the verify step began the host may take to come back (default 15m)
//	ROLLWAVE_RECHECK_INTERVAL    how often the host is looked at without an ECS event (default 30s)
//	ROLLWAVE_REBOOT_GRACE        how long after the reboot was sent to wait for the host to go down
//	                             before checking its version anyway (default 1m)
//	ROLLWAVE_SSM_TIMEOUT         how long one update check may take before it counts as "not back
//	                             yet" and is tried again (default 2m); a check sent just as the host
//	                             goes down never answers, so keep it well below the reboot timeout
//
// and the rollout policies of shared/policy, of which it reads ROLLWAVE_ON_VERIFY_FAILURE (and
// its per-cluster override onVerifyFailure) and the error budget.
//
// ROLLWAVE_LEASE (service.Common) must be at least four times ROLLWAVE_RECHECK_INTERVAL plus
// ROLLWAVE_SSM_TIMEOUT: each look at the host renews the job's lease when due.
type config struct {
	service.Common
	policy
	policies rollout.Set
}

// loadConfig reads the configuration from getenv and reports every problem at once.
func loadConfig(getenv func(string) string) (config, error) {
	r := envconfig.New(getenv)
	c := config{Common: service.LoadCommon(r)}
	if strings.TrimSpace(getenv("ROLLWAVE_CONCURRENCY")) == "" {
		c.Concurrency = defaultConcurrency
	}
	c.policy = policy{
		RebootTimeout: r.Duration("ROLLWAVE_REBOOT_TIMEOUT", 15*time.Minute),
		Recheck:       r.Duration("ROLLWAVE_RECHECK_INTERVAL", 30*time.Second),
		DownGrace:     r.Duration("ROLLWAVE_REBOOT_GRACE", time.Minute),
	}
	c.CheckDoc, c.LockDoc = c.Doc(ssmdoc.Check), c.Doc(ssmdoc.Lock)
	wait := r.Duration("ROLLWAVE_SSM_TIMEOUT", checkWait)
	c.CheckSSMExpected(r, "ROLLWAVE_SSM_TIMEOUT", wait)
	c.SSM = c.Quick(wait)
	c.SSM.DeliveryTimeout = wait
	// Each look at the rebooting host renews the job's lease; one look may wait for an update
	// check.
	c.CheckLeaseGap(r, "ROLLWAVE_RECHECK_INTERVAL + ROLLWAVE_SSM_TIMEOUT", c.Recheck+wait, update.MaxLeaseGap(c.Lease))
	policies, perr := rollout.Load(getenv)
	if err := errors.Join(r.Err(), perr); err != nil {
		return config{}, err
	}
	c.policies = policies
	return c, nil
}
