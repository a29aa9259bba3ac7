package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
	"github.com/rollwave/rollwave/tools/harness"
)

// planKey is the access key rollwave plan signs with, so fleetsim counts its calls apart.
const planKey = "rollwave-plan"

// rolloutOutcome is what a forecast must get right about a rollout.
type rolloutOutcome struct {
	// Makespan runs from the first drain to the last instance back in service (simulated time).
	Makespan time.Duration
	// Skipped are the instances whose job was skipped, with the reason code.
	Skipped map[string]string
	// Waits are the reasons the drainer announced a wait for, per cluster.
	Waits map[string][]string
	// MinRunning is each service's lowest running count ("cluster/service").
	MinRunning map[string]int
}

// TestPlanWorldRehearsesTheRollout runs rollwave plan on a live (simulated) fleet, with
// standalone tasks under a maintenance window, after the scanner's update check ran; then the
// real rollout of that fleet through the workers; then the workers roll out the world plan wrote.
// The rehearsal skips the same instances for the same reasons, announces the same waits, and
// each service's lowest running count is the same; plan makes no call but Describe, List and
// Get. The two makespans are logged, not compared: the workers wait in real time against
// fleetsim's clock at ×50, so a rollout's simulated length varies by tens of percent from one
// run to the next, forecast or not.
func TestPlanWorldRehearsesTheRollout(t *testing.T) {
	t.Parallel()
	cli := harness.BuildBinary(t, "cmd/rollwave")
	h := time.Now().UTC().Hour()
	openWindow := fmt.Sprintf("daily %02d:00-%02d:59 UTC", h, (h+1)%24) // open for the whole test
	const fleet = "testdata/plan-standalone.yaml"
	env := []string{"ROLLWAVE_WAITING_THRESHOLD=1s", "ROLLWAVE_MAINTENANCE_WINDOW=" + openWindow}
	live := startPipeline(t, fleet, env...)
	live.checkVersions()
	world := live.plan(cli, fleet)
	actual := live.rollout()

	rehearsal := startPipeline(t, world, env...)
	forecast := rehearsal.rollout()
	t.Logf("makespan: rehearsal %s, actual %s", forecast.Makespan, actual.Makespan)
	forecast.Makespan, actual.Makespan = 0, 0
	if len(actual.Skipped) == 0 {
		t.Errorf("the live rollout skipped nothing: the standalone task was not seen")
	}
	if diff := cmp.Diff(actual, forecast); diff != "" {
		t.Errorf("rehearsal of the rollout (-actual +rehearsal):\n%s", diff)
	}
}

// checkVersions runs the update-check document on every instance, as the scanner does at each
// scan: what plan reads the versions from.
func (p *pipeline) checkVersions() {
	t := p.t
	t.Helper()
	var ids []string
	for _, ins := range p.instances() {
		for _, in := range ins {
			ids = append(ids, in.EC2InstanceID)
		}
	}
	api := ssm.NewFromConfig(p.stack.AWSConfig(t.Context()))
	res, err := ssmcommand.New(api).Run(t.Context(), ssmdoc.Name(p.prefix, ssmdoc.Check), ids, ssmcommand.Options{PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("update check: %v", err)
	}
	for id, r := range res {
		if !r.OK() {
			t.Fatalf("update check on %s: %+v", id, r)
		}
	}
}

// plan runs rollwave plan on the pipeline's fleet with the durations of scenarioFile (what an
// operator who measured them passes), checks that it only read, and returns the world it wrote.
func (p *pipeline) plan(cli, scenarioFile string) string {
	t := p.t
	t.Helper()
	b, err := os.ReadFile(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	world := filepath.Join(t.TempDir(), "world.yaml")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "plan", "--policy-from-env", "--scenario", world,
		"--task-start", sc.Timings.TaskStart.D().String(), "--task-stop", sc.Timings.TaskStop.D().String(),
		"--apply", sc.Timings.Apply.D().String(), "--reboot", sc.Timings.Reboot.D().String(),
		"--agent-reconnect", sc.Timings.AgentReconnect.D().String())
	cmd.Env = append(p.env, "AWS_ACCESS_KEY_ID="+planKey, "PATH=/usr/bin:/bin")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("rollwave plan: %v\n%s%s", err, out.String(), errOut.String())
	}
	t.Logf("$ rollwave plan\n%s", out.String())
	readOnly := regexp.MustCompile(`^(ecs|ssm|ec2):(Describe|List|Get)[A-Za-z]*$`)
	calls := p.report().APICallsByCaller[planKey]
	if len(calls) == 0 {
		t.Errorf("fleetsim saw no call by rollwave plan")
	}
	for op, n := range calls {
		if !readOnly.MatchString(op) {
			t.Errorf("rollwave plan called %s %d times: it must only read", op, n)
		}
	}
	return world
}

// rollout scans, waits until every instance's job ended (an opted-out instance gets none), and
// returns what the rollout did.
func (p *pipeline) rollout() rolloutOutcome {
	t := p.t
	t.Helper()
	var ids []string
	for _, ins := range p.instances() {
		for _, in := range ins {
			if _, out := in.Attributes["rollwave.optout"]; !out {
				ids = append(ids, in.EC2InstanceID)
			}
		}
	}
	res := p.newResults()
	p.scan()
	res.waitEnded(2*time.Minute, ids)
	o := rolloutOutcome{Skipped: map[string]string{}, Waits: map[string][]string{}, MinRunning: map[string]int{}}
	for id, e := range res.byEC2 {
		if e.DetailType == notify.InstanceUpdateSkipped {
			o.Skipped[id] = e.Reason
		}
	}
	for _, e := range res.all {
		if e.DetailType == notify.InstanceUpdateWaiting && !slices.Contains(o.Waits[e.Cluster], e.Reason) {
			o.Waits[e.Cluster] = append(o.Waits[e.Cluster], e.Reason)
		}
	}
	for _, reasons := range o.Waits {
		slices.Sort(reasons)
	}
	r := p.report()
	for _, s := range r.Services {
		o.MinRunning[s.Cluster+"/"+s.Service] = s.MinRunning
	}
	var first, last time.Time
	for _, in := range r.Instances {
		for _, e := range in.Timeline {
			if e.Event == admin.EventDraining && (first.IsZero() || e.T.Before(first)) {
				first = e.T
			}
			if e.Event == admin.EventActive && e.T.After(last) {
				last = e.T
			}
		}
	}
	if first.IsZero() || !last.After(first) {
		t.Fatalf("no drain in fleetsim's report, or no return to service after it: %s .. %s", first, last)
	}
	o.Makespan = last.Sub(first)
	t.Logf("rollout: %+v (%s)", o, strings.Join(ids, " "))
	return o
}
