// Package policy holds the rollout policies that keep applications up, per cluster: how many
// instances may be out of service, whether capacity and the services' health gate a drain, when
// drains may start, what to do with standalone tasks, whether a failed update is rolled back,
// whether an instance that failed its update may serve again, and the error budget. Defaults come from environment variables; ROLLWAVE_CLUSTER_POLICIES overrides
// any of them for named clusters. docs/policies.md documents every field with examples.
//
//	set, err := policy.Load(getenv)
//	p := set.For("prod")
//	if !p.Window.Open(now) { ... }
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/update"
)

// Policy is what rollwave decides a cluster's drains by. Load fills every field: the zero Policy
// is not meant to be used (its Limit is invalid).
type Policy struct {
	// MaxOutOfService is how many of the cluster's instances may be out of service at once: a
	// count or a percentage (ROLLWAVE_MAX_OUT_OF_SERVICE, default 1).
	MaxOutOfService update.Limit
	// CheckCapacity makes a drain wait until the cluster's other ACTIVE instances can host the
	// service tasks it moves (ROLLWAVE_CAPACITY_CHECK, default true).
	CheckCapacity bool
	// HealthGate makes a drain wait until the cluster's services are at steady state and the
	// instance updated last runs its tasks again (ROLLWAVE_HEALTH_GATE, default true).
	HealthGate bool
	// HealthGateTimeout is how long the gate may stay closed after the previous update before the
	// cluster halts (and that instance is rolled back when Rollback) (ROLLWAVE_HEALTH_GATE_TIMEOUT,
	// default 15m).
	HealthGateTimeout time.Duration
	// Window is when new drains may start; the zero Window is always open
	// (ROLLWAVE_MAINTENANCE_WINDOW, default always).
	Window update.Window
	// Standalone is what to do with an instance that runs tasks no service started: skip, wait or
	// stop (ROLLWAVE_STANDALONE_TASKS, default skip).
	Standalone update.StandalonePolicy
	// StandaloneDeadline bounds how long the wait policy waits for standalone tasks to end after
	// the drain started (ROLLWAVE_STANDALONE_DEADLINE, default 2h).
	StandaloneDeadline time.Duration
	// StandaloneGrace is how long the stop policy lets standalone tasks run after the drain
	// started before it stops them (ROLLWAVE_STANDALONE_GRACE, default 10m).
	StandaloneGrace time.Duration
	// Rollback rolls an instance whose health gate failed back to its previous version before the
	// cluster halts (ROLLWAVE_ROLLBACK, default false).
	Rollback bool
	// OnVerifyFailure is what becomes of an instance whose update failed after its reboot: park
	// (out of service for a person, counted against the limit) or return (an instance that rolled
	// back to its previous version serves again, pinned to it) (ROLLWAVE_ON_VERIFY_FAILURE, default
	// park).
	OnVerifyFailure update.VerifyFailurePolicy
	// ErrorBudget halts the cluster after too many failed updates.
	ErrorBudget ErrorBudget
	// AlarmNames and AlarmPrefix are the cluster's own gate alarms, by name and by name prefix
	// (ROLLWAVE_CLUSTER_POLICIES only; none by default): no drain of the cluster starts while
	// one of them, or one of the deployment's gate alarms (ROLLWAVE_ALARM_NAMES,
	// ROLLWAVE_ALARM_PREFIX), is in ALARM.
	AlarmNames  []string
	AlarmPrefix string
}

// MaxAlarmNameLength is CloudWatch's limit on an alarm's name, and so on a prefix of one.
const MaxAlarmNameLength = 255

// MaxErrorBudgetFailures is the largest ErrorBudget.Failures: the failures of a cluster are
// counted in one tag of the drainer's queue (shared/budget), and a tag's 256 characters hold
// eight of them. A larger budget is refused rather than silently held to eight.
const MaxErrorBudgetFailures = 8

// maxFailures refuses an error budget above MaxErrorBudgetFailures, saying why.
func maxFailures(v int) string {
	if v > MaxErrorBudgetFailures {
		return fmt.Sprintf("must be at most %d: the failures are counted in a queue tag, which holds %d", MaxErrorBudgetFailures, MaxErrorBudgetFailures)
	}
	return ""
}

// ErrorBudget halts a cluster's rollout after Failures failed updates within Window
// (ROLLWAVE_ERROR_BUDGET_FAILURES, default 2; ROLLWAVE_ERROR_BUDGET_WINDOW, default 1h).
type ErrorBudget struct {
	Failures int
	Window   time.Duration
}

// Set is the policies of every cluster: Default, and the clusters that override it.
type Set struct {
	Default  Policy
	Clusters map[string]Policy // keyed by cluster name (an ARN key in the variable is reduced to it)
	// GlobalMaxOutOfService is how many instances rollwave may have out of service across all
	// its clusters at once; 0 means no limit beyond each cluster's
	// (ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE, default 0).
	GlobalMaxOutOfService int
}

// For returns the policy of cluster (a name or an ARN): its override, or the default. Overrides
// are keyed by the cluster's name, so a job that names its cluster by ARN gets the same policy.
func (s Set) For(cluster string) Policy {
	if p, ok := s.Clusters[update.ClusterName(cluster)]; ok {
		return p
	}
	return s.Default
}

// OwnAlarms reports whether a cluster has gate alarms of its own (alarmNames, alarmPrefix).
func (s Set) OwnAlarms() bool {
	for _, p := range s.Clusters {
		if len(p.AlarmNames) > 0 || p.AlarmPrefix != "" {
			return true
		}
	}
	return false
}

// Names returns the clusters that have an override, sorted.
func (s Set) Names() []string {
	var out []string
	for n := range s.Clusters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Variables are the environment variables Load reads, ROLLWAVE_CLUSTER_POLICIES included.
var Variables = []string{
	"ROLLWAVE_MAX_OUT_OF_SERVICE", "ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE", "ROLLWAVE_CAPACITY_CHECK",
	"ROLLWAVE_HEALTH_GATE", "ROLLWAVE_HEALTH_GATE_TIMEOUT", "ROLLWAVE_MAINTENANCE_WINDOW",
	"ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_STANDALONE_DEADLINE", "ROLLWAVE_STANDALONE_GRACE",
	"ROLLWAVE_ROLLBACK", "ROLLWAVE_ON_VERIFY_FAILURE", "ROLLWAVE_ERROR_BUDGET_FAILURES", "ROLLWAVE_ERROR_BUDGET_WINDOW", Env,
}

// Env is the variable that holds per-cluster overrides: a JSON object keyed by cluster name.
const Env = "ROLLWAVE_CLUSTER_POLICIES"

// Override is one cluster's entry in ROLLWAVE_CLUSTER_POLICIES: every field is optional and
// replaces the default's when set. Durations are Go durations ("15m").
type Override struct {
	MaxOutOfService    *string `json:"maxOutOfService,omitempty"`
	CapacityCheck      *bool   `json:"capacityCheck,omitempty"`
	HealthGate         *bool   `json:"healthGate,omitempty"`
	HealthGateTimeout  *string `json:"healthGateTimeout,omitempty"`
	MaintenanceWindow  *string `json:"maintenanceWindow,omitempty"`
	StandaloneTasks    *string `json:"standaloneTasks,omitempty"`
	StandaloneDeadline *string `json:"standaloneDeadline,omitempty"`
	StandaloneGrace    *string `json:"standaloneGrace,omitempty"`
	Rollback           *bool   `json:"rollback,omitempty"`
	OnVerifyFailure    *string `json:"onVerifyFailure,omitempty"`
	ErrorBudget        *struct {
		Failures *int    `json:"failures,omitempty"`
		Window   *string `json:"window,omitempty"`
	} `json:"errorBudget,omitempty"`
	AlarmNames  []string `json:"alarmNames,omitempty"`
	AlarmPrefix *string  `json:"alarmPrefix,omitempty"`
}

// Load reads the default policy from getenv's variables and the overrides from
// ROLLWAVE_CLUSTER_POLICIES, and reports every problem at once.
func Load(getenv func(string) string) (Set, error) {
	r := envconfig.New(getenv)
	var d Policy
	var err error
	if d.MaxOutOfService, err = update.ParseLimit(r.String("ROLLWAVE_MAX_OUT_OF_SERVICE", update.DefaultLimit.String())); err != nil {
		r.Fail("ROLLWAVE_MAX_OUT_OF_SERVICE", "%v", err)
	}
	d.CheckCapacity = r.Bool("ROLLWAVE_CAPACITY_CHECK", true)
	d.HealthGate = r.Bool("ROLLWAVE_HEALTH_GATE", true)
	d.HealthGateTimeout = r.Duration("ROLLWAVE_HEALTH_GATE_TIMEOUT", 15*time.Minute)
	if d.Window, err = update.ParseWindow(r.String("ROLLWAVE_MAINTENANCE_WINDOW", "")); err != nil {
		r.Fail("ROLLWAVE_MAINTENANCE_WINDOW", "%v", err)
	}
	if d.Standalone, err = update.ParseStandalonePolicy(r.String("ROLLWAVE_STANDALONE_TASKS", string(update.StandaloneSkip))); err != nil {
		r.Fail("ROLLWAVE_STANDALONE_TASKS", "%v", err)
	}
	d.StandaloneDeadline = r.Duration("ROLLWAVE_STANDALONE_DEADLINE", 2*time.Hour)
	d.StandaloneGrace = r.Duration("ROLLWAVE_STANDALONE_GRACE", 10*time.Minute)
	d.Rollback = r.Bool("ROLLWAVE_ROLLBACK", false)
	if d.OnVerifyFailure, err = update.ParseVerifyFailurePolicy(r.String("ROLLWAVE_ON_VERIFY_FAILURE", string(update.ParkFailed))); err != nil {
		r.Fail("ROLLWAVE_ON_VERIFY_FAILURE", "%v", err)
	}
	d.ErrorBudget = ErrorBudget{
		Failures: r.Int("ROLLWAVE_ERROR_BUDGET_FAILURES", 2, envconfig.Min(1), maxFailures),
		Window:   r.Duration("ROLLWAVE_ERROR_BUDGET_WINDOW", time.Hour),
	}
	s := Set{Default: d, GlobalMaxOutOfService: r.Int("ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE", 0, envconfig.Min(0))}
	if raw := strings.TrimSpace(getenv(Env)); raw != "" {
		var overrides map[string]Override
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&overrides); err != nil {
			r.Fail(Env, "want a JSON object keyed by cluster name whose values have the fields of docs/policies.md: %v", err)
		} else if errs := exactFieldNames(raw); len(errs) > 0 {
			for _, e := range errs {
				r.Fail(Env, "%v", e)
			}
		} else {
			s.Clusters = map[string]Policy{}
			names := make([]string, 0, len(overrides))
			for n := range overrides {
				names = append(names, n)
			}
			slices.Sort(names)
			keyedBy := map[string]string{}
			for _, n := range names {
				p, errs := overrides[n].apply(d)
				for _, e := range errs {
					r.Fail(Env, "cluster %q: %v", n, e)
				}
				name := update.ClusterName(n)
				if other, dup := keyedBy[name]; dup {
					r.Fail(Env, "clusters %q and %q are the same cluster %q: give it one entry", other, n, name)
				}
				keyedBy[name] = n
				s.Clusters[name] = p
			}
		}
	}
	if err := r.Err(); err != nil {
		return Set{}, err
	}
	return s, nil
}

// apply returns base with o's fields replaced, and every problem with them.
func (o Override) apply(base Policy) (Policy, []error) {
	p := base
	var errs []error
	fail := func(field string, err error) { errs = append(errs, fmt.Errorf("%s: %w", field, err)) }
	duration := func(field string, v *string, into *time.Duration) {
		if v == nil {
			return
		}
		d, err := time.ParseDuration(*v)
		switch {
		case err != nil:
			fail(field, fmt.Errorf("%q is not a duration such as 30s or 5m", *v))
		case d <= 0:
			fail(field, fmt.Errorf("%s must be positive", *v))
		default:
			*into = d
		}
	}
	var err error
	if o.MaxOutOfService != nil {
		if p.MaxOutOfService, err = update.ParseLimit(*o.MaxOutOfService); err != nil {
			fail("maxOutOfService", err)
		}
	}
	if o.CapacityCheck != nil {
		p.CheckCapacity = *o.CapacityCheck
	}
	if o.HealthGate != nil {
		p.HealthGate = *o.HealthGate
	}
	duration("healthGateTimeout", o.HealthGateTimeout, &p.HealthGateTimeout)
	if o.MaintenanceWindow != nil {
		if p.Window, err = update.ParseWindow(*o.MaintenanceWindow); err != nil {
			fail("maintenanceWindow", err)
		}
	}
	if o.StandaloneTasks != nil {
		if p.Standalone, err = update.ParseStandalonePolicy(*o.StandaloneTasks); err != nil {
			fail("standaloneTasks", err)
		}
	}
	duration("standaloneDeadline", o.StandaloneDeadline, &p.StandaloneDeadline)
	duration("standaloneGrace", o.StandaloneGrace, &p.StandaloneGrace)
	if o.Rollback != nil {
		p.Rollback = *o.Rollback
	}
	if o.OnVerifyFailure != nil {
		if p.OnVerifyFailure, err = update.ParseVerifyFailurePolicy(*o.OnVerifyFailure); err != nil {
			fail("onVerifyFailure", err)
		}
	}
	if b := o.ErrorBudget; b != nil {
		if b.Failures != nil {
			if *b.Failures < 1 {
				fail("errorBudget.failures", errors.New("must be at least 1"))
			} else if msg := maxFailures(*b.Failures); msg != "" {
				fail("errorBudget.failures", fmt.Errorf("%d %s", *b.Failures, msg))
			} else {
				p.ErrorBudget.Failures = *b.Failures
			}
		}
		duration("errorBudget.window", b.Window, &p.ErrorBudget.Window)
	}
	if o.AlarmNames != nil {
		seen := map[string]bool{}
		for _, n := range o.AlarmNames {
			switch {
			case strings.TrimSpace(n) == "" || len(n) > MaxAlarmNameLength:
				fail("alarmNames", fmt.Errorf("%q is not a CloudWatch alarm name (1 to %d characters)", n, MaxAlarmNameLength))
			case seen[n]:
				fail("alarmNames", fmt.Errorf("%q is named twice", n))
			}
			seen[n] = true
		}
		p.AlarmNames = slices.Clone(o.AlarmNames)
	}
	if o.AlarmPrefix != nil {
		if strings.TrimSpace(*o.AlarmPrefix) == "" || len(*o.AlarmPrefix) > MaxAlarmNameLength {
			fail("alarmPrefix", fmt.Errorf("%q is not the start of a CloudWatch alarm name (1 to %d characters)", *o.AlarmPrefix, MaxAlarmNameLength))
		}
		p.AlarmPrefix = *o.AlarmPrefix
	}
	return p, errs
}

// exactFieldNames reports every field of the overrides in raw whose name differs from the
// documented one only in case: encoding/json would take "maxOutofService" for maxOutOfService,
// and a policy that reads differently from what it does is a trap.
func exactFieldNames(raw string) []error {
	var clusters map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &clusters); err != nil {
		return []error{err}
	}
	top, budget := jsonNames(reflect.TypeOf(Override{})), jsonNames(reflect.TypeOf(Override{}.ErrorBudget).Elem())
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(clusters)) {
		for _, f := range slices.Sorted(maps.Keys(clusters[c])) {
			if !top[f] {
				errs = append(errs, fmt.Errorf("cluster %q: unknown field %q (field names are case-sensitive)", c, f))
				continue
			}
			if f != "errorBudget" {
				continue
			}
			var sub map[string]json.RawMessage
			if json.Unmarshal(clusters[c][f], &sub) != nil {
				continue // null, or a shape the decoder already accepted
			}
			for _, k := range slices.Sorted(maps.Keys(sub)) {
				if !budget[k] {
					errs = append(errs, fmt.Errorf("cluster %q: unknown field \"errorBudget.%s\" (field names are case-sensitive)", c, k))
				}
			}
		}
	}
	return errs
}

// jsonNames returns the JSON names of a struct type's fields.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}
