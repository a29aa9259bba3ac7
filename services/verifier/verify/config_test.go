package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// env is m with the one setting every worker requires, ROLLWAVE_CLUSTERS=prod, unless m sets it.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok || k != "ROLLWAVE_CLUSTERS" {
			return v
		}
		return "prod"
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatalf("loadConfig(empty) error: %v", err)
	}
	if c.RebootTimeout != 15*time.Minute || c.Recheck != 30*time.Second || c.policies.For("prod").OnVerifyFailure != update.ParkFailed ||
		c.CheckDoc != "rollwave-update-check" || c.LockDoc != "rollwave-version-lock" || c.Concurrency != defaultConcurrency {
		t.Errorf("loadConfig(empty) = %+v", c)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"ROLLWAVE_REBOOT_TIMEOUT": "30m", "ROLLWAVE_RECHECK_INTERVAL": "5s",
		"ROLLWAVE_ON_VERIFY_FAILURE": "return", "ROLLWAVE_CLUSTER_POLICIES": `{"prod": {"onVerifyFailure": "park"}}`, "ROLLWAVE_PREFIX": "rw"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RebootTimeout != 30*time.Minute || c.Recheck != 5*time.Second || c.CheckDoc != "rw-update-check" || c.LockDoc != "rw-version-lock" {
		t.Errorf("loadConfig = %+v", c)
	}
	if got, prod := c.policies.For("dev").OnVerifyFailure, c.policies.For("prod").OnVerifyFailure; got != update.ReturnFailed || prod != update.ParkFailed {
		t.Errorf("onVerifyFailure: dev %q, prod %q; want return (the default set), park (prod's override)", got, prod)
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(env(map[string]string{"ROLLWAVE_REBOOT_TIMEOUT": "never", "ROLLWAVE_RECHECK_INTERVAL": "0s",
		"ROLLWAVE_ON_VERIFY_FAILURE": "panic", "ROLLWAVE_SHUTDOWN_GRACE": "x", "ROLLWAVE_CLUSTER_POLICIES": `{"prod": {"onVerifyFailure": "reactivate"}}`}))
	if err == nil {
		t.Fatal("loadConfig(bad) = nil error, want every problem")
	}
	for _, name := range []string{"ROLLWAVE_REBOOT_TIMEOUT", "ROLLWAVE_RECHECK_INTERVAL", "ROLLWAVE_ON_VERIFY_FAILURE", "ROLLWAVE_SHUTDOWN_GRACE", `cluster "prod": onVerifyFailure`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("loadConfig(bad) error does not name %s:\n%v", name, err)
		}
	}
}

func TestLoadConfigRefusesALeaseShorterThanALook(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr bool
	}{
		{env: nil},
		{env: map[string]string{"ROLLWAVE_LEASE": "10m"}}, // a look: recheck 30s + an update check of up to 2m
		{env: map[string]string{"ROLLWAVE_LEASE": "9m"}, wantErr: true},
		{env: map[string]string{"ROLLWAVE_LEASE": "40s", "ROLLWAVE_RECHECK_INTERVAL": "250ms", "ROLLWAVE_SSM_TIMEOUT": "4s"}},
	} {
		_, err := loadConfig(env(tc.env))
		if got := err != nil; got != tc.wantErr || got && !strings.Contains(err.Error(), "ROLLWAVE_LEASE") {
			t.Errorf("loadConfig(%v) = %v, want an error naming ROLLWAVE_LEASE: %t", tc.env, err, tc.wantErr)
		}
	}
}
