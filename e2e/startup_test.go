package e2e_test

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/rollwave/rollwave/tools/harness"
)

// TestMisspeltSettingStopsEveryWorker starts each worker binary with a setting spelt wrong: it
// must refuse to start, naming the variable and the setting meant, rather than run with that
// setting's default (here: one instance out of service where the operator asked for three).
func TestMisspeltSettingStopsEveryWorker(t *testing.T) {
	t.Parallel()
	for _, w := range workers {
		cmd := exec.CommandContext(t.Context(), harness.BuildBinary(t, "services/"+w))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "ROLLWAVE_CLUSTERS=prod", "ROLLWAVE_MAX_OUT_OF_SERVCE=3", "AWS_REGION=us-east-1"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee := (*exec.ExitError)(nil)
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s with ROLLWAVE_MAX_OUT_OF_SERVCE: %v, want exit status 1", w, err)
		}
		want := w + ": ROLLWAVE_MAX_OUT_OF_SERVCE is not a rollwave setting: did you mean ROLLWAVE_MAX_OUT_OF_SERVICE?"
		if got := strings.TrimSpace(stderr.String()); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 0 {
			t.Errorf("%s says %q, want one line starting %q", w, got, want)
		}
	}
}

// TestStartupSaysWhatToDo starts each worker where its first call to SQS must fail: nothing
// listens at the endpoint, or there are no credentials. Each stops with one line that says
// what is wrong and what to check, not a retry loop or a page of near-identical errors.
func TestStartupSaysWhatToDo(t *testing.T) {
	t.Parallel()
	base := []string{"PATH=/usr/bin:/bin", "ROLLWAVE_CLUSTERS=prod", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"nothing listens at the endpoint", []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_ENDPOINT_URL=http://127.0.0.1:9"},
			"SQS cannot be reached: check AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SQS"},
		{"no credentials", []string{"AWS_ENDPOINT_URL=http://127.0.0.1:9"},
			"no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
	}
	for _, tt := range tests {
		for _, w := range workers {
			cmd := exec.CommandContext(t.Context(), harness.BuildBinary(t, "services/"+w))
			cmd.Env = append(append([]string(nil), base...), tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("%s, %s: %v, want exit status 1", tt.name, w, err)
			}
			got := strings.TrimSpace(stderr.String())
			if !strings.HasPrefix(got, w+": ") || !strings.Contains(got, tt.want) || strings.Count(got, "\n") != 0 {
				t.Errorf("%s, %s says %q, want one line with %q", tt.name, w, got, tt.want)
			}
		}
	}
}
