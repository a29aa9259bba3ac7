package main

import (
	"strings"
	"testing"
)

// env is m over the one setting every worker needs, the managed clusters.
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if k == "ROLLWAVE_CLUSTERS" && m[k] == "" {
			return "prod"
		}
		return m[k]
	}
}

// Staging runs between two writes of the job's lease: the lease must outlast it twice over.
func TestLoadConfigRefusesALeaseShorterThanStaging(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr bool
	}{
		{env: nil}, // 1h against 2 x (15m + 3 x 2m)
		{env: map[string]string{"ROLLWAVE_LEASE": "42m"}},
		{env: map[string]string{"ROLLWAVE_LEASE": "41m"}, wantErr: true},
		{env: map[string]string{"ROLLWAVE_LEASE": "20m", "ROLLWAVE_APPLY_TIMEOUT": "5m", "ROLLWAVE_SSM_TIMEOUT": "1m"}},
		{env: map[string]string{"ROLLWAVE_LEASE": "2h", "ROLLWAVE_APPLY_TIMEOUT": "1h"}, wantErr: true},
	} {
		_, err := loadConfig(env(tc.env))
		if got := err != nil; got != tc.wantErr || got && !strings.Contains(err.Error(), "ROLLWAVE_LEASE") {
			t.Errorf("loadConfig(%v) = %v, want an error naming ROLLWAVE_LEASE: %t", tc.env, err, tc.wantErr)
		}
	}
}
