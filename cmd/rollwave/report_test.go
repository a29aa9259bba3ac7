package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/report"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// fleetsimReport serves rep as a fleet simulator's GET /fleetsim/report.
func fleetsimReport(t *testing.T, rep admin.Report) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fleetsim/report" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestReportDrawsTheFleetsimReport(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rep := admin.Report{
		Now:      at(600),
		Clusters: []admin.ClusterReport{{Cluster: "prod", Instances: 10, Samples: []admin.ClusterSample{{T: at(0)}, {T: at(100), OutOfService: 1}, {T: at(200)}}}},
		Instances: []admin.InstanceReport{
			{Cluster: "prod", EC2InstanceID: "i-0aaaaaaaaaaaaaaa1", InitialVersion: "1.19.5", Version: "1.20.3", Timeline: []admin.InstanceEvent{
				{T: at(100), Event: admin.EventDraining}, {T: at(120), Event: admin.EventDrained}, {T: at(121), Event: admin.EventHostDown},
				{T: at(180), Event: admin.EventAgentConnected}, {T: at(200), Event: admin.EventActive}}},
			{Cluster: "prod", EC2InstanceID: "i-0aaaaaaaaaaaaaaa2", InitialVersion: "1.19.5", Version: "1.19.5"},
		},
	}
	url := fleetsimReport(t, rep)
	out := filepath.Join(t.TempDir(), "rollout.html")
	r := runCLI(t, map[string]string{}, "", "report", "--fleetsim", url, "--max-out-of-service", "20%", "--out", out)
	if r.code != exitOK {
		t.Fatalf("rollwave report exited %d, want 0: %s", r.code, r.stderr)
	}
	if want := "wrote " + out + ": 2 instances, 1 updated\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<title>rollout of prod</title>",
		`data-instance="i-0aaaaaaaaaaaaaaa1"`, `data-instance="i-0aaaaaaaaaaaaaaa2"`,
		`class="bar drain"`, `class="bar reboot"`, `class="bar verify"`,
		"updated: 1.19.5 → 1.20.3",
		"most at once: 1, limit 2", // 20 % of 10
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page does not hold %s", want)
		}
	}

	stdout := runCLI(t, map[string]string{}, "", "report", "--fleetsim", url, "--out", "-", "--title", "prod, Tuesday")
	if stdout.code != exitOK || !strings.HasPrefix(stdout.stdout, "<!DOCTYPE html>") || !strings.Contains(stdout.stdout, "<h1>prod, Tuesday</h1>") {
		t.Errorf("rollwave report --out - = %d, %.80q; want 0 and the page, titled, on stdout", stdout.code, stdout.stdout)
	}
}

func TestReportErrors(t *testing.T) {
	url := fleetsimReport(t, admin.Report{})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"report"}, exitUsage, "give a source: --history"},
		{"bad limit", []string{"report", "--fleetsim", url, "--max-out-of-service", "lots"}, exitUsage, "--max-out-of-service"},
		{"no simulator there", []string{"report", "--fleetsim", url + "/nothing", "--out", "-"}, exitFailed, "read the fleet simulator's report"},
		{"unwritable file", []string{"report", "--fleetsim", url, "--out", filepath.Join(t.TempDir(), "no", "such", "dir.html")}, exitFailed, "create "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, map[string]string{}, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("rollwave %v = %d, %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

func TestRolloutOfHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	records := []history.Record{
		{At: at(0), Event: notify.InstanceUpdateStarted, JobID: "j-1", Cluster: "prod", Instance: "i-1", EC2InstanceID: "i-1"},
		{At: at(1), Event: notify.InstanceUpdateStarted, JobID: "j-2", Cluster: "prod", Instance: "i-2", EC2InstanceID: "i-2"},
		{At: at(2), Event: notify.ClusterRolloutPaused, Cluster: "prod"},
		{At: at(60), Event: notify.InstanceUpdateWaiting, JobID: "j-2", Cluster: "prod", EC2InstanceID: "i-2", WaitingSince: at(10)},
		{At: at(90), Event: notify.InstanceUpdateSucceeded, JobID: "j-1", Cluster: "prod", EC2InstanceID: "i-1", Outcome: "updated", FromVersion: "1.19.5", ToVersion: "1.20.3"},
		{At: at(95), Event: notify.InstanceUpdateStarted, JobID: "j-3", Cluster: "staging", EC2InstanceID: "i-3"},
		{At: at(96), Event: notify.InstanceUpdateSkipped, JobID: "j-3", Cluster: "staging", EC2InstanceID: "i-3", Outcome: "skipped", Reason: "standalone-task"},
	}
	got := rolloutOfHistory(records, at(120))
	want := report.Rollout{
		Instances: []report.Instance{
			{Cluster: "prod", ID: "i-1", Outcome: report.Updated, Detail: "1.19.5 → 1.20.3", Steps: []report.Step{{Kind: report.Job, Start: at(0), End: at(90)}}},
			{Cluster: "prod", ID: "i-2", Detail: "in flight", Steps: []report.Step{
				{Kind: report.Job, Start: at(1), End: at(10)}, {Kind: report.Waiting, Start: at(10), End: at(60)}, {Kind: report.Job, Start: at(60), End: at(120)}}},
			{Cluster: "staging", ID: "i-3", Outcome: report.Skipped, Detail: "a task that no service started runs there (standalone-task)",
				Steps: []report.Step{{Kind: report.Job, Start: at(95), End: at(96)}}},
		},
		Clusters: []report.Cluster{{Name: "prod", Unrecorded: unrecorded}, {Name: "staging", Unrecorded: unrecorded}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rolloutOfHistory mismatch (-want +got):\n%s", diff)
	}
}

// TestReportFromTheHistory updates one instance through the pipeline and draws the page from
// the deployment's history: the instance's row has its job bar and says it was updated.
func TestReportFromTheHistory(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	const inst = "i-0aaaaaaaaaaaaaaa1"
	if _, _, code := p.rollwave("jobs", "send", "--cluster", "ops-a", "--instance", inst, "--target-version", "1.20.3"); code != 0 {
		t.Fatalf("jobs send: exit %d", code)
	}
	out := filepath.Join(t.TempDir(), "rollout.html")
	harness.Eventually(t, 3*time.Minute, func() (bool, string) {
		stdout, stderr, code := p.rollwave("report", "--history", "--cluster", "ops-a", "--out", out)
		return code == 0 && strings.Contains(stdout, "1 updated"), stdout + stderr
	})
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-instance="` + inst + `"`, `class="bar job"`, "updated: 1.19.5 → 1.20.3", "Not drawn: " + unrecorded} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page of the history does not hold %s", want)
		}
	}
}

func TestWithOutcomes(t *testing.T) {
	steps := []report.Step{{Kind: report.Drain, Start: time.Unix(0, 0), End: time.Unix(10, 0)}}
	r := report.Rollout{Instances: []report.Instance{
		{Cluster: "prod", ID: "i-1", Outcome: report.Updated, Detail: "1.19.5 → 1.20.3", Steps: steps},
		{Cluster: "prod", ID: "i-2"},
		{Cluster: "prod", ID: "i-3"},
	}}
	jobs := report.Rollout{Instances: []report.Instance{
		{Cluster: "prod", ID: "i-2", Outcome: report.Skipped, Detail: "a task that no service started runs there (standalone-task)"},
		{Cluster: "prod", ID: "i-3", Detail: "in flight"},
		{Cluster: "staging", ID: "i-1", Outcome: report.Failed, Detail: "another cluster's instance"},
	}}
	withOutcomes(&r, jobs)
	want := []report.Instance{
		{Cluster: "prod", ID: "i-1", Outcome: report.Updated, Detail: "1.19.5 → 1.20.3", Steps: steps},
		{Cluster: "prod", ID: "i-2", Outcome: report.Skipped, Detail: "a task that no service started runs there (standalone-task)"},
		{Cluster: "prod", ID: "i-3"},
	}
	if diff := cmp.Diff(want, r.Instances); diff != "" {
		t.Errorf("withOutcomes mismatch (-want +got):\n%s", diff)
	}
}
