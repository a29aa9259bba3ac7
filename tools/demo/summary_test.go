package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// recorded is the outcome of a real `make demo` run (testdata/succeeded.json, the report's
// samples shortened): seven instances updated, one skipped for its standalone task.
func recorded(t *testing.T) Outcome {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSummarizeJudgesTheRollout(t *testing.T) {
	const inst = "i-00f00000000000003"
	tests := []struct {
		name   string
		change func(*Outcome)
		want   []string
	}{
		{"a rollout where every instance was updated or skipped with a reason succeeded", func(*Outcome) {}, nil},
		{"a job that failed fails the rollout with its reason", func(o *Outcome) {
			o.Ended[inst] = Ended{DetailType: notify.InstanceUpdateFailed, Detail: notify.JobDetail{Reason: "boot-failed-rolled-back"}}
		}, []string{"prod/" + inst + ": failed: boot-failed-rolled-back"}},
		{"a skip without a reason fails the rollout", func(o *Outcome) {
			o.Ended[inst] = Ended{DetailType: notify.InstanceUpdateSkipped}
		}, []string{"prod/" + inst + ": skipped without a reason"}},
		{"an instance whose job never ended fails the rollout", func(o *Outcome) { delete(o.Ended, inst) },
			[]string{"prod/" + inst + ": no job ended"}},
		{"an instance updated but rebooted twice fails the rollout", func(o *Outcome) { o.Report.Instances[2].Reboots = 2 },
			[]string{"prod/" + inst + ": rebooted 2 times, want exactly 1"}},
		{"a service below its floor fails the rollout", func(o *Outcome) {
			o.Report.Services[0].MinRunning, o.Report.Services[0].BelowFloor = 3, true
		}, []string{"prod/web: 3 running, below its floor of 4"}},
		{"a daemon service is never held to a floor", func(o *Outcome) { o.Report.Services[2].MinRunning = 0 }, nil},
		{"more instances out of service than the limit fails the rollout", func(o *Outcome) { o.Report.Clusters[1].MaxOutOfService = 2 },
			[]string{"staging: 2 instances out of service at once, limit 1"}},
		{"an instance left DRAINING fails the rollout", func(o *Outcome) { o.Report.LeftDraining = []string{inst} },
			[]string{"left DRAINING: " + inst}},
		{"the deadline fails the rollout", func(o *Outcome) { o.TimedOut = true },
			[]string{"the deadline passed before every job ended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := recorded(t)
			tt.change(&o)
			s := Summarize(o)
			if diff := cmp.Diff(tt.want, s.Problems); diff != "" {
				t.Errorf("Summarize(...).Problems: (-want +got)\n%s", diff)
			}
			if got, want := len(s.Instances), 8; got != want {
				t.Errorf("Summarize(...) lists %d instances, want %d", got, want)
			}
		})
	}
}

// TestSummaryOutput compares the printed summary of the recorded run with
// testdata/succeeded.golden (go test -update rewrites it).
func TestSummaryOutput(t *testing.T) {
	var b bytes.Buffer
	Summarize(recorded(t)).Write(&b)
	golden := filepath.Join("testdata", "succeeded.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("Summary.Write: (-want +got)\n%s", diff)
	}
}

func TestObserverMeasuresTimeBeyondDrainAndReboot(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at                        time.Duration
		status                    string
		hostUp, agent             bool
		serviceTasks, daemonTasks int
	}
	// Out of service 0s..100s: DRAINING at 0s, drained at 20s, host down 30s..95s, ACTIVE at 100s.
	steps := []step{
		{-10 * time.Second, "ACTIVE", true, true, 2, 1},
		{0, "DRAINING", true, true, 2, 1},
		{10 * time.Second, "DRAINING", true, true, 1, 1},
		{20 * time.Second, "DRAINING", true, true, 0, 1},
		{30 * time.Second, "DRAINING", false, false, 0, 0},
		{80 * time.Second, "DRAINING", true, false, 0, 0},
		{95 * time.Second, "DRAINING", true, true, 0, 1},
		{100 * time.Second, "ACTIVE", true, true, 0, 1},
		{110 * time.Second, "ACTIVE", true, true, 1, 1},
	}
	o := newObserver()
	for _, s := range steps {
		in := admin.InstanceState{EC2InstanceID: "i-1", Status: s.status, HostUp: s.hostUp, AgentConnected: s.agent}
		for range s.serviceTasks {
			in.Tasks = append(in.Tasks, admin.TaskState{Group: "service:web", DesiredStatus: "RUNNING"})
		}
		for range s.daemonTasks {
			in.Tasks = append(in.Tasks, admin.TaskState{Group: "service:log", DesiredStatus: "RUNNING"})
		}
		o.Observe(admin.State{Now: t0.Add(s.at), Clusters: []admin.ClusterState{{Name: "prod", Instances: []admin.InstanceState{in},
			Services: []admin.ServiceState{{Name: "web"}, {Name: "log", Daemon: true}}}}})
	}
	got := o.Timelines()["i-1"]
	want := Timeline{OutOfService: 100 * time.Second, Drain: 20 * time.Second, Reboot: 65 * time.Second, Observed: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Timelines()[i-1]: (-want +got)\n%s", diff)
	}
	if got, want := got.Beyond(), 15*time.Second; got != want {
		t.Errorf("Beyond() = %s, want %s", got, want)
	}
}
