// Package servicetest holds the tests that every worker's run must pass, as shared/service
// defines how a worker starts.
package servicetest

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/service"
)

// ConfigFirst runs run with the settings env, which hold problems, against AWS endpoints that
// count every connection, and requires what every worker promises: it refuses to start with one
// configuration error that names each of want (a variable, a policy's problem), and it made no
// network call before it did.
func ConfigFirst(t *testing.T, run service.Run, env map[string]string, want ...string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var calls atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			calls.Add(1)
			c.Close()
		}
	}()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+ln.Addr().String())
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var logs strings.Builder
	err = run(ctx, func(k string) string { return env[k] }, &logs)
	if err == nil {
		t.Fatalf("run() = nil, want a configuration error naming %q", want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "configure: ") {
		t.Errorf("run() = %q, want a configuration error (configure: ...)", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("run() = %q, want it to name %q", msg, w)
		}
	}
	if n := calls.Load(); n > 0 {
		t.Errorf("run() connected to AWS %d times before refusing its configuration, want none", n)
	}
}
