package scan

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
)

// TestScanToOneTargetVersion: with a target, every host that does not run the rollout's version
// gets a job pinned to it, whether its own update check chooses it, a newer one, or nothing yet
// (its wave has not come: the patcher holds that job until it has).
func TestScanToOneTargetVersion(t *testing.T) {
	repo := []string{"1.21.0", "1.20.3", "1.20.2", "1.19.5"}
	hosts := []host{
		{id: "i-0000000000000000a", state: "Available", active: "1.19.5", chosen: "1.20.3", available: repo},
		{id: "i-0000000000000000b", state: "Idle", active: "1.19.5", available: repo}, // its wave has not come
		{id: "i-0000000000000000c", state: "Available", active: "1.20.2", chosen: "1.21.0", available: repo},
		{id: "i-0000000000000000d", state: "Idle", active: "1.20.3", available: repo},
		{id: "i-0000000000000000e", state: "Available", active: "1.19.5", chosen: "1.19.6", available: []string{"1.19.6", "1.19.5"}},
	}
	tests := []struct {
		name, config, request string
		want                  []string
	}{
		{"no target: each host its own choice", "", `{"schema":"rollwave.scan/v1"}`,
			[]string{"i-0000000000000000a 1.19.5->1.20.3", "i-0000000000000000e 1.19.5->1.19.6", "i-0000000000000000c 1.20.2->1.21.0"}},
		{"latest: the newest a host is offered, for every host that lists it", "latest", `{"schema":"rollwave.scan/v1"}`,
			[]string{"i-0000000000000000a 1.19.5->1.21.0", "i-0000000000000000b 1.19.5->1.21.0", "i-0000000000000000c 1.20.2->1.21.0", "i-0000000000000000d 1.20.3->1.21.0"}},
		{"a minor version: its newest patch", "1.20", `{"schema":"rollwave.scan/v1"}`,
			[]string{"i-0000000000000000a 1.19.5->1.20.3", "i-0000000000000000b 1.19.5->1.20.3", "i-0000000000000000c 1.20.2->1.20.3"}},
		{"the request's target over the scanner's", "latest", `{"schema":"rollwave.scan/v1","targetVersion":"1.20.2"}`,
			[]string{"i-0000000000000000a 1.19.5->1.20.2", "i-0000000000000000b 1.19.5->1.20.2"}},
		{"a version nobody lists: nothing", "", `{"schema":"rollwave.scan/v1","targetVersion":"1.22"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _, sent := newScanner(t, hosts...)
			var err error
			if s.target, err = update.ParseTarget(tt.config); err != nil {
				t.Fatal(err)
			}
			if out := s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(tt.request)}); out != queue.Done() {
				t.Fatalf("handle() = %+v, want Done", out)
			}
			if diff := cmp.Diff(tt.want, targets(sent.jobs)); diff != "" {
				t.Errorf("jobs sent (-want +got):\n%s", diff)
			}
			for _, j := range sent.jobs {
				if j.PinTarget != (tt.config != "" || tt.request != `{"schema":"rollwave.scan/v1"}`) {
					t.Errorf("job %s: pinTarget %t, want it exactly when the scan has a target", j.Instance, j.PinTarget)
				}
			}
		})
	}
}
