package service

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/version"
)

func TestMainExitCodes(t *testing.T) {
	failing := func(context.Context, func(string) string, io.Writer) error {
		return errors.New("configure: ROLLWAVE_PREFIX is empty")
	}
	tests := []struct {
		name       string
		args       []string
		environ    []string
		run        Run
		wantCode   int
		wantRan    bool
		wantStdout string
		wantStderr string
	}{
		{name: "a run that ends without error exits 0", wantCode: 0, wantRan: true},
		{name: "a run's error is printed with the worker's name and exits 1", run: failing, wantCode: 1, wantRan: true,
			wantStderr: "drainer: configure: ROLLWAVE_PREFIX is empty\n"},
		{name: "a misspelt setting exits 1 without running", environ: []string{"ROLLWAVE_CONCURENCY=8"}, wantCode: 1,
			wantStderr: "drainer: " + envconfig.CheckNames([]string{"ROLLWAVE_CONCURENCY=8"}).Error() + "\n"},
		{name: "--version prints and exits 0 without running", args: []string{"--version"}, wantCode: 0,
			wantStdout: version.Get().Line("drainer") + "\n"},
		{name: "another argument exits 1 without running", args: []string{"--clusters=prod"}, wantCode: 1,
			wantStderr: `drainer: unexpected argument "--clusters=prod": drainer takes only --version and reads its settings from the environment (docs/configuration.md)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			run := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
				ran = true
				if tt.run != nil {
					return tt.run(ctx, getenv, stdout)
				}
				return nil
			}
			var stdout, stderr strings.Builder
			code := main("drainer", tt.args, tt.environ, run, func(string) string { return "" }, &stdout, &stderr)
			got := []any{code, ran, stdout.String(), stderr.String()}
			want := []any{tt.wantCode, tt.wantRan, tt.wantStdout, tt.wantStderr}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("main(%q) = code, ran, stdout, stderr (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestMainCancelsRunOnSIGTERM sends the test process SIGTERM while run waits: run's context
// ends, and a run that then returns nil exits 0, as a worker stopped by ECS does.
func TestMainCancelsRunOnSIGTERM(t *testing.T) {
	started := make(chan struct{})
	run := func(ctx context.Context, _ func(string) string, _ io.Writer) error {
		close(started)
		<-ctx.Done()
		return nil
	}
	code := make(chan int, 1)
	go func() {
		code <- main("verifier", nil, nil, run, func(string) string { return "" }, io.Discard, io.Discard)
	}()
	<-started
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := <-code; got != 0 {
		t.Errorf("main() after SIGTERM = %d, want 0", got)
	}
}
