package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/notify"
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

// TestSummarizeMeasuresFromTheReport expects the figures of the summary to be the report's: the
// updated instances' time beyond drain and reboot, and the workers' API calls (not the demo's own).
func TestSummarizeMeasuresFromTheReport(t *testing.T) {
	o := recorded(t)
	var total, most time.Duration
	for i := range o.Report.Instances {
		in := &o.Report.Instances[i]
		if o.Ended[in.EC2InstanceID].DetailType == notify.InstanceUpdateSucceeded {
			total += in.Beyond.D()
			most = max(most, in.Beyond.D())
		}
	}
	o.Report.APICallsByCaller["demo"] = map[string]int{"ssm:CreateDocument": 1000}
	calls := 0
	for _, w := range workers {
		for _, n := range o.Report.APICallsByCaller[w] {
			calls += n
		}
	}
	s := Summarize(o)
	if s.Updated != 7 {
		t.Fatalf("Summarize(recorded).Updated = %d, want 7", s.Updated)
	}
	type figures struct {
		Mean, Max time.Duration
		Calls     float64
	}
	got := figures{s.MeanBeyond, s.MaxBeyond, s.CallsPerUpdated}
	want := figures{total / 7, most, float64(calls) / 7}
	if got != want || want.Max == 0 {
		t.Errorf("Summarize(recorded) figures = %+v, want %+v (non-zero)", got, want)
	}
}

func TestPeakRSSReadsThisProcess(t *testing.T) {
	n, ok := peakRSS(os.Getpid())
	if runtime.GOOS == "linux" && (!ok || n < 1<<20) {
		t.Errorf("peakRSS(self) = %d, %t, want at least 1 MiB on Linux", n, ok)
	}
}
