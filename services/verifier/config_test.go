package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatalf("loadConfig(empty) error: %v", err)
	}
	if c.RebootTimeout != 15*time.Minute || c.Recheck != 30*time.Second || c.OnFailure != keepOut ||
		c.CheckDoc != "rollwave-update-check" || c.Concurrency != defaultConcurrency {
		t.Errorf("loadConfig(empty) = %+v", c)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"ROLLWAVE_REBOOT_TIMEOUT": "30m", "ROLLWAVE_RECHECK_INTERVAL": "5s",
		"ROLLWAVE_ON_VERIFY_FAILURE": "reactivate", "ROLLWAVE_PREFIX": "rw"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RebootTimeout != 30*time.Minute || c.Recheck != 5*time.Second || c.OnFailure != reactivate || c.CheckDoc != "rw-update-check" {
		t.Errorf("loadConfig = %+v", c)
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(env(map[string]string{"ROLLWAVE_REBOOT_TIMEOUT": "never", "ROLLWAVE_RECHECK_INTERVAL": "0s",
		"ROLLWAVE_ON_VERIFY_FAILURE": "panic", "ROLLWAVE_SHUTDOWN_GRACE": "x"}))
	if err == nil {
		t.Fatal("loadConfig(bad) = nil error, want every problem")
	}
	for _, name := range []string{"ROLLWAVE_REBOOT_TIMEOUT", "ROLLWAVE_RECHECK_INTERVAL", "ROLLWAVE_ON_VERIFY_FAILURE", "ROLLWAVE_SHUTDOWN_GRACE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("loadConfig(bad) error does not name %s:\n%v", name, err)
		}
	}
}
