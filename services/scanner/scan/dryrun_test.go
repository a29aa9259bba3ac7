package scan

import (
	"context"
	"testing"

	"github.com/rollwave/rollwave/shared/queue"
)

func TestDryRunJobs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		forced bool
		want   bool
	}{
		{"scheduled", `{"schema":"rollwave.scan/v1"}`, false, false},
		{"requested dry run", `{"schema":"rollwave.scan/v1","dryRun":true}`, false, true},
		{"forced by ROLLWAVE_DRY_RUN", `{"schema":"rollwave.scan/v1"}`, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ecs, ssm, sent := newScanner(t, host{id: "i-00000001", state: "Available", active: "1.19.5", chosen: "1.20.3"})
			s.dryRun = tc.forced
			if out := s.handle(context.Background(), queue.Message{ID: "m1", Body: []byte(tc.body)}); out != queue.Done() || len(sent.jobs) != 1 {
				t.Fatalf("handle() = %+v with %d jobs, want Done with 1", out, len(sent.jobs))
			}
			if got := sent.jobs[0].DryRun; got != tc.want {
				t.Errorf("job dryRun = %t, want %t", got, tc.want)
			}
			for _, c := range ecs.Calls() {
				if c.Op == "PutAttributes" || c.Op == "DeleteAttributes" || c.Op == "SetState" {
					t.Errorf("the scanner changed an instance: %s", c.Op)
				}
			}
			for _, c := range ssm.Commands() {
				if c.Document != checkDoc {
					t.Errorf("the scanner sent %s", c.Document)
				}
			}
		})
	}
}
