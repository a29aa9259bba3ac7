package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// awsCLI is the aws CLI the recipes are tested with: Debian's awscli package, which
// scripts/deps.sh installs. A developer's own aws (pyenv, pip, v2 bundle) may differ.
const awsCLI = "/usr/bin/aws"

// recipeRe matches a recipe of docs/operations.md: a ```sh block whose first line names it.
var recipeRe = regexp.MustCompile("(?ms)^```sh\n# recipe: ([a-z0-9-]+)\n(.*?)^```")

type recipe struct{ name, script string }

func recipes(t *testing.T) []recipe {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []recipe
	for _, m := range recipeRe.FindAllStringSubmatch(string(b), -1) {
		out = append(out, recipe{m[1], m[2]})
	}
	return out
}

// TestOperationsRecipes runs every aws CLI recipe of docs/operations.md, in the document's order,
// with Debian's aws CLI against moto and fleetsim, and checks the effect of those that have one.
func TestOperationsRecipes(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{awsCLI, "/usr/bin/jq"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is missing: run scripts/deps.sh (make deps), which installs Debian's awscli and jq", bin)
		}
	}
	st := startStack(t)
	ctx := t.Context()
	const instance = "i-0aaaaaaaaaaaaaaa1"
	patcher, drainer := st.queue(topology.Patcher), st.queue(topology.Drainer)
	paused := func() []pause.Info {
		s, err := pause.Read(ctx, st.sqs, drainer.URL)
		if err != nil {
			t.Fatal(err)
		}
		return s.All()
	}

	// Before and after each recipe: what it needs, and what it must have done.
	checks := map[string]struct{ before, after func() }{
		"find-queues": {},
		"read-dead-letters": {before: func() {
			st.deadLetter(topology.Patcher, jobBody, "describe container instances: ThrottlingException")
		}},
		"redrive-by-hand": {after: func() {
			if n := st.count(patcher.DeadLetterURL); n != 0 {
				t.Errorf("redrive-by-hand left %d messages in %s, want 0", n, patcher.DeadLetterName)
			}
			if msgs := st.drain(patcher.URL); len(msgs) != 1 || strings.TrimSpace(msgs[0].Body) != jobBody {
				t.Errorf("redrive-by-hand: %s holds %+v, want the dead-lettered job", patcher.Name, msgs)
			}
		}},
		"send-job": {after: func() {
			msgs := st.drain(patcher.URL)
			if len(msgs) != 1 {
				t.Fatalf("send-job: %d messages in %s, want 1", len(msgs), patcher.Name)
			}
			if j, err := update.Decode([]byte(msgs[0].Body)); err != nil || j.Instance != instance || j.Cluster != "ops-a" {
				t.Errorf("send-job sent %+v, %v; want a valid job for %s", j, err, instance)
			}
		}},
		"scan-now": {after: func() {
			msgs := st.drain(st.queue(topology.Scanner).URL)
			if len(msgs) != 1 {
				t.Fatalf("scan-now: %d scan requests, want 1", len(msgs))
			}
			if r, err := update.DecodeScan([]byte(msgs[0].Body)); err != nil || len(r.Clusters) != 1 {
				t.Errorf("scan-now sent %+v, %v", r, err)
			}
		}},
		"pause-cluster": {after: func() {
			if got := paused(); len(got) != 1 || got[0].Cluster != "ops-a" || got[0].Reason != "incident INC-42" {
				t.Errorf("after pause-cluster the pauses are %+v, want ops-a's", got)
			}
		}},
		"resume-cluster": {before: func() {
			if _, err := st.sqs.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(drainer.URL),
				Tags: map[string]string{pause.FailuresKeyPrefix + "ops-a": "tb7yo0/drain-timeout/i-0aaaaaaaaaaaaaaa2"}}); err != nil {
				t.Fatal(err)
			}
		}, after: func() {
			if got := paused(); len(got) != 0 {
				t.Errorf("after resume-cluster the pauses are %+v, want none", got)
			}
			tags, err := st.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(drainer.URL)})
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := tags.Tags[pause.FailuresKeyPrefix+"ops-a"]; ok {
				t.Errorf("after resume-cluster the error budget tag is still %q, want it removed", v)
			}
		}},
		"pause-everything": {after: func() {
			if got := paused(); len(got) != 1 || !got[0].All {
				t.Errorf("after pause-everything the pauses are %+v, want the global one", got)
			}
		}},
		"resume-everything": {after: func() {
			if got := paused(); len(got) != 0 {
				t.Errorf("after resume-everything the pauses are %+v, want none", got)
			}
		}},
		"instance-marks": {},
		"release-instance": {before: func() {
			park(t, st, instance, "01JPARKEDJOB00000000000000", "failed", "never-came-back")
		}, after: func() {
			for _, a := range releasedMarks {
				if v, ok := fleetAttr(t, st, instance, a); ok {
					t.Errorf("after release-instance %s still has %s = %q", instance, a, v)
				}
			}
			if s := fleetStatus(t, st, instance); s != "ACTIVE" {
				t.Errorf("after release-instance %s is %s, want ACTIVE", instance, s)
			}
		}},
		"opt-out-instance": {after: func() {
			if v, ok := fleetAttr(t, st, instance, update.AttrOptOut); !ok || v != "tester INC-42" {
				t.Errorf("after opt-out-instance %s has %s = %q (%t), want %q", instance, update.AttrOptOut, v, ok, "tester INC-42")
			}
		}},
		"opt-in-instance": {after: func() {
			if v, ok := fleetAttr(t, st, instance, update.AttrOptOut); ok {
				t.Errorf("after opt-in-instance %s still has %s = %q", instance, update.AttrOptOut, v)
			}
		}},
	}

	// Debian's aws CLI (2.9) ignores AWS_ENDPOINT_URL*: a wrapper named aws adds --endpoint-url.
	dir := t.TempDir()
	wrapper := "#!/bin/bash\ncase \"$1\" in\n  ecs|ssm|ec2) exec " + awsCLI + " --endpoint-url \"$AWS_ENDPOINT_URL_ECS\" \"$@\" ;;\n" +
		"  *) exec " + awsCLI + " --endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\" ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(st.s.Env(), "PATH="+dir+":/usr/bin:/bin", "HOME="+dir, "PREFIX="+st.prefix, "CLUSTER=ops-a",
		"INSTANCE="+instance, "USER=tester", "AWS_PAGER=")

	ran := map[string]bool{}
	for _, r := range recipes(t) {
		c, ok := checks[r.name]
		if !ok {
			t.Errorf("recipe %s has no check in this test: add one", r.name)
		}
		ran[r.name] = true
		if c.before != nil {
			c.before()
		}
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", r.script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		t.Logf("recipe %s:\n%s", r.name, out)
		if err != nil {
			t.Fatalf("recipe %s: %v\n%s", r.name, err, out)
		}
		if c.after != nil {
			c.after()
		}
	}
	for name := range checks {
		if !ran[name] {
			t.Errorf("recipe %s is not in docs/operations.md", name)
		}
	}
}

// fleetStatus returns the ECS status of the instance, as fleetsim holds it.
func fleetStatus(t *testing.T, st *stack, ec2ID string) string {
	t.Helper()
	state, err := admin.New(st.s.FleetsimURL).State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range state.Clusters {
		for _, in := range c.Instances {
			if in.EC2InstanceID == ec2ID {
				return in.Status
			}
		}
	}
	t.Fatalf("instance %s is not in fleetsim", ec2ID)
	return ""
}

// fleetAttr returns the ECS attribute name of the instance, as fleetsim holds it.
func fleetAttr(t *testing.T, st *stack, ec2ID, name string) (string, bool) {
	t.Helper()
	state, err := admin.New(st.s.FleetsimURL).State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range state.Clusters {
		for _, in := range c.Instances {
			if in.EC2InstanceID == ec2ID {
				v, ok := in.Attributes[name]
				return v, ok
			}
		}
	}
	t.Fatalf("instance %s is not in fleetsim", ec2ID)
	return "", false
}
