package drain

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/update"
)

// TestStandalonePolicies drains an instance that runs a service task and a standalone task
// under each policy that drains it: the service task moves at 5m; the standalone task ends on
// its own at endsAt (0: never) unless rollwave stops it.
func TestStandalonePolicies(t *testing.T) {
	tests := []struct {
		rule        string
		policy      update.StandalonePolicy
		endsAt      time.Duration
		want        string // outcome
		wantStep    update.Step
		wantEvents  []string
		wantStopped bool // the drainer called StopTask for the standalone task
		wantStatus  string
	}{
		{"wait: the task ends on its own after the drain timeout but before the standalone deadline: drained, rebooted next",
			update.StandaloneWait, 40 * time.Minute, "done", update.StepReboot, nil, false, cluster.StatusDraining},
		{"wait: the task outlives the standalone deadline: undone, skipped standalone-task, never stopped",
			update.StandaloneWait, 0, "done", "", []string{notify.InstanceUpdateSkipped + ": standalone-task"}, false, cluster.StatusActive},
		{"stop: the task still runs after the grace: stopped, drained, rebooted next",
			update.StandaloneStop, 0, "done", update.StepReboot, nil, true, cluster.StatusDraining},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := defaultPolicy()
				p.Standalone = tt.policy
				w := newWorld(t, p)
				w.d.policies.Default.StandaloneDeadline = time.Hour
				w.d.policies.Default.StandaloneGrace = 10 * time.Minute
				w.d.stopper = w.ecs
				batch := w.ecs.AddTask(testCluster, cluster.Task{InstanceARN: w.me.ARN, Group: "family:report", StartedBy: "cron"})
				wait := w.start(t, w.job(t))
				synctest.Wait()
				time.Sleep(5 * time.Minute)
				tasks, err := w.ecs.Tasks(t.Context(), testCluster, w.me.ARN)
				if err != nil {
					t.Fatal(err)
				}
				for _, task := range tasks {
					if strings.HasPrefix(task.StartedBy, "ecs-svc/") {
						if err := w.ecs.StopTask(t.Context(), testCluster, task.ARN, "moved"); err != nil {
							t.Fatal(err)
						}
					}
				}
				if tt.endsAt > 0 {
					time.Sleep(tt.endsAt - 5*time.Minute)
					if err := w.ecs.StopTask(t.Context(), testCluster, batch.ARN, "ended"); err != nil {
						t.Fatal(err)
					}
				}
				if got := wait(); got.String() != tt.want {
					t.Fatalf("handle = %s, want %s", got, tt.want)
				}
				var steps []update.Step
				for _, j := range w.forwarded(t) {
					steps = append(steps, j.Step)
				}
				if tt.wantStep != "" && (len(steps) != 1 || steps[0] != tt.wantStep) || tt.wantStep == "" && len(steps) != 0 {
					t.Errorf("forwarded steps = %v, want [%s]", steps, tt.wantStep)
				}
				if diff := cmp.Diff(tt.wantEvents, w.events.all()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				stopped := false
				for _, c := range w.ecs.Calls() {
					if c.Op == "StopTask" && len(c.Args) == 2 && c.Args[0] == batch.ARN && strings.HasPrefix(c.Args[1], "rollwave job") {
						stopped = true
					}
				}
				if stopped != tt.wantStopped {
					t.Errorf("drainer stopped the standalone task: %t, want %t", stopped, tt.wantStopped)
				}
				if in := w.instance(t, w.me.ARN); in.Status != tt.wantStatus {
					t.Errorf("status = %s, want %s", in.Status, tt.wantStatus)
				}
			})
		})
	}
}
