package drain

import (
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/update"
)

// defaultConcurrency is the drainer's default ROLLWAVE_CONCURRENCY: higher than the other
// workers', because it holds each job for as long as its drain takes.
const defaultConcurrency = 16

// DefaultAdmissionBackstop is ROLLWAVE_ADMISSION_BACKSTOP's default: an ECS event or the end of
// a pause wakes a held job, but not every return to service is seen: the event of an instance
// going ACTIVE comes while the verifier's marks still count it out of service, and the marks'
// removal publishes no ECS event, so a job held by the limit often waits for the backstop. It is
// the old fixed admission retry, so a held job never waits longer than it did before wake-ups.
const DefaultAdmissionBackstop = 30 * time.Second

// DefaultWaitingThreshold is ROLLWAVE_WAITING_THRESHOLD's default.
const DefaultWaitingThreshold = 15 * time.Minute

// config is the drainer's configuration. Besides service.Common:
//
//	ROLLWAVE_MAX_OUT_OF_SERVICE  and the other per-cluster policies of shared/policy (docs/policies.md),
//	                             with ROLLWAVE_CLUSTER_POLICIES overriding them per cluster
//	ROLLWAVE_DRAIN_TIMEOUT       how long a drain may take before it is undone (default 25m)
//	ROLLWAVE_RECHECK_INTERVAL    how often a drain is re-checked without an ECS event (default 30s)
//	ROLLWAVE_ADMISSION_RETRY     how long a job held by a wait that no event ends (the health gate, a
//	                             pause state that could not be read) waits, plus jitter (default 30s)
//	ROLLWAVE_ADMISSION_BACKSTOP  how long a job held until it is woken (by an instance of its cluster
//	                             returning to service, or by the end of a pause) waits at most before
//	                             it looks again, plus jitter (default 30s, or half a quarter
//	                             ROLLWAVE_LEASE when that is shorter)
//	ROLLWAVE_PAUSE_REFRESH       how old the pause state (tags of the drainer's queue) may be when
//	                             a drain is admitted: a pause stops new drains within it (default 5s)
//	ROLLWAVE_WAITING_THRESHOLD   how long a job may wait for admission before the drainer warns
//	                             (log, JobsWaiting, one "Instance Update Waiting"), and how often it
//	                             warns again while the job waits (default 15m)
//	ROLLWAVE_ALARM_NAMES         CloudWatch alarms (comma-separated names) that gate every drain:
//	                             none starts while one is in ALARM (default none)
//	ROLLWAVE_ALARM_PREFIX        the same for every alarm whose name starts with it (default none)
//	ROLLWAVE_ALARM_REFRESH       how old the alarms' state may be when a drain is admitted (default 30s)
//	ROLLWAVE_ALARM_HALT          resume (default: drains start again once every alarm is OK) or stay
//	                             (a firing alarm pauses the cluster until a person resumes it)
//	ROLLWAVE_STAGES              the stages of a staged promotion (promotion.ParsePlan): a job of a
//	                             stage drains only once the stages before it took its version and
//	                             baked (default none)
//
// ROLLWAVE_LEASE (service.Common) must be at least eight times ROLLWAVE_ADMISSION_RETRY and
// ROLLWAVE_ADMISSION_BACKSTOP and four times ROLLWAVE_RECHECK_INTERVAL: each look at a job renews
// its lease when due.
type config struct {
	service.Common
	policy       timings
	Policies     policy.Set
	PauseRefresh time.Duration
	// Alarms are the gate alarms: no drain starts while one is in ALARM.
	Alarms       alarm.Selector
	AlarmRefresh time.Duration
	AlarmHalt    string
	// Stages is the staged promotion (ROLLWAVE_STAGES); zero for none.
	Stages promotion.Plan
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
	c := config{Common: service.LoadCommon(r)}
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
	// Unset, the backstop is at most half the lease's gap, so that a short lease needs no more
	// settings; set, it is checked against the lease below.
	c.policy.AdmissionBackstop = r.Duration("ROLLWAVE_ADMISSION_BACKSTOP", min(DefaultAdmissionBackstop, update.MaxLeaseGap(c.Lease)/2))
	c.Policies = set
	c.PauseRefresh = r.Duration("ROLLWAVE_PAUSE_REFRESH", pause.DefaultMaxAge)
	c.Alarms = alarm.Selector{Names: r.List("ROLLWAVE_ALARM_NAMES", nil), Prefix: r.String("ROLLWAVE_ALARM_PREFIX", "")}
	c.AlarmRefresh = r.Duration("ROLLWAVE_ALARM_REFRESH", 30*time.Second)
	c.AlarmHalt = r.OneOf("ROLLWAVE_ALARM_HALT", alarmResume, alarmResume, alarmStay)
	if p, err := promotion.ParsePlan(r.String(promotion.Env, "")); err != nil {
		r.Fail(promotion.Env, "%v", err)
	} else {
		c.Stages = p
	}
	// A job waiting for admission is looked at again after the retry plus up to as much jitter;
	// a draining one every recheck. (A closed window's wait is capped at the lease's gap.)
	c.CheckLeaseGap(r, "ROLLWAVE_ADMISSION_RETRY with its jitter", 2*c.policy.AdmissionRetry, update.MaxLeaseGap(c.Lease))
	c.CheckLeaseGap(r, "ROLLWAVE_ADMISSION_BACKSTOP with its jitter", 2*c.policy.AdmissionBackstop, update.MaxLeaseGap(c.Lease))
	c.CheckLeaseGap(r, "ROLLWAVE_RECHECK_INTERVAL", c.policy.Recheck, update.MaxLeaseGap(c.Lease))
	if err := r.Err(); err != nil {
		return config{}, err
	}
	return c, nil
}
