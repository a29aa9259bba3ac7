package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/update"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatalf("loadConfig(empty) error: %v", err)
	}
	want := policy{Limit: update.DefaultLimit, DrainTimeout: 25 * time.Minute, Recheck: 30 * time.Second,
		AdmissionRetry: 30 * time.Second, Standalone: update.StandaloneSkip}
	if diff := cmp.Diff(want, c.policy, cmp.AllowUnexported(update.Limit{})); diff != "" {
		t.Errorf("loadConfig(empty) policy (-want +got):\n%s", diff)
	}
	if c.Concurrency != defaultConcurrency || c.Prefix != "rollwave" {
		t.Errorf("loadConfig(empty) = concurrency %d prefix %q, want %d rollwave", c.Concurrency, c.Prefix, defaultConcurrency)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	c, err := loadConfig(env(map[string]string{
		"ROLLWAVE_MAX_OUT_OF_SERVICE": "20%", "ROLLWAVE_DRAIN_TIMEOUT": "1h", "ROLLWAVE_RECHECK_INTERVAL": "5s",
		"ROLLWAVE_ADMISSION_RETRY": "1m", "ROLLWAVE_STANDALONE_TASKS": "wait", "ROLLWAVE_CONCURRENCY": "2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limit.String() != "20%" || c.DrainTimeout != time.Hour || c.Recheck != 5*time.Second ||
		c.AdmissionRetry != time.Minute || c.Standalone != update.StandaloneWait || c.Concurrency != 2 {
		t.Errorf("loadConfig = %+v", c)
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"ROLLWAVE_MAX_OUT_OF_SERVICE": "0", "ROLLWAVE_DRAIN_TIMEOUT": "soon", "ROLLWAVE_RECHECK_INTERVAL": "-1s",
		"ROLLWAVE_ADMISSION_RETRY": "0s", "ROLLWAVE_STANDALONE_TASKS": "kill", "ROLLWAVE_CONCURRENCY": "0",
		"ROLLWAVE_LOG_LEVEL": "loud",
	}))
	if err == nil {
		t.Fatal("loadConfig(bad) = nil error, want every problem")
	}
	for _, name := range []string{"ROLLWAVE_MAX_OUT_OF_SERVICE", "ROLLWAVE_DRAIN_TIMEOUT", "ROLLWAVE_RECHECK_INTERVAL",
		"ROLLWAVE_ADMISSION_RETRY", "ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_CONCURRENCY", "ROLLWAVE_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("loadConfig(bad) error does not name %s:\n%v", name, err)
		}
	}
}
