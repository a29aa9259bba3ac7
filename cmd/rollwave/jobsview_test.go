package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// pipeline is a stack with the four workers running as processes and the rollwave binary.
type pipeline struct {
	*stack
	env []string
	cli string
}

// startPipeline starts the workers over the stack's cluster ops-a, with extra settings.
func startPipeline(t *testing.T, extra ...string) *pipeline {
	t.Helper()
	st := startStack(t)
	ctx := t.Context()
	state, err := admin.New(st.s.FleetsimURL).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, c := range state.Clusters {
		arns = append(arns, c.ARN)
	}
	// Only this test's cluster's ECS events, so parallel tests' fleets do not wake our workers.
	if _, err := bootstrap.Run(ctx, st.s.AWSConfig(ctx), topology.Default(st.prefix).RestrictToClusters(arns)); err != nil {
		t.Fatal(err)
	}
	env := append(st.s.Env(),
		"ROLLWAVE_PREFIX="+st.prefix, "ROLLWAVE_CLUSTERS=ops-a", "ROLLWAVE_LOG_LEVEL=debug",
		"ROLLWAVE_SSM_POLL_INTERVAL=200ms", "ROLLWAVE_SSM_EXPECTED=150ms", "ROLLWAVE_APPLY_EXPECTED=3s", // 3 s and 61 s at ×20
		"ROLLWAVE_RECHECK_INTERVAL=250ms", "ROLLWAVE_ADMISSION_RETRY=200ms",
		"ROLLWAVE_ADMISSION_BACKSTOP=5s", // a held job is woken by ECS events; this only covers a missed one
		"ROLLWAVE_SHUTDOWN_GRACE=2s", "ROLLWAVE_SSM_TIMEOUT=30s", "ROLLWAVE_APPLY_TIMEOUT=30s",
		"ROLLWAVE_DRAIN_TIMEOUT=60s", "ROLLWAVE_REBOOT_TIMEOUT=60s",
	)
	env = append(env, extra...)
	for _, w := range []string{"scanner", "patcher", "drainer", "verifier"} {
		harness.StartProcess(t, w, harness.BuildBinary(t, "services/"+w), env)
	}
	return &pipeline{stack: st, env: env, cli: harness.BuildBinary(t, "cmd/rollwave")}
}

// withoutWorkers is the rollwave binary over st, with no worker running.
func withoutWorkers(t *testing.T, st *stack) *pipeline {
	t.Helper()
	env := append(st.s.Env(), "ROLLWAVE_PREFIX="+st.prefix, "ROLLWAVE_CLUSTERS=ops-a")
	return &pipeline{stack: st, env: env, cli: harness.BuildBinary(t, "cmd/rollwave")}
}

// rollwave runs the CLI binary and returns its stdout, stderr and exit code.
func (p *pipeline) rollwave(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	return runBinary(p.t, p.cli, p.env, args...)
}

// runBinary runs the CLI binary cli with env (and a USER and PATH of its own) and returns its
// stdout, stderr and exit code; failing to run it fails the test.
func runBinary(t *testing.T, cli string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = append(env, "USER=oncall", "PATH=/usr/bin:/bin")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("rollwave %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ rollwave %s  (exit %d)\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// jq runs Debian's jq on doc with the filter and returns its output; jq failing to parse doc
// fails the test.
func jq(t *testing.T, doc, filter string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "/usr/bin/jq", "-c", filter)
	cmd.Stdin = strings.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jq %s: %v\n%s\ninput:\n%s", filter, err, out, doc)
	}
	return strings.TrimSpace(string(out))
}

// closedWindow is a daily hour-long maintenance window that opens twelve hours from now.
func closedWindow(now time.Time) string {
	h := (now.UTC().Hour() + 12) % 24
	return fmt.Sprintf("daily %02d:00-%02d:59 UTC", h, h)
}

// TestJobsListAndDescribe shows, with the binary against moto and fleetsim, a job in each
// state an operator meets: one held by the maintenance window, one that ended (a pipeline dry
// run, skipped), and one dead-lettered (a job of a cluster the deployment does not manage).
func TestJobsListAndDescribe(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "ROLLWAVE_MAINTENANCE_WINDOW="+closedWindow(time.Now()))
	ctx := t.Context()

	const held, dry = "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"
	out, _, code := p.rollwave("jobs", "send", "--cluster", "ops-a", "--instance", held, "--target-version", "1.20.3", "-o", "json")
	if code != 0 {
		t.Fatalf("jobs send: exit %d", code)
	}
	heldJob := strings.Trim(jq(t, out, ".jobId"), `"`)
	if _, _, code := p.rollwave("jobs", "send", "--cluster", "ops-a", "--instance", dry, "--pipeline-dry-run"); code != 0 {
		t.Fatalf("jobs send --pipeline-dry-run: exit %d", code)
	}
	// A job of a cluster the workers do not manage: the patcher dead-letters it before it
	// changes anything.
	stray := update.Job{Schema: update.Schema, ID: "01JSTRAYJOB0000000000000000", Cluster: "ops-z", Instance: "i-0aaaaaaaaaaaaaaa3",
		Step: update.StepStage, RequestedBy: "someone", Reason: "by hand"}
	body, err := update.Encode(stray)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.queue(topology.Patcher).URL), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}

	// Each job reaches its state: waiting for the window, ended, dead-lettered.
	var list string
	harness.Eventually(t, 2*time.Minute, func() (bool, string) {
		list, _, _ = p.rollwave("jobs", "list", "-o", "json")
		got := jq(t, list, `[.[] | {state, instance, waiting, outcome}] | sort_by(.instance)`)
		return strings.Contains(got, `"state":"waiting","instance":"`+held+`","waiting":"window"`) &&
			strings.Contains(got, `"state":"ended","instance":"`+dry+`","waiting":null,"outcome":"skipped"`) &&
			strings.Contains(got, `"state":"dead-lettered","instance":"i-0aaaaaaaaaaaaaaa3"`), got
	})
	if got := jq(t, list, `.[] | select(.state=="dead-lettered") | [.jobId, .cluster, .attempts >= 1, (.reason | test("cluster-not-managed|not managed"))]`); got != `["01JSTRAYJOB0000000000000000","ops-z",true,true]` {
		t.Errorf("dead-lettered row = %s, want the stray job of ops-z, its attempts and reason", got)
	}
	if got := jq(t, list, `.[] | select(.state=="waiting") | [.jobId, .stage, (.since | length > 0), (.waitingDetail | test("it opens at")), .attempts >= 1]`); got != fmt.Sprintf(`[%q,"staged",true,true,true]`, heldJob) {
		t.Errorf("waiting row = %s, want job %s at staged with since, when the window opens, and its attempts", got, heldJob)
	}
	if got := jq(t, list, `.[] | select(.state=="ended") | .attempts >= 1`); got != "true" {
		t.Errorf("ended row's attempts >= 1 = %s, want true", got)
	}

	// The filters and --query.
	out, _, code = p.rollwave("jobs", "list", "--outcome", "skipped", "--query", "[].instance", "-o", "json")
	if code != 0 || jq(t, out, ".") != `["`+dry+`"]` {
		t.Errorf("jobs list --outcome skipped --query [].instance = %d %s, want [%q]", code, out, dry)
	}
	// --cluster keeps one cluster's jobs: ops-a's waiting and ended ones, not the dead letter of
	// ops-z (a cluster that does not exist, which --cluster itself refuses to read).
	out, _, code = p.rollwave("jobs", "list", "--cluster", "ops-a", "-o", "json")
	if got := jq(t, out, `[.[] | [.cluster, .state]] | sort`); code != 0 || got != `[["ops-a","ended"],["ops-a","waiting"]]` {
		t.Errorf("jobs list --cluster ops-a = %d %s, want ops-a's ended and waiting jobs only", code, got)
	}
	out, _, _ = p.rollwave("jobs", "list", "--stage", "staged", "-o", "table")
	if !strings.Contains(out, "JOBID") || !strings.Contains(out, held) || strings.Contains(out, dry) {
		t.Errorf("jobs list --stage staged -o table = %q, want a table of the held job only", out)
	}
	out, _, _ = p.rollwave("jobs", "list")
	for _, want := range []string{"waiting: window", "skipped: dry-run", "rollwave dlq redrive " + p.prefix + "-patcher-dlq --message-id"} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs list = %q, want %q in it", out, want)
		}
	}

	// describe: the dead-lettered job, with its redrive command; the held instance, with its
	// history; the ended dry run with every worker's decision.
	out, _, code = p.rollwave("jobs", "describe", stray.ID)
	if code != 0 || !regexp.MustCompile(`redrive: rollwave dlq redrive patcher --message-id \S+`).MatchString(out) {
		t.Errorf("jobs describe %s = %d %q, want the redrive command", stray.ID, code, out)
	}
	out, _, code = p.rollwave("jobs", "describe", held, "-o", "json")
	if code != 0 {
		t.Fatalf("jobs describe %s: exit %d", held, code)
	}
	steps := `[.history[] | select(.jobId == "` + heldJob + `") | [.worker, (.decision // .event), .reason, .receives >= 1]]`
	if got := jq(t, out, `[.instance.job, .instance.waiting, `+steps+`]`); got != fmt.Sprintf(`[%q,"window",[["patcher","Instance Update Started",null,true],["patcher","staged",null,true],["drainer","held","window",true]]]`, heldJob) {
		t.Errorf("jobs describe %s = %s, want its job started and staged by the patcher, then held by the drainer for the window", held, got)
	}
	// The dry run: every worker's decision, each a step of its own, then its end.
	out, _, _ = p.rollwave("jobs", "describe", dry)
	decisions := regexp.MustCompile(`(?m)^  \S+\s+(patcher|drainer|verifier)\s+\S+\s+(stage|drain|reboot|verify)\s+(\S+) \(dry run\)`).FindAllStringSubmatch(out, -1)
	var got []string
	for _, d := range decisions {
		got = append(got, d[1]+" "+d[2]+" "+d[3])
	}
	want := []string{"patcher stage started", "patcher stage staged", "drainer drain drained", "patcher reboot rebooted", "verifier verify skipped"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") || !strings.Contains(out, "RECEIVES") || !strings.Contains(out, "dry-run") {
		t.Errorf("jobs describe %s: steps %q, want %q with the receives and the reason dry-run:\n%s", dry, got, want, out)
	}
	if _, errOut, code := p.rollwave("jobs", "describe", "01JNOSUCHJOB00000000000000"); code != exitNotFound || !strings.Contains(errOut, "nothing known of") {
		t.Errorf("jobs describe of an unknown job = %d %q, want %d", code, errOut, exitNotFound)
	}
}
