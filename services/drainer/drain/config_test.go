package drain

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

func TestPolicyVariablesArePolicyLoads(t *testing.T) {
	if diff := cmp.Diff(policy.Variables, policyVariables); diff != "" {
		t.Errorf("policyVariables (-policy.Variables +drainer):\n%s", diff)
	}
}

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
	want := timings{DrainTimeout: 25 * time.Minute, Recheck: 30 * time.Second, AdmissionRetry: 30 * time.Second,
		AdmissionBackstop: 30 * time.Second, WaitingThreshold: 15 * time.Minute}
	if diff := cmp.Diff(want, c.policy); diff != "" {
		t.Errorf("loadConfig(empty) policy (-want +got):\n%s", diff)
	}
	if p := c.Policies.For("any"); p.MaxOutOfService != update.DefaultLimit || p.Standalone != update.StandaloneSkip {
		t.Errorf("loadConfig(empty) default policy = %+v, want limit 1 and skip", p)
	}
	if c.Concurrency != defaultConcurrency || c.Prefix != "rollwave" {
		t.Errorf("loadConfig(empty) = concurrency %d prefix %q, want %d rollwave", c.Concurrency, c.Prefix, defaultConcurrency)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	c, err := loadConfig(env(map[string]string{
		"ROLLWAVE_MAX_OUT_OF_SERVICE": "20%", "ROLLWAVE_DRAIN_TIMEOUT": "1h", "ROLLWAVE_RECHECK_INTERVAL": "5s",
		"ROLLWAVE_ADMISSION_RETRY": "1m", "ROLLWAVE_STANDALONE_TASKS": "wait", "ROLLWAVE_CONCURRENCY": "2",
		"ROLLWAVE_WAITING_THRESHOLD": "1h", "ROLLWAVE_ADMISSION_BACKSTOP": "7m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policies.For("prod")
	if p.MaxOutOfService.String() != "20%" || c.policy.DrainTimeout != time.Hour || c.policy.Recheck != 5*time.Second ||
		c.policy.AdmissionRetry != time.Minute || p.Standalone != update.StandaloneWait || c.Concurrency != 2 || c.policy.WaitingThreshold != time.Hour ||
		c.policy.AdmissionBackstop != 7*time.Minute {
		t.Errorf("loadConfig = %+v", c)
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"ROLLWAVE_MAX_OUT_OF_SERVICE": "0", "ROLLWAVE_DRAIN_TIMEOUT": "soon", "ROLLWAVE_RECHECK_INTERVAL": "-1s",
		"ROLLWAVE_ADMISSION_RETRY": "0s", "ROLLWAVE_STANDALONE_TASKS": "kill", "ROLLWAVE_CONCURRENCY": "0",
		"ROLLWAVE_LOG_LEVEL": "loud", "ROLLWAVE_WAITING_THRESHOLD": "500ms", "ROLLWAVE_ADMISSION_BACKSTOP": "later",
	}))
	if err == nil {
		t.Fatal("loadConfig(bad) = nil error, want every problem")
	}
	for _, name := range []string{"ROLLWAVE_MAX_OUT_OF_SERVICE", "ROLLWAVE_DRAIN_TIMEOUT", "ROLLWAVE_RECHECK_INTERVAL",
		"ROLLWAVE_ADMISSION_RETRY", "ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_CONCURRENCY", "ROLLWAVE_LOG_LEVEL", "ROLLWAVE_WAITING_THRESHOLD",
		"ROLLWAVE_ADMISSION_BACKSTOP"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("loadConfig(bad) error does not name %s:\n%v", name, err)
		}
	}
}

func TestLoadConfigClusterTag(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    *cluster.TagSelector
		wantErr bool
	}{
		// shared/managed's own test covers the syntax; these rows only show that loadConfig
		// reads the variable and names it when it is wrong.
		{raw: "", want: nil},
		{raw: "rollwave=on", want: &cluster.TagSelector{Key: "rollwave", Value: "on"}},
		{raw: "=on", wantErr: true},
	} {
		c, err := loadConfig(env(map[string]string{"ROLLWAVE_CLUSTER_TAG": tc.raw}))
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "ROLLWAVE_CLUSTER_TAG") {
				t.Errorf("loadConfig(ROLLWAVE_CLUSTER_TAG=%q) = %v, want an error naming it", tc.raw, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("loadConfig(ROLLWAVE_CLUSTER_TAG=%q): %v", tc.raw, err)
		}
		if diff := cmp.Diff(tc.want, c.Managed.Tag); diff != "" {
			t.Errorf("loadConfig(ROLLWAVE_CLUSTER_TAG=%q).Managed.Tag (-want +got):\n%s", tc.raw, diff)
		}
	}
}

func TestLoadConfigRefusesALeaseShorterThanTheGapsBetweenLooks(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr string // "" for none
	}{
		{env: nil},
		{env: map[string]string{"ROLLWAVE_LEASE": "4m"}}, // recheck 30s, retry 30s (+ as much jitter): 4 x 1m
		{env: map[string]string{"ROLLWAVE_LEASE": "3m"}, wantErr: "ROLLWAVE_ADMISSION_RETRY with its jitter can leave a job 1m0s"},
		{env: map[string]string{"ROLLWAVE_LEASE": "3m", "ROLLWAVE_ADMISSION_RETRY": "10s"}}, // backstop unset: 22.5s
		{env: map[string]string{"ROLLWAVE_LEASE": "3m", "ROLLWAVE_ADMISSION_RETRY": "10s", "ROLLWAVE_ADMISSION_BACKSTOP": "1m"},
			wantErr: "ROLLWAVE_ADMISSION_BACKSTOP with its jitter can leave a job 2m0s"},
		{env: map[string]string{"ROLLWAVE_LEASE": "1m", "ROLLWAVE_ADMISSION_RETRY": "1s"}, wantErr: "ROLLWAVE_RECHECK_INTERVAL can leave a job 30s"},
		{env: map[string]string{"ROLLWAVE_LEASE": "40s", "ROLLWAVE_ADMISSION_RETRY": "200ms", "ROLLWAVE_RECHECK_INTERVAL": "250ms"}},
		{env: map[string]string{"ROLLWAVE_LEASE": "0s"}, wantErr: "ROLLWAVE_LEASE"},
	} {
		c, err := loadConfig(env(tc.env))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("loadConfig(%v) = %v, want it loaded", tc.env, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("loadConfig(%v) = %v, want an error saying %q", tc.env, err, tc.wantErr)
		case err == nil && tc.env["ROLLWAVE_LEASE"] == "" && c.Lease != update.DefaultLease:
			t.Errorf("loadConfig(%v).Lease = %s, want the default %s", tc.env, c.Lease, update.DefaultLease)
		}
	}
}
