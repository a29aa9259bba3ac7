package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	s, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := s.For("any")
	switch {
	case p.MaxOutOfService != update.DefaultLimit:
		t.Errorf("MaxOutOfService = %s, want %s", p.MaxOutOfService, update.DefaultLimit)
	case !p.CheckCapacity || !p.HealthGate || p.Rollback:
		t.Errorf("capacity %t, health gate %t, rollback %t; want true, true, false", p.CheckCapacity, p.HealthGate, p.Rollback)
	case p.Standalone != update.StandaloneSkip:
		t.Errorf("Standalone = %q, want skip: a standalone task is never stopped by default", p.Standalone)
	case !p.Window.Always():
		t.Errorf("Window = %q, want always open", p.Window)
	case p.HealthGateTimeout != 15*time.Minute || p.ErrorBudget != (ErrorBudget{Failures: 2, Window: time.Hour}):
		t.Errorf("health gate timeout %s, error budget %+v", p.HealthGateTimeout, p.ErrorBudget)
	case p.OnVerifyFailure != update.ParkFailed:
		t.Errorf("OnVerifyFailure = %q, want park: a failed instance stays out of service for a person by default", p.OnVerifyFailure)
	case s.GlobalMaxOutOfService != 0:
		t.Errorf("GlobalMaxOutOfService = %d, want 0 (none)", s.GlobalMaxOutOfService)
	}
}

func TestLoadOverrides(t *testing.T) {
	s, err := Load(env(map[string]string{
		"ROLLWAVE_MAX_OUT_OF_SERVICE":        "2",
		"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE": "3",
		"ROLLWAVE_ROLLBACK":                  "true",
		Env: `{"prod": {"maxOutOfService": "20%", "maintenanceWindow": "Mon-Fri 22:00-06:00 Europe/Berlin",
		        "standaloneTasks": "wait", "standaloneDeadline": "30m", "errorBudget": {"failures": 3},
		        "onVerifyFailure": "return", "alarmNames": ["web-5xx", "web-p99"], "alarmPrefix": "prod-slo-"},
		       "batch": {"standaloneTasks": "stop", "standaloneGrace": "1m", "rollback": false, "healthGate": false}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	prod, batch, other := s.For("prod"), s.For("batch"), s.For("dev")
	if got := prod.MaxOutOfService.Max(10); got != 2 {
		t.Errorf("prod: 20%% of 10 = %d, want 2", got)
	}
	if prod.Window.Always() || prod.Standalone != update.StandaloneWait || prod.StandaloneDeadline != 30*time.Minute {
		t.Errorf("prod = %+v", prod)
	}
	if prod.OnVerifyFailure != update.ReturnFailed || other.OnVerifyFailure != update.ParkFailed {
		t.Errorf("onVerifyFailure: prod %q, dev %q; want return, park", prod.OnVerifyFailure, other.OnVerifyFailure)
	}
	if prod.ErrorBudget != (ErrorBudget{Failures: 3, Window: time.Hour}) || !prod.Rollback {
		t.Errorf("prod keeps the defaults it does not override: %+v", prod)
	}
	if batch.Standalone != update.StandaloneStop || batch.StandaloneGrace != time.Minute || batch.Rollback || batch.HealthGate {
		t.Errorf("batch = %+v", batch)
	}
	if other.MaxOutOfService.Max(10) != 2 || !other.Rollback || other.Standalone != update.StandaloneSkip {
		t.Errorf("a cluster without an override has the defaults: %+v", other)
	}
	if s.GlobalMaxOutOfService != 3 {
		t.Errorf("GlobalMaxOutOfService = %d, want 3", s.GlobalMaxOutOfService)
	}
	if !slices.Equal(prod.AlarmNames, []string{"web-5xx", "web-p99"}) || prod.AlarmPrefix != "prod-slo-" {
		t.Errorf("prod's own gate alarms = %v %q, want [web-5xx web-p99] prod-slo-", prod.AlarmNames, prod.AlarmPrefix)
	}
	if batch.AlarmNames != nil || batch.AlarmPrefix != "" || other.AlarmNames != nil || other.AlarmPrefix != "" {
		t.Errorf("a cluster without alarms of its own has none: batch %v %q, dev %v %q", batch.AlarmNames, batch.AlarmPrefix, other.AlarmNames, other.AlarmPrefix)
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"ROLLWAVE_MAINTENANCE_WINDOW": "Funday 22:00-06:00",
		"ROLLWAVE_STANDALONE_TASKS":   "kill",
		"ROLLWAVE_ON_VERIFY_FAILURE":  "reactivate",
		Env: `{"prod": {"maxOutOfService": "0", "healthGateTimeout": "soon", "errorBudget": {"failures": 0}, "onVerifyFailure": "keep-out",
		                "alarmNames": ["web-5xx", "", "web-5xx"]},
		       "dev": {"maintenanceWindow": "Mon 10:00-11:00 Nowhere/City", "standaloneGrace": "-1m", "alarmPrefix": " "}}`,
	}))
	if err == nil {
		t.Fatal("Load = nil error, want every problem")
	}
	for _, want := range []string{
		"ROLLWAVE_MAINTENANCE_WINDOW", "ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_ON_VERIFY_FAILURE",
		`cluster "prod": maxOutOfService`, `cluster "prod": onVerifyFailure`, `cluster "prod": healthGateTimeout`, `cluster "prod": errorBudget.failures`,
		`cluster "dev": maintenanceWindow`, `cluster "dev": standaloneGrace`,
		`cluster "prod": alarmNames: "" is not`, `cluster "prod": alarmNames: "web-5xx" is named twice`, `cluster "dev": alarmPrefix`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error does not mention %s:\n%v", want, err)
		}
	}
}

// TestLoadRefusesAnErrorBudgetTheTagCannotHold: the failures are counted in one queue tag, which
// holds MaxErrorBudgetFailures; a larger budget is an error naming the limit, not a silent cut.
func TestLoadRefusesAnErrorBudgetTheTagCannotHold(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string // "" for none
	}{
		{name: "default at the limit", env: map[string]string{"ROLLWAVE_ERROR_BUDGET_FAILURES": "8"}},
		{name: "default above the limit", env: map[string]string{"ROLLWAVE_ERROR_BUDGET_FAILURES": "9"},
			wantErr: "ROLLWAVE_ERROR_BUDGET_FAILURES: 9 must be at most 8"},
		{name: "override at the limit", env: map[string]string{Env: `{"prod": {"errorBudget": {"failures": 8}}}`}},
		{name: "override above the limit", env: map[string]string{Env: `{"prod": {"errorBudget": {"failures": 20}}}`},
			wantErr: `cluster "prod": errorBudget.failures: 20 must be at most 8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(env(tc.env))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Load = %v, want no error", err)
			case tc.wantErr == "":
				if got := max(s.Default.ErrorBudget.Failures, s.For("prod").ErrorBudget.Failures); got != MaxErrorBudgetFailures {
					t.Errorf("failures = %d, want %d", got, MaxErrorBudgetFailures)
				}
			case err == nil || !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Load = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadRejectsUnknownFields(t *testing.T) {
	_, err := Load(env(map[string]string{Env: `{"prod": {"maxOutOfServce": "2"}}`}))
	if err == nil || !strings.Contains(err.Error(), "maxOutOfServce") {
		t.Errorf("Load with a misspelt field = %v, want an error naming it", err)
	}
}

func TestLoadRejectsFieldNamesInTheWrongCase(t *testing.T) {
	for _, raw := range []string{
		`{"prod": {"maxOutofService": "2"}}`,
		`{"prod": {"ErrorBudget": {"failures": 3}}}`,
		`{"prod": {"errorBudget": {"Failures": 3}}}`,
	} {
		_, err := Load(env(map[string]string{Env: raw}))
		if err == nil || !strings.Contains(err.Error(), "case-sensitive") {
			t.Errorf("Load(%s) = %v, want the field refused as case-sensitive", raw, err)
		}
	}
	if _, err := Load(env(map[string]string{Env: `{"prod": {"maxOutOfService": "2", "errorBudget": {"failures": 3, "window": "2h"}}}`})); err != nil {
		t.Errorf("Load(exact names) = %v, want nil", err)
	}
}

// TestForIsOneIdentity: a cluster's override applies whether a job names the cluster by name or
// by ARN, and whether the override is keyed by name or by ARN.
func TestForIsOneIdentity(t *testing.T) {
	const arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
	tests := []struct {
		rule, overrides, asked string
		want                   update.StandalonePolicy
	}{
		{"keyed by name, asked by ARN", `{"prod":{"standaloneTasks":"stop"}}`, arn, update.StandaloneStop},
		{"keyed by name, asked by name", `{"prod":{"standaloneTasks":"stop"}}`, "prod", update.StandaloneStop},
		{"keyed by ARN, asked by name", `{"` + arn + `":{"standaloneTasks":"stop"}}`, "prod", update.StandaloneStop},
		{"keyed by ARN, asked by ARN", `{"` + arn + `":{"standaloneTasks":"stop"}}`, arn, update.StandaloneStop},
		{"another cluster gets the default", `{"prod":{"standaloneTasks":"stop"}}`, "arn:aws:ecs:eu-west-1:123456789012:cluster/prod2", update.StandaloneSkip},
	}
	for _, tc := range tests {
		s, err := Load(env(map[string]string{Env: tc.overrides}))
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		if got := s.For(tc.asked).Standalone; got != tc.want {
			t.Errorf("%s: For(%q).Standalone = %q, want %q", tc.rule, tc.asked, got, tc.want)
		}
	}
	_, err := Load(env(map[string]string{Env: `{"prod":{"rollback":true},"` + arn + `":{"rollback":false}}`}))
	if err == nil || !strings.Contains(err.Error(), "same cluster") {
		t.Errorf("Load with prod keyed by name and by ARN = %v, want an error saying they are the same cluster", err)
	}
}
