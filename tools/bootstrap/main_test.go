package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	env := map[string]string{"ROLLWAVE_PREFIX": "acme", "ROLLWAVE_CLUSTERS": "prod, arn:aws:ecs:us-east-1:123456789012:cluster/prod"}
	o, err := parseFlags([]string{"-scan"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := options{mode: "create", prefix: "acme", clusters: []string{"arn:aws:ecs:us-east-1:123456789012:cluster/prod"}, wait: time.Minute, retry: 2 * time.Second, scan: true}
	if diff := cmp.Diff(want, o, cmp.AllowUnexported(options{})); diff != "" {
		t.Errorf("parseFlags(-scan) (-want +got):\n%s", diff)
	}
	if _, err := parseFlags([]string{"-wait", "0s"}, func(string) string { return "" }); err == nil {
		t.Error("parseFlags(-wait 0s) = nil error, want one")
	}
	o, err = parseFlags(nil, func(k string) string { return map[string]string{"ROLLWAVE_BOOTSTRAP": "check"}[k] })
	if err != nil || o.mode != "check" {
		t.Errorf("parseFlags with ROLLWAVE_BOOTSTRAP=check = %q, %v; want mode check", o.mode, err)
	}
	if _, err := parseFlags([]string{"-mode", "verify"}, func(string) string { return "" }); err == nil {
		t.Error("parseFlags(-mode verify) = nil error, want one")
	}
}

func TestRetry(t *testing.T) {
	calls := 0
	err := retry(context.Background(), time.Minute, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not up yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retry = %v after %d calls, want nil after 3", err, calls)
	}
	boom := errors.New("connection refused")
	err = retry(context.Background(), 20*time.Millisecond, time.Millisecond, func() error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("retry past the deadline = %v, want it to wrap %v", err, boom)
	}
}
