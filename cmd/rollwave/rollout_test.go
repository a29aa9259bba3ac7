package main

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStatusDuringARollout watches a rollout of the three instances of ops-a, one at a time,
// through `rollwave status --watch` piped (one progress line per look, never a screen redraw),
// and checks what a person sees: a job held by the limit with its reason while one instance is
// updated, the count of updated instances rising to 3/3 with an ETA measured from
// the first, and the full status on the way naming the wait's reason; then each instance's
// story with jobs describe, every step by its worker, and the ended jobs with jobs list.
func TestStatusDuringARollout(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, "ROLLWAVE_MAX_OUT_OF_SERVICE=1")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	watch := exec.CommandContext(ctx, p.cli, "status", "--cluster", "ops-a", "--watch", "--interval", "500ms")
	watch.Env = append(p.env, "PATH=/usr/bin:/bin")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if _, _, code := p.rollwave("scan", "--cluster", "ops-a", "--reason", "rollout test"); code != 0 {
		t.Fatalf("scan: exit %d", code)
	}

	progressRe := regexp.MustCompile(`^\S+ ops-a: (\d)/3 updated \((\d+)%\), (\d) in flight, (\d) waiting, 0 failed, 0 skipped, 0 dead-lettered`)
	var sawWaiting, sawETA, sawReason bool
	var seen []string
	for done := false; !done; {
		select {
		case <-ctx.Done():
			t.Fatalf("the rollout did not reach 3/3 updated; lines seen:\n%s", strings.Join(seen, "\n"))
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("status --watch ended early; lines seen:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if strings.Contains(line, "\033[") || strings.Contains(line, "QUEUE") {
				t.Fatalf("piped --watch drew a screen, want one line per cluster per look: %q", line)
			}
			m := progressRe.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("status --watch line %q, want the progress of ops-a", line)
			}
			if m[4] != "0" && !sawReason {
				sawWaiting = true
				out, _, _ := p.rollwave("status", "--cluster", "ops-a")
				sawReason = regexp.MustCompile(`waiting: i-0a+\d \(job \S+\): cluster-limit`).MatchString(out) || strings.Contains(out, ": window")
				if !sawReason && regexp.MustCompile(`waiting: i-0a+\d \(job \S+\): \S+`).MatchString(out) {
					sawReason = true // another admission reason (capacity, health-gate) held it at that look
				}
			}
			if strings.Contains(line, "ETA ") {
				sawETA = true
			}
			done = m[1] == "3"
		}
	}
	cancel()
	_ = watch.Wait() // killed by cancel: its exit status says nothing
	// Staging is just in time (docs/decisions/lanes.md): a job beyond its cluster's look-ahead
	// waits unmarked before it is staged, which status does not count, so at a limit of one a
	// look may never catch a job waiting at the drainer; one that does must say why.
	if sawWaiting && !sawReason {
		t.Errorf("a look showed a job waiting without its reason; lines:\n%s", strings.Join(seen, "\n"))
	}
	if !sawETA {
		t.Errorf("no look gave an ETA once an update was measured; lines:\n%s", strings.Join(seen, "\n"))
	}
	out, _, _ := p.rollwave("status", "--cluster", "ops-a", "-o", "json", "--query", "clusters[0].progress.[updated, total, percent, length(waiting)]")
	if got := jq(t, out, "."); got != "[3,3,100,0]" {
		t.Errorf("status progress after the rollout = %s, want [3,3,100,0]", got)
	}

	// Every updated instance's story, step by step, each decision by its worker; the ended jobs
	// with their attempts.
	out, _, _ = p.rollwave("jobs", "list", "--cluster", "ops-a", "--outcome", "updated", "-o", "json")
	if got := jq(t, out, `[.[] | [.state, .reason, .attempts >= 1]] | unique`); got != `[["ended","updated",true]]` || jq(t, out, "length") != "3" {
		t.Errorf("jobs list --outcome updated = %s, want 3 ended jobs, updated, each with its attempts", out)
	}
	for _, instance := range []string{"i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2", "i-0aaaaaaaaaaaaaaa3"} {
		out, _, code := p.rollwave("jobs", "describe", instance, "-o", "json")
		if code != 0 {
			t.Fatalf("jobs describe %s: exit %d", instance, code)
		}
		// A hold comes only to the jobs that waited; the rest is every job's.
		got := jq(t, out, `[.history[] | select(.jobId != null and .decision != "held") | [.worker, .step, (.decision // .outcome // .event), (.at | length > 0)]]`)
		want := `[["patcher","stage","Instance Update Started",true],["patcher","stage","staged",true],["drainer","drain","admitted",true],` +
			`["drainer","drain","drained",true],["patcher","reboot","rebooted",true],["verifier","verify","updated",true]]`
		if got != want {
			t.Errorf("jobs describe %s steps = %s, want %s", instance, got, want)
		}
		if held := jq(t, out, `[.history[] | select(.decision == "held") | .reason] | map(length > 0) | all`); held != "true" {
			t.Errorf("jobs describe %s: a hold without its reason: %s", instance, out)
		}
	}
	out, _, _ = p.rollwave("jobs", "describe", "i-0aaaaaaaaaaaaaaa3")
	for _, want := range []string{"RECEIVES", "drained", "rebooted", "reboot sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs describe i-0aaaaaaaaaaaaaaa3 = %q, want %q in it", out, want)
		}
	}
}
