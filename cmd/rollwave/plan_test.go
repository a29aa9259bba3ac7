package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
	"github.com/rollwave/rollwave/tools/harness"
)

// planKey is the access key plan signs with, so that fleetsim's report counts its calls apart.
const planKey = "rollwave-plan"

// TestPlanReadsTheFleetReadOnly runs plan against fleetsim after the scanner's update check ran
// on two of three hosts: it reports each host's version and offered update as that check saw
// them, the services' floors and the standalone task, writes a world the simulator loads into
// the same fleet, and makes no call but Describe, List and Get.
func TestPlanReadsTheFleetReadOnly(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithScenario("testdata/plan.yaml"), harness.WithTimeScale(20))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	prefix := s.Name("rw")
	api := ssm.NewFromConfig(cfg)
	if err := ssmdoc.Ensure(ctx, api, prefix); err != nil {
		t.Fatalf("register documents: %v", err)
	}
	const i1, i2, i3 = "i-0ccccccccccccccc1", "i-0ccccccccccccccc2", "i-0ccccccccccccccc3"
	// The scan's update check, as the scanner runs it (signed with the harness's key).
	checks, err := ssmcommand.New(api).Run(ctx, ssmdoc.Name(prefix, ssmdoc.Check), []string{i1, i2}, ssmcommand.Options{PollInterval: 50 * time.Millisecond})
	if err != nil || !checks[i1].OK() || !checks[i2].OK() {
		t.Fatalf("update check = %v, %v", checks, err)
	}

	env := map[string]string{"ROLLWAVE_PREFIX": prefix, "ROLLWAVE_MAX_OUT_OF_SERVICE": "2", "ROLLWAVE_STANDALONE_TASKS": "wait"}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["AWS_ACCESS_KEY_ID"] = planKey
	page := filepath.Join(t.TempDir(), "forecast.html")
	text := runCLI(t, env, "", "plan", "--cluster", "plan-a", "--page", page)
	for _, want := range []string{
		`cluster plan-a: 3 instances, 2 with an update offered, 1 never checked \(version \?\)`,
		`i-0ccccccccccccccc3\s+c5.xlarge\s+us-east-1b\s+ACTIVE\s+\?\s+-\s+3\s+opted out`,
		`web\s+3\s+50\s+200\s+2\s+3\n`,
		`batch\s+i-0ccccccccccccccc2\s+cron`,
		`simulated durations: task-start 5s \(default\)`,
		`measured in past rollouts: nothing \(no history log group /aws/events/`,
	} {
		if text.code != 0 || !regexp.MustCompile(want).MatchString(text.stdout) {
			t.Errorf("plan (text) = %d, want a line with %q", text.code, want)
		}
	}
	world := filepath.Join(t.TempDir(), "world.yaml")
	r := runCLI(t, env, "", "plan", "--cluster", "plan-a", "--policy-from-env", "--scenario", world, "--reboot", "90s", "-o", "json", "--page", page)
	if r.code != 0 {
		t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
	}
	var got planReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}

	type instanceView struct {
		ID, Type, AZ, Version, Offered string
		OptedOut, Checked              bool
	}
	type taskView struct {
		Family, Instance, StartedBy string
		Started                     bool
	}
	type view struct {
		Policy     planPolicy
		Instances  []instanceView
		Services   []planService
		Standalone []taskView
	}
	if len(got.Clusters) != 1 || got.Clusters[0].Policy == nil {
		t.Fatalf("plan clusters = %+v, want plan-a with its policy", got.Clusters)
	}
	c := got.Clusters[0]
	v := view{Policy: *c.Policy}
	for _, in := range c.Instances {
		v.Instances = append(v.Instances, instanceView{in.EC2InstanceID, in.InstanceType, in.AZ, in.Version, in.Offered, in.OptedOut, !in.CheckedAt.IsZero()})
	}
	v.Services = c.Services
	for _, tk := range c.Standalone {
		v.Standalone = append(v.Standalone, taskView{tk.Family, tk.Instance, tk.StartedBy, !tk.StartedAt.IsZero()})
	}
	want := view{
		Policy: planPolicy{MaxOutOfService: "2", Window: "always", Standalone: "wait", CapacityCheck: true, HealthGate: true},
		Instances: []instanceView{
			{i1, "m5.large", "us-east-1a", "1.19.5", "1.20.3", false, true},
			{i2, "m5.large", "us-east-1a", "1.19.5", "1.20.3", false, true},
			{i3, "c5.xlarge", "us-east-1b", "", "", true, false}, // never checked: version unknown
		},
		Services: []planService{
			{Name: "api", Desired: 2, MinHealthyPercent: 100, MaxPercent: 150, Floor: 2, Running: 2, CPU: 512, Memory: 1024},
			{Name: "logs", Daemon: true, Desired: 3, MinHealthyPercent: 0, MaxPercent: 100, Floor: 0, Running: 3, CPU: 64, Memory: 128},
			{Name: "web", Desired: 3, MinHealthyPercent: 50, MaxPercent: 200, Floor: 2, Running: 3, CPU: 256, Memory: 512},
		},
		Standalone: []taskView{{"batch", i2, "cron", true}},
	}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("plan -o json (-want +got):\n%s", diff)
	}

	fleet := admin.New(s.FleetsimURL)
	rep, err := fleet.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readOnly := regexp.MustCompile(`^(ecs|ssm|ec2):(Describe|List|Get)[A-Za-z]*$`)
	calls := rep.APICallsByCaller[planKey]
	if len(calls) == 0 {
		t.Fatalf("fleetsim saw no call signed by %s: %v", planKey, rep.APICallsByCaller)
	}
	for op := range calls {
		if !readOnly.MatchString(op) {
			t.Errorf("plan called %s (%d times): it must only read", op, calls[op])
		}
	}

	// The world plan wrote is the same fleet: the simulator loads it with the same hosts,
	// versions (the unchecked host on the oldest seen), marks and services.
	b, err := os.ReadFile(world)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fleet.LoadScenario(ctx, b)
	if err != nil {
		t.Fatalf("load the world plan wrote: %v\n%s", err, b)
	}
	type hostView struct {
		ID, Version, OptOut string
		Standalone          []string
	}
	var hosts []hostView
	var services []string
	for _, sc := range st.Clusters {
		for _, in := range sc.Instances {
			h := hostView{ID: in.EC2InstanceID, Version: in.Version, OptOut: in.Attributes["rollwave.optout"]}
			for _, tk := range in.Tasks {
				if tk.StartedBy == "cron" {
					h.Standalone = append(h.Standalone, tk.Group)
				}
			}
			hosts = append(hosts, h)
		}
		for _, sv := range sc.Services {
			services = append(services, sv.Name)
		}
	}
	slices.SortFunc(hosts, func(a, b hostView) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(services)
	wantHosts := []hostView{{i1, "1.19.5", "", nil}, {i2, "1.19.5", "", []string{"family:batch"}}, {i3, "1.19.5", "held for the audit", nil}}
	if diff := cmp.Diff(wantHosts, hosts); diff != "" {
		t.Errorf("the world's hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"api", "logs", "web"}, services); diff != "" {
		t.Errorf("the world's services (-want +got):\n%s", diff)
	}
	if got := string(b); !regexp.MustCompile(`(?m)^\s+reboot: 1m30s$`).MatchString(got) {
		t.Errorf("the world's timings do not hold --reboot 90s:\n%s", got)
	}
}

// TestMeasured takes, per instance type of the fleet read, the median time from a job's start to
// its success; a skipped job, one without a start in the records and an instance no longer in
// the fleet are left out.
func TestMeasured(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	start := func(job, id string, s int) history.Record {
		return history.Record{At: at(s), Event: notify.InstanceUpdateStarted, JobID: job, EC2InstanceID: id}
	}
	end := func(job, id, outcome string, s int) history.Record {
		return history.Record{At: at(s), Event: notify.InstanceUpdateSucceeded, JobID: job, EC2InstanceID: id, Outcome: outcome}
	}
	records := []history.Record{
		start("j1", "i-1", 0), end("j1", "i-1", "updated", 200),
		start("j2", "i-2", 10), end("j2", "i-2", "updated", 310),
		start("j3", "i-3", 20), end("j3", "i-3", "updated", 420),
		start("j4", "i-4", 0), end("j4", "i-4", "updated", 600),
		start("j5", "i-4", 700), end("j5", "i-4", "skipped", 701),
		end("j6", "i-1", "updated", 900), // its start is older than the records
		start("j7", "i-gone", 0), end("j7", "i-gone", "updated", 50),
	}
	fleet := planReport{Clusters: []planCluster{{Instances: []planInstance{
		{EC2InstanceID: "i-1", InstanceType: "m5.large"}, {EC2InstanceID: "i-2", InstanceType: "m5.large"},
		{EC2InstanceID: "i-3", InstanceType: "m5.large"}, {EC2InstanceID: "i-4", InstanceType: "c5.xlarge"},
	}}}}
	want := []planMeasured{{InstanceType: "c5.xlarge", Updates: 1, Median: "10m0s"}, {InstanceType: "m5.large", Updates: 3, Median: "5m0s"}}
	if diff := cmp.Diff(want, measured(records, fleet)); diff != "" {
		t.Errorf("measured (-want +got):\n%s", diff)
	}
}

// TestMeasuredSteps takes the median drain (admitted to drained) and return (reboot sent to
// success) of the instances read, and sets from them the durations no flag set.
func TestMeasuredSteps(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	step := func(job, id, decision string, s int) history.Record {
		return history.Record{At: at(s), Event: notify.InstanceUpdateProgressed, JobID: job, EC2InstanceID: id, Decision: decision}
	}
	end := func(job, id, outcome string, s int) history.Record {
		return history.Record{At: at(s), Event: notify.InstanceUpdateSucceeded, JobID: job, EC2InstanceID: id, Outcome: outcome}
	}
	records := []history.Record{
		step("j1", "i-1", notify.DecisionAdmitted, 0), step("j1", "i-1", notify.DecisionDrained, 30),
		step("j1", "i-1", notify.DecisionRebooted, 40), end("j1", "i-1", "updated", 140),
		step("j2", "i-2", notify.DecisionAdmitted, 0), step("j2", "i-2", notify.DecisionDrained, 60),
		step("j2", "i-2", notify.DecisionRebooted, 70), end("j2", "i-2", "updated", 150),
		step("j3", "i-3", notify.DecisionAdmitted, 0), step("j3", "i-3", notify.DecisionDrained, 90),
		step("j3", "i-3", notify.DecisionRebooted, 95), end("j3", "i-3", "failed", 500), // no return
		step("j4", "i-gone", notify.DecisionAdmitted, 0), step("j4", "i-gone", notify.DecisionDrained, 900),
	}
	fleet := planReport{Clusters: []planCluster{{Instances: []planInstance{{EC2InstanceID: "i-1"}, {EC2InstanceID: "i-2"}, {EC2InstanceID: "i-3"}}}}}
	got := measuredSteps(records, fleet)
	if got.Drain != "1m0s" || got.Drains != 3 || got.Return != "1m40s" || got.Returns != 2 {
		t.Errorf("measuredSteps = %+v, want drain 1m0s over 3, return 1m40s over 2", got)
	}
	// The return less shutdown 5s, agent reconnect 15s and SSM delivery 1s is the boot; a flag wins.
	timings := scenario.Timings{TaskStop: scenario.Duration(20 * time.Second)}
	set := got.timings(&timings)
	if timings.TaskStop.D() != 20*time.Second || timings.Reboot.D() != 79*time.Second || set["task-stop"] || !set["reboot"] {
		t.Errorf("timings = task-stop %s reboot %s, set %v; want the flag's 20s and 1m19s from the history", timings.TaskStop.D(), timings.Reboot.D(), set)
	}
}
