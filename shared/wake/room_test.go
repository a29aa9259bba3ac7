package wake_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/ecsevent"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

func event(arn, status string, agent bool, stage update.Stage) *ecsevent.ContainerInstanceStateChange {
	ev := &ecsevent.ContainerInstanceStateChange{ClusterARN: "arn:aws:ecs:us-east-1:1:cluster/prod", ContainerInstanceARN: arn, Status: status, AgentConnected: agent}
	if stage != "" {
		v := string(stage)
		ev.Attributes = []ecsevent.Attribute{{Name: update.AttrStage, Value: &v}}
	}
	return ev
}

func TestRoomWakesOneJobPerReturn(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		events []*ecsevent.ContainerInstanceStateChange
		seen   []update.InstanceView // what admission read before the events
		want   []string              // jobs woken, in order
	}{
		{name: "an instance goes DRAINING and comes back: the first parked job wakes",
			events: []*ecsevent.ContainerInstanceStateChange{event("ci-1", "DRAINING", true, update.StageDraining), event("ci-1", "ACTIVE", true, "")},
			want:   []string{"j-1", "any-1"}},
		{name: "two returns wake two jobs of the cluster, one at a time",
			events: []*ecsevent.ContainerInstanceStateChange{
				event("ci-1", "DRAINING", true, update.StageDraining), event("ci-2", "ACTIVE", false, ""),
				event("ci-1", "ACTIVE", true, ""), event("ci-2", "ACTIVE", true, ""),
			},
			want: []string{"j-1", "any-1", "j-2"}},
		{name: "events of an instance always in service wake nothing",
			events: []*ecsevent.ContainerInstanceStateChange{event("ci-3", "ACTIVE", true, ""), event("ci-3", "ACTIVE", true, "")}},
		{name: "a claim withdrawn is a return (stage admitting, then staged)",
			events: []*ecsevent.ContainerInstanceStateChange{event("ci-1", "ACTIVE", true, update.StageAdmitting), event("ci-1", "ACTIVE", true, update.StageStaged)},
			want:   []string{"j-1", "any-1"}},
		{name: "still out of service (rebooting, agent away) is no return",
			events: []*ecsevent.ContainerInstanceStateChange{event("ci-1", "DRAINING", true, update.StageRebooting), event("ci-1", "DRAINING", false, update.StageVerifying)}},
		{name: "an instance admission saw out of service wakes on its first event back",
			seen:   []update.InstanceView{{ARN: "ci-4", Status: "DRAINING", AgentConnected: true}},
			events: []*ecsevent.ContainerInstanceStateChange{event("ci-4", "ACTIVE", true, "")},
			want:   []string{"j-1", "any-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := wake.NewRoom(func() time.Time { return now })
			var woken []string
			park := func(key, job string) {
				r.Park(key, job, now.Add(time.Minute), func() { woken = append(woken, job) })
			}
			park("prod", "j-1")
			park("prod", "j-2")
			park("dev", "j-dev")
			park(wake.AnyCluster, "any-1")
			for _, v := range tc.seen {
				r.Seen(v)
			}
			for _, ev := range tc.events {
				r.Observe(t.Context(), ev)
			}
			if diff := cmp.Diff(tc.want, woken); diff != "" {
				t.Errorf("woken (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoomWakesAJobHeldByTheHealthGateWhenATaskStarts: the health gate waits for the tasks of the
// instances updated last to run and the services to be whole; an event of an instance in service
// with no task pending may be that, so it wakes one job held by the gate, and an event with a task
// still pending, or of an instance out of service, wakes none.
func TestRoomWakesAJobHeldByTheHealthGateWhenATaskStarts(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r := wake.NewRoom(func() time.Time { return now })
	var woken []string
	for _, job := range []string{"g-1", "g-2"} {
		r.Park(wake.SettleKey("arn:aws:ecs:us-east-1:1:cluster/prod"), job, now.Add(time.Minute), func() { woken = append(woken, job) })
	}
	starting := event("ci-1", "ACTIVE", true, "")
	starting.PendingTasksCount = 1
	r.Observe(t.Context(), starting)
	r.Observe(t.Context(), event("ci-2", "DRAINING", true, update.StageDraining))
	if len(woken) != 0 {
		t.Fatalf("woken %v by a task still pending and an instance draining, want none", woken)
	}
	started := event("ci-1", "ACTIVE", true, "")
	started.RunningTasksCount = 1
	r.Observe(t.Context(), started)
	if diff := cmp.Diff([]string{"g-1"}, woken); diff != "" {
		t.Errorf("woken (-want +got), one per event, first parked first:\n%s", diff)
	}
}

func TestRoomParkWakeAndLapse(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r := wake.NewRoom(func() time.Time { return now })
	var woken []string
	park := func(job string, until time.Duration) {
		r.Park("prod", job, now.Add(until), func() { woken = append(woken, job) })
	}
	park("lapsed", -time.Second) // its message is back already
	park("j-1", time.Minute)
	park("j-2", time.Minute)
	park("j-3", time.Minute)
	park("j-1", time.Minute) // parked again: one entry, at the end
	r.Leave("j-2")           // admitted meanwhile
	if got := r.Wake("prod", 5); got != 2 {
		t.Errorf("Wake(prod, 5) = %d, want 2", got)
	}
	if diff := cmp.Diff([]string{"j-3", "j-1"}, woken); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	if got := r.Parked("prod"); got != 0 {
		t.Errorf("Parked(prod) after the wake = %d, want 0 (a job is woken once)", got)
	}
	if got := wake.Key("arn:aws:ecs:us-east-1:1:cluster/prod"); got != "prod" {
		t.Errorf("Key(ARN) = %q, want prod", got)
	}
}

// The end of a job that had taken its instance out of service is what frees its slot (the
// marks' removal publishes no ECS event): it wakes one job of the cluster and one of any.
func TestRoomWakesOneJobPerJobEnded(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ended []ecsevent.JobEnded
		want  []string
	}{
		{name: "an updated instance's job ends at verify: the first parked job of its cluster wakes",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "prod", Step: "verify", Outcome: "updated"}},
			want:  []string{"j-1", "any-1"}},
		{name: "a job named by its cluster's ARN wakes the same jobs",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "arn:aws:ecs:us-east-1:1:cluster/prod", Step: "drain", Outcome: "failed"}},
			want:  []string{"j-1", "any-1"}},
		{name: "two ends wake two jobs, one each",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "prod", Step: "verify"}, {JobID: "e-2", Cluster: "prod", Step: "reboot"}},
			want:  []string{"j-1", "any-1", "j-2"}},
		{name: "a job that ended while staging held no slot",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "prod", Step: "stage", Outcome: "failed"}}},
		{name: "a dry run took no slot",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "prod", Step: "verify", Outcome: "skipped", DryRun: true}}},
		{name: "another cluster's end wakes its own jobs and one of any",
			ended: []ecsevent.JobEnded{{JobID: "e-1", Cluster: "dev", Step: "verify"}},
			want:  []string{"j-dev", "any-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := wake.NewRoom(func() time.Time { return now })
			var woken []string
			park := func(key, job string) {
				r.Park(key, job, now.Add(time.Minute), func() { woken = append(woken, job) })
			}
			park("prod", "j-1")
			park("prod", "j-2")
			park("dev", "j-dev")
			park(wake.AnyCluster, "any-1")
			for _, e := range tc.ended {
				r.Ended(t.Context(), &e)
			}
			if diff := cmp.Diff(tc.want, woken); diff != "" {
				t.Errorf("woken (-want +got):\n%s", diff)
			}
		})
	}
}

// The events queue of the drainer brings both kinds: the handler hands each to the room.
func TestEventHandlerTellsTheRoomOfJobEnds(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r := wake.NewRoom(func() time.Time { return now })
	var woken []string
	r.Park("prod", "j-1", now.Add(time.Minute), func() { woken = append(woken, "j-1") })
	h := wake.EventHandler(wake.NewRegistry(), r)
	for _, body := range []string{
		`{"id":"1","source":"rollwave","detail-type":"Instance Update Started","detail":{"jobId":"e-1","cluster":"prod","step":"stage"}}`,
		`{"id":"2","source":"rollwave","detail-type":"Instance Update Succeeded","detail":{"jobId":"e-1","cluster":"prod","step":"verify","outcome":"updated"}}`,
	} {
		if got := h(t.Context(), queue.Message{Body: []byte(body)}); got.String() != "done" {
			t.Errorf("handler(%s) = %s, want done", body, got)
		}
	}
	if diff := cmp.Diff([]string{"j-1"}, woken); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	if got := h(t.Context(), queue.Message{Body: []byte(`{"id":"3","source":"rollwave","detail-type":"Instance Update Failed","detail":{"step":"drain"}}`)}); !strings.HasPrefix(got.String(), "poison: ") {
		t.Errorf("handler(end without job or cluster) = %s, want poison", got)
	}
}
