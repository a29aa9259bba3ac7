package main

import (
	"strings"
	"testing"

	"github.com/rollwave/rollwave/shared/topology"
)

// TestEveryCommandPrintsJSON runs every command with -o json, the binary as a process, and
// reads what it printed with jq: each prints one JSON document, whatever it does, and --query
// and -o table work on it.
func TestEveryCommandPrintsJSON(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	p := withoutWorkers(t, st)
	dead := st.deadLetter(topology.Patcher, jobBody, "describe container instances: ThrottlingException")

	tests := []struct {
		args   []string
		filter string // a jq filter whose output must be "true"
	}{
		{[]string{"status", "--cluster", "ops-a"}, `.clusters[0].progress.total == 3`},
		{[]string{"jobs", "list"}, `map(select(.state == "dead-lettered")) | length == 1`},
		{[]string{"jobs", "describe", "job-1"}, `.deadLetters[0].redrive | startswith("rollwave dlq redrive patcher --message-id")`},
		{[]string{"jobs", "send", "--cluster", "ops-a", "--instance", "i-0aaaaaaaaaaaaaaa2", "--dry-run"}, `.sent == false and .request.instance == "i-0aaaaaaaaaaaaaaa2"`},
		{[]string{"jobs", "send", "--cluster", "ops-a", "--instance", "i-0aaaaaaaaaaaaaaa2"}, `.sent and (.jobId | startswith("j-"))`},
		{[]string{"dlq", "list"}, `map(select(.messages > 0)) | length == 1`},
		{[]string{"dlq", "show", "patcher"}, `.[0].messageId == "` + dead + `"`},
		{[]string{"dlq", "redrive", "patcher", "--message-id", dead}, `.redriven[0].messageId == "` + dead + `" and .failed == []`},
		{[]string{"dlq", "purge", "verifier", "--yes"}, `.purged | endswith("-verifier-dlq")`},
		{[]string{"pause", "--cluster", "ops-a", "--reason", "json test"}, `.paused and .cluster == "ops-a"`},
		{[]string{"resume", "--cluster", "ops-a"}, `.paused == false and .wasPaused`},
		{[]string{"scan", "--cluster", "ops-a"}, `.request.clusters == ["ops-a"]`},
		{[]string{"instances", "release", "i-0aaaaaaaaaaaaaaa3"}, `.status == "ACTIVE" and .cleared == []`},
		{[]string{"report", "--fleetsim", st.s.FleetsimURL, "--out", t.TempDir() + "/rollout.html"}, `.instances == 3`},
	}
	for _, tt := range tests {
		out, errOut, code := p.rollwave(append(tt.args, "-o", "json")...)
		if code != 0 {
			t.Errorf("rollwave %s -o json: exit %d: %s", strings.Join(tt.args, " "), code, errOut)
			continue
		}
		if got := jq(t, out, tt.filter); got != "true" {
			t.Errorf("rollwave %s -o json | jq '%s' = %s, want true", strings.Join(tt.args, " "), tt.filter, got)
		}
	}

	out, _, code := p.rollwave("dlq", "list", "-o", "json", "--query", "[?messages > `0`].queue")
	if code != 0 || jq(t, out, "length") != "0" {
		t.Errorf("dlq list --query = %d %s, want an empty list once the dead letter is redriven", code, out)
	}
	out, _, code = p.rollwave("status", "--cluster", "ops-a", "-o", "table", "--query", "clusters[0].instances[].{id: ec2InstanceId, status: status}")
	if code != 0 || !strings.HasPrefix(out, "ID") || strings.Count(out, "ACTIVE") != 3 {
		t.Errorf("status -o table --query = %d %q, want a table of three ACTIVE instances", code, out)
	}
	if _, errOut, code := p.rollwave("dlq", "list", "--query", "["); code != exitUsage || !strings.Contains(errOut, "--query") {
		t.Errorf("a bad --query = %d %q, want a usage error", code, errOut)
	}
}
