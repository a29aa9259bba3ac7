package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/version"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantDone   bool
		wantOut    string
		wantErrHas string
	}{
		{name: "no argument: run", args: nil},
		{name: "--version prints and exits", args: []string{"--version"}, wantDone: true, wantOut: version.Get().Line("scanner") + "\n"},
		{name: "-version too", args: []string{"-version"}, wantDone: true, wantOut: version.Get().Line("scanner") + "\n"},
		{name: "anything else is an error naming it", args: []string{"--clusters=prod"}, wantErrHas: `unexpected argument "--clusters=prod": scanner takes only --version`},
		{name: "--version with more is an error", args: []string{"--version", "x"}, wantErrHas: `unexpected argument "--version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			done, err := Args("scanner", tt.args, &out)
			if done != tt.wantDone {
				t.Errorf("Args(%q) done = %v, want %v", tt.args, done, tt.wantDone)
			}
			if out.String() != tt.wantOut {
				t.Errorf("Args(%q) printed %q, want %q", tt.args, out.String(), tt.wantOut)
			}
			switch {
			case tt.wantErrHas == "" && err != nil:
				t.Errorf("Args(%q) = %v, want no error", tt.args, err)
			case tt.wantErrHas != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrHas)):
				t.Errorf("Args(%q) = %v, want an error containing %q", tt.args, err, tt.wantErrHas)
			}
		})
	}
}

func TestStarted(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := metrics.Datum{
		Name:       metrics.WorkerStarted,
		Dimensions: map[string]string{metrics.Service: "drainer", metrics.Version: version.String()},
		Value:      1,
		Unit:       metrics.Count,
		At:         now,
	}
	if diff := cmp.Diff(want, Started("drainer", now)); diff != "" {
		t.Errorf("Started(drainer) mismatch (-want +got):\n%s", diff)
	}
}
