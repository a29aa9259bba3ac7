package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rollwave/rollwave/cmd/rollwave/internal/forecast"
	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

var planCommand = command{
	name:    "plan",
	summary: "read the fleet read-only and forecast its rollout: makespan, waves, skips, waits, service floors",
	usage:   "[--cluster C ...] [--policy-from-env] [--forecast=false] [--horizon D] [--page FILE] [--since D] [--scenario FILE] [--task-start D] [--task-stop D] [--apply D] [--reboot D] [--agent-reconnect D] [-o text|json|table] [--query Q]",
	help: `
plan reads what a rollout would start from, without changing anything: every container instance
of the clusters (status, instance type, zone, registered CPU and memory, variant), the services
(desired count, minimum healthy and maximum percent, so the floor a drain must keep), the
standalone tasks (tasks no service started) and how long they have run, and each instance's
Bottlerocket version and offered update. It prints them, and with --scenario it writes them as a
fleet simulator (tools/fleetsim) scenario.

Then it forecasts the rollout: it runs the four workers' own code, in this process, over a
simulated copy of the fleet read, in-memory queues and an in-memory event bus, on a virtual clock
(hours of a rollout take seconds; nothing leaves the process, and the fleet is never written).
It prints the makespan and its waves; per instance, when its job starts, when it leaves service,
how long it is out and how its job ends (updated, skipped with the reason, failed); each
service's lowest running count against its floor; where and why drains wait (capacity, window,
standalone tasks, limits); and the jobs that do not end within --horizon of simulated time. It
draws the same timeline page as rollwave report, marked as a forecast, to --page. The workers run
with rollwave's default policies, or with --policy-from-env this environment's ROLLWAVE_*
settings, as the deployment's workers read theirs. --forecast=false only reads.

It only reads: ECS List and Describe calls, and SSM's command history (ListCommands,
ListCommandInvocations, GetCommandInvocation). The versions come from the newest update check
rollwave's scanner ran on each instance (the <prefix>-check document); plan runs no command on
a host, because 'apiclient update check' refreshes the host's update cache, a change. An
instance that no scan checked yet shows version "?" and is written with the oldest version seen
on its variant. docs/operations.md lists the read-only IAM policy plan needs.

Service tasks start placed by the simulator's own scheduler (spread over instances, then zones),
not where they run now; standalone tasks stay on their instance and run until stopped ("never"),
the worst case for the standalone-task policy.

The simulated durations are the simulator's defaults unless a flag sets them: --task-start,
--task-stop, --apply (staging the update), --reboot (boot), --agent-reconnect. Beside them plan
shows what the deployment's history (its log group) measured within --since (default 30 days)
per instance type: the updates and their median time from a job's start to the instance back in
service. Where it holds drains and reboots of the instances read, their medians set the durations
no flag sets: --task-stop the drain (admitted to drained), --reboot the return (the reboot sent to
the job's success) less the simulator's shutdown, agent reconnect and SSM delivery.

--policy-from-env shows each cluster's policies (ROLLWAVE_MAX_OUT_OF_SERVICE, the window, the
standalone-task policy, ROLLWAVE_CLUSTER_POLICIES ...) read from this environment, as the
deployment's workers read theirs; a bad policy is a usage error naming every problem.

Examples:
  rollwave plan --cluster prod
  rollwave plan --cluster prod --policy-from-env --scenario prod.yaml
  rollwave plan -o json --query 'clusters[].services[?running < floor]'
`,
	run: runPlan,
}

// planReport is the document of plan -o json: the fleet as a rollout would find it.
type planReport struct {
	ReadAt   time.Time     `json:"readAt"`
	Clusters []planCluster `json:"clusters"`
	// Timings are the simulated durations, each with where it came from.
	Timings []planTiming `json:"timings"`
	// Measured are the updates of past rollouts in the history, per instance type of the
	// instances read; History says why there are none when that is not obvious.
	Measured []planMeasured `json:"measured"`
	History  string         `json:"history,omitempty"`
	// Steps are the drains and returns the history measured on these instances: what sets the
	// simulated task-stop and reboot unless a flag does.
	Steps planSteps `json:"steps"`
	// Scenario is the file the world was written to, "" without --scenario.
	Scenario string `json:"scenario,omitempty"`
	// Forecast is the simulated rollout of the fleet read, nil with --forecast=false.
	Forecast *planForecast `json:"forecast,omitempty"`
}

// planForecast is the simulated rollout: what it did, with the policies it ran under (Policies:
// "environment" with --policy-from-env, else "defaults") and the page drawn of it.
type planForecast struct {
	rolloutSummary
	Policies string `json:"policies"`
	Page     string `json:"page,omitempty"`
}

type planCluster struct {
	Name string `json:"name"`
	// Policy is the cluster's policies, with --policy-from-env only.
	Policy     *planPolicy    `json:"policy,omitempty"`
	Instances  []planInstance `json:"instances"`
	Services   []planService  `json:"services"`
	Standalone []planTask     `json:"standaloneTasks"`

	tags map[string]string
	arn  string
}

type planPolicy struct {
	MaxOutOfService string `json:"maxOutOfService"`
	Window          string `json:"window"`
	Standalone      string `json:"standaloneTasks"`
	CapacityCheck   bool   `json:"capacityCheck"`
	HealthGate      bool   `json:"healthGate"`
}

type planInstance struct {
	EC2InstanceID        string `json:"ec2InstanceId"`
	ContainerInstanceARN string `json:"containerInstanceArn"`
	Status               string `json:"status"`
	InstanceType         string `json:"instanceType"`
	AZ                   string `json:"availabilityZone"`
	Variant              string `json:"variant"`
	Arch                 string `json:"arch"`
	CPU                  int    `json:"cpu"`
	Memory               int    `json:"memory"`
	// Version is the running Bottlerocket version and Offered the version its update check
	// chose ("" when none is offered), as of CheckedAt; Version is "" when no check is known.
	Version     string    `json:"version,omitempty"`
	UpdateState string    `json:"updateState,omitempty"`
	Offered     string    `json:"offered,omitempty"`
	CheckedAt   time.Time `json:"checkedAt,omitzero"`
	// OptedOut is true when a person set rollwave.optout: no rollout touches it. Job is the job
	// that owns it now, if any.
	OptedOut bool   `json:"optedOut"`
	Job      string `json:"job,omitempty"`
	Tasks    int    `json:"runningTasks"`

	custom map[string]string
}

type planService struct {
	Name              string `json:"name"`
	Daemon            bool   `json:"daemon"`
	Desired           int    `json:"desired"`
	MinHealthyPercent int    `json:"minimumHealthyPercent"`
	MaxPercent        int    `json:"maximumPercent"`
	// Floor is the fewest running tasks ECS keeps while it replaces the tasks of a draining
	// instance: ceil(desired × minimum healthy percent / 100).
	Floor   int `json:"floor"`
	Running int `json:"running"`
	// CPU and Memory are one task's, as its task definition sets them at task level (0 unknown).
	CPU    int `json:"cpu"`
	Memory int `json:"memory"`
}

type planTask struct {
	Family     string    `json:"family"`
	Instance   string    `json:"ec2InstanceId"`
	StartedBy  string    `json:"startedBy,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	RunningFor string    `json:"runningFor,omitempty"`
	CPU        int       `json:"cpu"`
	Memory     int       `json:"memory"`
}

// planMeasured is what the history says of past updates of one instance type: how many jobs
// updated an instance of it, and the median time from a job's start (the patcher accepting it)
// to its success (the instance back in service), admission waits included.
type planMeasured struct {
	InstanceType string `json:"instanceType"`
	Updates      int    `json:"updates"`
	Median       string `json:"median"`
}

// planSteps are the medians of the steps of past updates of the instances read: Drain from a
// drain admitted to the instance drained (Drains of them), Return from the reboot sent to the
// job's success (Returns of them): the host's shutdown, boot, agent reconnect and the check.
type planSteps struct {
	Drain   string `json:"drain,omitempty"`
	Drains  int    `json:"drains"`
	Return  string `json:"return,omitempty"`
	Returns int    `json:"returns"`

	drain, ret time.Duration
}

// measuredSteps measures the drains and returns of records (oldest first) on r's instances.
func measuredSteps(records []history.Record, r planReport) planSteps {
	ours := map[string]bool{}
	for _, c := range r.Clusters {
		for _, in := range c.Instances {
			ours[in.EC2InstanceID] = true
		}
	}
	admitted, rebooted := map[string]time.Time{}, map[string]time.Time{}
	var drains, returns []time.Duration
	for _, rec := range records {
		if !ours[rec.EC2InstanceID] {
			continue
		}
		switch {
		case rec.Decision == notify.DecisionAdmitted:
			admitted[rec.JobID] = rec.At
		case rec.Decision == notify.DecisionDrained && !admitted[rec.JobID].IsZero():
			drains = append(drains, rec.At.Sub(admitted[rec.JobID]))
		case rec.Decision == notify.DecisionRebooted:
			rebooted[rec.JobID] = rec.At
		case rec.Outcome == "updated" && !rebooted[rec.JobID].IsZero():
			returns = append(returns, rec.At.Sub(rebooted[rec.JobID]))
		}
	}
	var s planSteps
	if len(drains) > 0 {
		slices.Sort(drains)
		s.drain, s.Drains = drains[len(drains)/2], len(drains)
		s.Drain = s.drain.Truncate(time.Second).String()
	}
	if len(returns) > 0 {
		slices.Sort(returns)
		s.ret, s.Returns = returns[len(returns)/2], len(returns)
		s.Return = s.ret.Truncate(time.Second).String()
	}
	return s
}

// timings sets, where t leaves them at 0 (no flag), the simulated task-stop to the measured
// drain and the boot to the measured return less the simulator's shutdown, agent reconnect and
// SSM delivery; it returns the flags of the durations it set.
func (s planSteps) timings(t *scenario.Timings) map[string]bool {
	set := map[string]bool{}
	if t.TaskStop == 0 && s.drain > 0 {
		t.TaskStop, set["task-stop"] = scenario.Duration(s.drain), true
	}
	if t.Reboot == 0 && s.ret > 0 {
		var d scenario.Scenario
		d.Timings = *t
		d.Normalize()
		rest := d.Timings.Shutdown.D() + d.Timings.AgentReconnect.D() + d.Timings.SSMDelivery.D()
		t.Reboot, set["reboot"] = scenario.Duration(max(s.ret-rest, time.Second)), true
	}
	return set
}

type planTiming struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"` // "default", "flag" or "history" (planSteps)
}

// planTimingFlags are the simulated durations a flag may set, by flag name, with the scenario
// field each sets.
var planTimingFlags = []struct {
	flag, usage string
	field       func(*scenario.Timings) *scenario.Duration
}{
	{"task-start", "how long a task takes to start", func(t *scenario.Timings) *scenario.Duration { return &t.TaskStart }},
	{"task-stop", "how long a task takes to stop", func(t *scenario.Timings) *scenario.Duration { return &t.TaskStop }},
	{"apply", "how long staging an update takes (apiclient update apply)", func(t *scenario.Timings) *scenario.Duration { return &t.Apply }},
	{"reboot", "how long a host takes to boot", func(t *scenario.Timings) *scenario.Duration { return &t.Reboot }},
	{"agent-reconnect", "how long the ECS agent takes to reconnect after the boot", func(t *scenario.Timings) *scenario.Duration { return &t.AgentReconnect }},
}

func runPlan(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var clusters stringList
	fs.Var(&clusters, "cluster", "a cluster to read (repeatable, or comma-separated; default $ROLLWAVE_CLUSTERS, else every cluster)")
	fromEnv := fs.Bool("policy-from-env", false, "show each cluster's policies as this environment's ROLLWAVE_* variables set them")
	since := fs.Duration("since", 30*24*time.Hour, "measure the past updates of the history within this long")
	scenarioFile := fs.String("scenario", "", "write the fleet as a fleet simulator scenario to `FILE` (- for stdout)")
	doForecast := fs.Bool("forecast", true, "simulate the rollout of the fleet read (--forecast=false only reads it)")
	horizon := fs.Duration("horizon", forecast.DefaultHorizon, "the simulated time the forecast gives the rollout to end")
	page := fs.String("page", "forecast.html", "write the forecast's timeline page to `FILE` (as rollwave report draws a rollout); empty: none")
	durations := make([]time.Duration, len(planTimingFlags))
	for i, f := range planTimingFlags {
		fs.DurationVar(&durations[i], f.flag, 0, f.usage+" (default: the simulator's)")
	}
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	var problems []string
	for i, d := range durations {
		if d < 0 {
			problems = append(problems, fmt.Sprintf("--%s %s: want a duration of 0 or more", planTimingFlags[i].flag, d))
		}
	}
	if *since <= 0 {
		problems = append(problems, fmt.Sprintf("--since %s: want a positive duration", *since))
	}
	if *horizon <= 0 {
		problems = append(problems, fmt.Sprintf("--horizon %s: want a positive duration", *horizon))
	}
	var policies policy.Set
	if *fromEnv {
		var err error
		if policies, err = policy.Load(a.getenv); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return usagef("%s: %s", c.name, strings.Join(problems, "; "))
	}
	if *scenarioFile == "-" && out.format != "text" {
		return usagef("%s: --scenario - writes the world to stdout, which -o %s needs for its document", c.name, out.format)
	}
	if len(clusters) == 0 {
		_ = clusters.Set(a.getenv("ROLLWAVE_CLUSTERS")) // a stringList takes any value
	}
	if err := a.requireClusters(ctx, clusters); err != nil {
		return err
	}
	cl, err := a.aws(ctx)
	if err != nil {
		return err
	}
	if len(clusters) == 0 {
		if clusters, err = clusterNames(ctx, cl.ecsAPI); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	r, err := readFleet(ctx, fleetReaders{ecs: cl.ecs, history: ssmcommand.New(cl.ssm)}, ssmdoc.Name(a.prefix, ssmdoc.Check), clusters, now)
	if err != nil {
		return err
	}
	records, err := history.NewReader(cl.logs, a.historyGroup()).Read(ctx, history.Query{Since: now.Add(-*since)})
	switch {
	case errors.Is(err, history.ErrNoHistory):
		r.History = "no history log group " + a.historyGroup()
	case err != nil:
		return err
	default:
		r.Measured = measured(records, r)
		if len(r.Measured) == 0 {
			r.History = "no update of these instances' types in the history within --since"
		}
		r.Steps = measuredSteps(records, r)
	}
	if *fromEnv {
		for i := range r.Clusters {
			p := policies.For(r.Clusters[i].Name)
			r.Clusters[i].Policy = &planPolicy{MaxOutOfService: p.MaxOutOfService.String(), Window: orDefault(p.Window.String(), "always"),
				Standalone: string(p.Standalone), CapacityCheck: p.CheckCapacity, HealthGate: p.HealthGate}
		}
	}
	var timings scenario.Timings
	for i, f := range planTimingFlags {
		*f.field(&timings) = scenario.Duration(durations[i])
	}
	fromHistory := r.Steps.timings(&timings)
	world := worldOf(r, timings, cl.cfg.Region)
	for i, f := range planTimingFlags {
		src := "default"
		switch {
		case durations[i] > 0:
			src = "flag"
		case fromHistory[f.flag]:
			src = "history"
		}
		r.Timings = append(r.Timings, planTiming{Name: f.flag, Value: f.field(&world.Timings).D().String(), Source: src})
	}
	if *scenarioFile != "" {
		if err := writeWorld(a.stdout, *scenarioFile, world); err != nil {
			return err
		}
		if *scenarioFile == "-" {
			return nil
		}
		r.Scenario = *scenarioFile
	}
	if *doForecast {
		if err := a.forecast(ctx, &r, world, *fromEnv, *horizon, *page); err != nil {
			return err
		}
	}
	return a.emit(out, r, func(w io.Writer) { printPlan(w, r) })
}

// fleetReaders are what plan reads the fleet through: ECS (*cluster.Client) and SSM's command
// history (*ssmcommand.Client). Every method only reads.
type fleetReaders struct {
	ecs interface {
		Clusters(ctx context.Context, names []string) ([]cluster.Cluster, error)
		ListInstances(ctx context.Context, cluster, status, filter string) ([]cluster.Instance, error)
		Services(ctx context.Context, cluster string, names []string) ([]cluster.Service, error)
		ClusterTasks(ctx context.Context, cluster string) ([]cluster.Task, error)
	}
	history interface {
		Latest(ctx context.Context, doc string, instanceIDs []string) (map[string]ssmcommand.Past, error)
	}
}

// readFleet reads the clusters as a rollout would find them; checkDoc is the update-check
// document whose newest output on each instance gives its version.
func readFleet(ctx context.Context, rd fleetReaders, checkDoc string, names []string, now time.Time) (planReport, error) {
	r := planReport{ReadAt: now, Measured: []planMeasured{}}
	described, err := rd.ecs.Clusters(ctx, names)
	if err != nil {
		return r, fmt.Errorf("describe clusters: %w", err)
	}
	for _, d := range described {
		pc := planCluster{Name: d.Name, arn: d.ARN, tags: d.Tags, Instances: []planInstance{}, Services: []planService{}, Standalone: []planTask{}}
		instances, err := rd.ecs.ListInstances(ctx, d.Name, "", "")
		if err != nil {
			return r, err
		}
		services, err := rd.ecs.Services(ctx, d.Name, nil)
		if err != nil {
			return r, fmt.Errorf("read services of %s: %w", d.Name, err)
		}
		tasks, err := rd.ecs.ClusterTasks(ctx, d.Name)
		if err != nil {
			return r, fmt.Errorf("read tasks of %s: %w", d.Name, err)
		}
		running := map[string][]cluster.Task{} // container instance ARN -> its running tasks
		for _, t := range tasks {
			if t.LastStatus == "RUNNING" {
				running[t.InstanceARN] = append(running[t.InstanceARN], t)
			}
		}
		taskSize := map[string][2]int{} // service name -> one task's CPU and memory
		var ids []string
		for _, in := range instances {
			pi := planInstance{
				EC2InstanceID: in.EC2InstanceID, ContainerInstanceARN: in.ARN, Status: in.Status,
				InstanceType: in.Attributes["ecs.instance-type"], AZ: in.AZ, Variant: in.Attributes["bottlerocket.variant"],
				Arch: archOf(in.Attributes["ecs.cpu-architecture"]), CPU: in.RegisteredCPU, Memory: in.RegisteredMemory,
				Job: in.Attributes[update.AttrJob], custom: customAttributes(in.Attributes), Tasks: len(running[in.ARN]),
			}
			_, pi.OptedOut = in.Attributes[update.AttrOptOut]
			for _, t := range running[in.ARN] {
				if name, ok := strings.CutPrefix(t.Group, "service:"); ok && strings.HasPrefix(t.StartedBy, "ecs-svc/") {
					taskSize[name] = [2]int{t.CPU, t.Memory}
					continue
				}
				pt := planTask{Family: strings.TrimPrefix(t.Group, "family:"), Instance: in.EC2InstanceID, StartedBy: t.StartedBy,
					StartedAt: t.StartedAt.UTC(), CPU: t.CPU, Memory: t.Memory}
				if !t.StartedAt.IsZero() {
					pt.RunningFor = now.Sub(t.StartedAt).Truncate(time.Second).String()
				}
				pc.Standalone = append(pc.Standalone, pt)
			}
			pc.Instances = append(pc.Instances, pi)
			ids = append(ids, in.EC2InstanceID)
		}
		checks, err := rd.history.Latest(ctx, checkDoc, ids)
		if err != nil {
			return r, fmt.Errorf("read the update checks of %s: %w", d.Name, err)
		}
		for i := range pc.Instances {
			in := &pc.Instances[i]
			past, ok := checks[in.EC2InstanceID]
			if !ok {
				continue
			}
			st, err := bottlerocket.ParseUpdateCheck([]byte(past.Stdout))
			if err != nil {
				continue // an output rollwave cannot read says nothing: the version stays unknown
			}
			in.Version, in.UpdateState, in.CheckedAt = st.ActiveVersion(), string(st.UpdateState), past.RequestedAt.UTC()
			if st.HasUpdate() {
				in.Offered = st.ChosenVersion()
			}
		}
		for _, s := range services {
			if s.Status != "ACTIVE" {
				continue
			}
			size := taskSize[s.Name]
			pc.Services = append(pc.Services, planService{Name: s.Name, Daemon: s.Daemon, Desired: s.Desired,
				MinHealthyPercent: s.MinHealthyPercent, MaxPercent: s.MaxPercent, Running: s.Running,
				Floor: int(math.Ceil(float64(s.Desired*s.MinHealthyPercent) / 100)), CPU: size[0], Memory: size[1]})
		}
		sort.Slice(pc.Instances, func(i, j int) bool { return pc.Instances[i].EC2InstanceID < pc.Instances[j].EC2InstanceID })
		sort.Slice(pc.Services, func(i, j int) bool { return pc.Services[i].Name < pc.Services[j].Name })
		r.Clusters = append(r.Clusters, pc)
	}
	return r, nil
}

// measured is, per instance type of r's instances, the updates of records (oldest first) whose
// instance is one of them: how many, and the median time from start to success. An instance no
// longer in the fleet has no known type and is left out.
func measured(records []history.Record, r planReport) []planMeasured {
	typeOf := map[string]string{}
	for _, c := range r.Clusters {
		for _, in := range c.Instances {
			typeOf[in.EC2InstanceID] = in.InstanceType
		}
	}
	started := map[string]time.Time{}
	took := map[string][]time.Duration{}
	for _, rec := range records {
		switch {
		case rec.Event == notify.InstanceUpdateStarted:
			started[rec.JobID] = rec.At
		case rec.Outcome == "updated" && !started[rec.JobID].IsZero():
			if t, ok := typeOf[rec.EC2InstanceID]; ok && t != "" {
				took[t] = append(took[t], rec.At.Sub(started[rec.JobID]))
			}
		}
	}
	out := []planMeasured{}
	for t, ds := range took {
		slices.Sort(ds)
		out = append(out, planMeasured{InstanceType: t, Updates: len(ds), Median: ds[len(ds)/2].Truncate(time.Second).String()})
	}
	slices.SortFunc(out, func(a, b planMeasured) int { return strings.Compare(a.InstanceType, b.InstanceType) })
	return out
}

// archOf maps ECS's ecs.cpu-architecture (x86_64, arm64) to Bottlerocket's arch names.
func archOf(ecsArch string) string {
	if ecsArch == "arm64" {
		return "aarch64"
	}
	return "x86_64"
}

// customAttributes are the instance's attributes that neither ECS nor the agent set: the ones a
// simulated instance must carry too (rollwave's marks, an opt-out, a person's own).
func customAttributes(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if strings.HasPrefix(k, "ecs.") || strings.HasPrefix(k, "com.amazonaws.") || k == "bottlerocket.variant" {
			continue
		}
		out[k] = v
	}
	return out
}

// worldOf is the fleet r as a fleet simulator scenario: one instance group per instance (its ID,
// version, type, zone, resources and custom attributes), the replica and daemon services with
// their deployment configuration, the standalone tasks on their instance, running until stopped,
// and a repository that offers every version seen. timings' zero fields take the simulator's
// defaults.
func worldOf(r planReport, timings scenario.Timings, region string) *scenario.Scenario {
	s := &scenario.Scenario{Region: region, Timings: timings, Repository: map[string][]string{}}
	oldest := map[string]string{} // variant -> oldest version running on it
	versions := map[string]map[string]bool{}
	see := func(variant, v string) {
		if v == "" {
			return
		}
		if versions[variant] == nil {
			versions[variant] = map[string]bool{}
		}
		versions[variant][v] = true
	}
	for _, c := range r.Clusters {
		for _, in := range c.Instances {
			see(in.Variant, in.Version)
			see(in.Variant, in.Offered)
			if in.Version != "" && (oldest[in.Variant] == "" || versionLess(in.Version, oldest[in.Variant])) {
				oldest[in.Variant] = in.Version
			}
		}
	}
	for variant, vs := range versions {
		list := slices.Collect(func(yield func(string) bool) {
			for v := range vs {
				if !yield(v) {
					return
				}
			}
		})
		slices.SortFunc(list, func(a, b string) int {
			if versionLess(a, b) {
				return -1
			}
			if versionLess(b, a) {
				return 1
			}
			return strings.Compare(a, b)
		})
		s.Repository[variant] = list
	}
	for _, c := range r.Clusters {
		if account := accountOf(c.arn); account != "" {
			s.Account = account
		}
		sc := scenario.Cluster{Name: c.Name, Tags: c.tags}
		for _, in := range c.Instances {
			version := in.Version
			if version == "" {
				version = oldest[in.Variant]
			}
			g := scenario.InstanceGroup{IDs: []string{in.EC2InstanceID}, Version: version, Variant: in.Variant, Arch: in.Arch,
				InstanceType: in.InstanceType, CPU: in.CPU, Memory: in.Memory}
			if in.AZ != "" {
				g.AZs = []string{in.AZ}
			}
			if len(in.custom) > 0 {
				g.Attributes = in.custom
			}
			sc.Instances = append(sc.Instances, g)
		}
		for _, sv := range c.Services {
			if sv.Daemon {
				sc.DaemonServices = append(sc.DaemonServices, scenario.DaemonService{Name: sv.Name, CPU: sv.CPU, Memory: sv.Memory})
				continue
			}
			minHealthy, maxPercent := sv.MinHealthyPercent, sv.MaxPercent
			sc.Services = append(sc.Services, scenario.Service{Name: sv.Name, Desired: sv.Desired,
				MinimumHealthyPercent: &minHealthy, MaximumPercent: &maxPercent, CPU: sv.CPU, Memory: sv.Memory})
		}
		for _, t := range c.Standalone {
			sc.Tasks = append(sc.Tasks, scenario.Task{Family: t.Family, Instance: t.Instance, CPU: t.CPU, Memory: t.Memory,
				Duration: "never", StartedBy: t.StartedBy})
		}
		s.Clusters = append(s.Clusters, sc)
	}
	s.Normalize()
	return s
}

// versionLess orders Bottlerocket versions; one that does not parse sorts first.
func versionLess(a, b string) bool {
	n, err := bottlerocket.Compare(a, b)
	return err == nil && n < 0
}

// accountOf is the account of an ECS ARN (arn:aws:ecs:region:account:...), "" when s is not one.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// writeWorld writes the scenario to path, or to stdout when path is "-".
func writeWorld(stdout io.Writer, path string, s *scenario.Scenario) error {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode the scenario: %w", err)
	}
	if _, err := scenario.Parse(b); err != nil {
		return fmt.Errorf("check the scenario: %w", err)
	}
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write the scenario: %w", err)
	}
	return nil
}

func printPlan(w io.Writer, r planReport) {
	fmt.Fprintf(w, "fleet read at %s (read-only)\n", r.ReadAt.Format(time.RFC3339))
	for _, c := range r.Clusters {
		offered, unknown := 0, 0
		for _, in := range c.Instances {
			if in.Offered != "" {
				offered++
			}
			if in.Version == "" {
				unknown++
			}
		}
		fmt.Fprintf(w, "\ncluster %s: %d instances, %d with an update offered", c.Name, len(c.Instances), offered)
		if unknown > 0 {
			fmt.Fprintf(w, ", %d never checked (version ?)", unknown)
		}
		fmt.Fprintln(w)
		if p := c.Policy; p != nil {
			fmt.Fprintf(w, "  policy: at most %s out of service, window %s, standalone tasks %s, capacity check %v, health gate %v\n",
				p.MaxOutOfService, p.Window, p.Standalone, p.CapacityCheck, p.HealthGate)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  INSTANCE\tTYPE\tZONE\tSTATUS\tVERSION\tOFFERED\tTASKS\tNOTE")
		for _, in := range c.Instances {
			var note []string
			if in.OptedOut {
				note = append(note, "opted out")
			}
			if in.Job != "" {
				note = append(note, "job "+in.Job)
			}
			if !in.CheckedAt.IsZero() {
				note = append(note, "checked "+in.CheckedAt.Format(time.RFC3339))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", in.EC2InstanceID, orDefault(in.InstanceType, "-"), orDefault(in.AZ, "-"),
				in.Status, orDefault(in.Version, "?"), orDefault(in.Offered, "-"), in.Tasks, strings.Join(note, ", "))
		}
		tw.Flush()
		if len(c.Services) > 0 {
			fmt.Fprintln(tw, "  SERVICE\tDESIRED\tMIN%\tMAX%\tFLOOR\tRUNNING")
			for _, s := range c.Services {
				name := s.Name
				if s.Daemon {
					name += " (daemon)"
				}
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\n", name, s.Desired, s.MinHealthyPercent, s.MaxPercent, s.Floor, s.Running)
			}
			tw.Flush()
		}
		if len(c.Standalone) > 0 {
			fmt.Fprintln(tw, "  STANDALONE TASK\tINSTANCE\tSTARTED BY\tRUNNING FOR")
			for _, t := range c.Standalone {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Family, t.Instance, orDefault(t.StartedBy, "-"), orDefault(t.RunningFor, "-"))
			}
			tw.Flush()
		}
	}
	var ts []string
	for _, t := range r.Timings {
		ts = append(ts, fmt.Sprintf("%s %s (%s)", t.Name, t.Value, t.Source))
	}
	fmt.Fprintf(w, "\nsimulated durations: %s\n", strings.Join(ts, ", "))
	var ms []string
	for _, m := range r.Measured {
		ms = append(ms, fmt.Sprintf("%s %s over %d", m.InstanceType, m.Median, m.Updates))
	}
	if st := r.Steps; st.Drains > 0 || st.Returns > 0 {
		fmt.Fprintf(w, "measured steps of past updates of these instances: drain median %s over %d, return median %s over %d\n",
			orDefault(st.Drain, "-"), st.Drains, orDefault(st.Return, "-"), st.Returns)
	}
	if len(ms) > 0 {
		fmt.Fprintf(w, "measured in past rollouts, median from a job's start to the instance back in service (waits included): %s\n", strings.Join(ms, ", "))
	} else if r.History != "" {
		fmt.Fprintf(w, "measured in past rollouts: nothing (%s)\n", r.History)
	}
	if r.Scenario != "" {
		fmt.Fprintf(w, "wrote the fleet as a simulator world to %s (fleetsim -scenario %s)\n", r.Scenario, r.Scenario)
	}
	if f := r.Forecast; f != nil {
		fmt.Fprintf(w, "\n")
		printSummary(w, f.rolloutSummary)
		from := "rollwave's default policies (--policy-from-env takes this environment's)"
		if f.Policies == "environment" {
			from = "the policies and settings of this environment"
		}
		fmt.Fprintf(w, "  (simulated with %s and the durations above", from)
		if f.Page != "" {
			fmt.Fprintf(w, "; the timeline is drawn in %s", f.Page)
		}
		fmt.Fprintln(w, ")")
	}
}

// forecast simulates the rollout of world (the fleet read into r) with the workers' settings of
// this environment (fromEnv) or their defaults, puts what it did in r.Forecast and draws its
// timeline to page ("" draws none).
func (a *app) forecast(ctx context.Context, r *planReport, world *scenario.Scenario, fromEnv bool, horizon time.Duration, page string) error {
	env := map[string]string{}
	policies := "defaults"
	if fromEnv {
		policies = "environment"
		for _, name := range envconfig.Settings {
			if v := a.getenv(name); v != "" {
				env[name] = v
			}
		}
	}
	res, err := forecast.Run(ctx, forecast.Options{Scenario: world, Env: env, Horizon: horizon})
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	f := &planForecast{rolloutSummary: summarize(res.Records, res.Fleet, res.Unfinished), Policies: policies}
	if page != "" {
		ro := res.Fleet.Rollout()
		limits, err := policy.Load(func(k string) string { return env[k] })
		if err != nil {
			return fmt.Errorf("forecast: %w", err)
		}
		size := map[string]int{}
		for _, cr := range res.Fleet.Clusters {
			size[cr.Cluster] = cr.Instances
		}
		for i, cl := range ro.Clusters {
			ro.Clusters[i].Limit = limits.For(cl.Name).MaxOutOfService.Max(size[cl.Name])
		}
		withOutcomes(&ro, rolloutOfHistory(res.Records, res.End))
		ro.Forecast = true
		var names []string
		for _, c := range r.Clusters {
			names = append(names, c.Name)
		}
		ro.Title = "forecast of the rollout of " + strings.Join(names, ", ")
		if err := writePage(page, ro, io.Discard); err != nil {
			return err
		}
		f.Page = page
	}
	r.Forecast = f
	return nil
}
