package patch

import (
	"strings"
	"testing"
	"time"
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

// A command's first poll comes when it is expected to be done, which must be before its deadline;
// both problems are listed at once.
func TestLoadConfigTimesTheFirstPollsFromTheExpectedDurations(t *testing.T) {
	for _, tc := range []struct {
		env        map[string]string
		wantApply  time.Duration
		wantQuick  time.Duration
		wantErrHas []string
	}{
		{env: nil, wantApply: time.Minute, wantQuick: 3 * time.Second},
		{env: map[string]string{"ROLLWAVE_APPLY_EXPECTED": "90s", "ROLLWAVE_SSM_EXPECTED": "5s"}, wantApply: 90 * time.Second, wantQuick: 5 * time.Second},
		{env: map[string]string{"ROLLWAVE_APPLY_EXPECTED": "15m", "ROLLWAVE_SSM_EXPECTED": "3m"},
			wantErrHas: []string{"ROLLWAVE_APPLY_EXPECTED", "ROLLWAVE_SSM_EXPECTED"}},
		{env: map[string]string{"ROLLWAVE_APPLY_EXPECTED": "0s"}, wantErrHas: []string{"ROLLWAVE_APPLY_EXPECTED"}},
	} {
		c, err := loadConfig(env(tc.env))
		for _, want := range tc.wantErrHas {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("loadConfig(%v) = %v, want an error naming %s", tc.env, err, want)
			}
		}
		if len(tc.wantErrHas) > 0 {
			continue
		}
		if err != nil {
			t.Fatalf("loadConfig(%v) = %v", tc.env, err)
		}
		p := newPatcher(c, nil, nil, nil, nil, time.Now)
		if p.apply.Expected != tc.wantApply || p.quick.Expected != tc.wantQuick {
			t.Errorf("loadConfig(%v): apply expected %s, quick %s; want %s and %s", tc.env, p.apply.Expected, p.quick.Expected, tc.wantApply, tc.wantQuick)
		}
	}
}
