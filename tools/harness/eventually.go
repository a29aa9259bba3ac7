package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// pollInterval is how often Eventually and the readiness probes look again.
const pollInterval = 50 * time.Millisecond

// Eventually polls cond every 50 ms until it reports true, and fails the test when timeout has
// passed first, quoting the reason cond gave last. cond's reason says what it saw, e.g.
// "3 of 4 events received". Call it from the test's goroutine.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, reason string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if reason, ok := poll(ctx, cond); !ok {
		t.Fatalf("condition not met within %v: %s", timeout, reason)
	}
}

// poll calls cond until it reports true (returning true) or ctx is done (returning false and
// cond's last reason).
func poll(ctx context.Context, cond func() (bool, string)) (string, bool) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		ok, r := cond()
		if ok {
			return r, true
		}
		select {
		case <-ctx.Done():
			return r, false
		case <-ticker.C:
		}
	}
}

// waitHTTP polls url with GET until it answers 200, p (if not nil) exits, or ctx is done.
func waitHTTP(ctx context.Context, url string, p *Process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	exited := false
	reason, ok := poll(ctx, func() (bool, string) {
		if p != nil && !p.Running() {
			exited = true
			return true, fmt.Sprintf("%s exited: %v", p.Name, p.exitErr())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, "status " + resp.Status
		}
		return true, ""
	})
	switch {
	case exited:
		return fmt.Errorf("wait for %s: %s", url, reason)
	case !ok:
		return fmt.Errorf("wait for %s: %w (last: %s)", url, ctx.Err(), reason)
	}
	return nil
}
