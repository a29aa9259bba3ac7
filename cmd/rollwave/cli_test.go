package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
	"github.com/rollwave/rollwave/tools/harness"
)

// result is one run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the CLI in-process with env as its whole environment and stdin as its input.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	r := result{out.String(), errOut.String(), code}
	t.Logf("rollwave %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

func TestUsageErrorsExit2BeforeAnyAWSCall(t *testing.T) {
	// No region, credentials or endpoints: a usage error must be found before the CLI needs AWS.
	env := map[string]string{"USER": "tester"}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
		{"unknown flag", []string{"status", "--colour"}, "flag provided but not defined: -colour"},
		{"jobs send without cluster and instance", []string{"jobs", "send"}, "--cluster and --instance required"},
		{"jobs send with a bad instance", []string{"jobs", "send", "--cluster", "prod", "--instance", "web-1"}, "neither an EC2 instance ID"},
		{"jobs send with a bad version", []string{"jobs", "send", "--cluster", "prod", "--instance", "i-0aaaaaaaaaaaaaaa1", "--target-version", "latest"}, "targetVersion"},
		{"jobs send with an argument", []string{"jobs", "send", "--cluster", "prod", "--instance", "i-0aaaaaaaaaaaaaaa1", "now"}, "takes no arguments"},
		{"plan with a negative duration", []string{"plan", "--reboot", "-1s"}, "--reboot -1s: want a duration of 0 or more"},
		{"plan writing the world over its JSON", []string{"plan", "--scenario", "-", "-o", "json"}, "--scenario - writes the world to stdout"},
		{"plan with no history to measure", []string{"plan", "--since", "0s"}, "--since 0s: want a positive duration"},
		{"plan with an argument", []string{"plan", "prod"}, "takes no arguments"},
		{"dlq show without a queue", []string{"dlq", "show"}, "needs exactly one QUEUE"},
		{"dlq show of an unknown queue", []string{"dlq", "show", "mailer"}, `no queue "mailer"`},
		{"dlq redrive without a choice", []string{"dlq", "redrive", "patcher"}, "--all, or --message-id"},
		{"dlq redrive with both", []string{"dlq", "redrive", "patcher", "--all", "--message-id", "x"}, "not both"},
		{"dlq purge without --yes off a terminal", []string{"dlq", "purge", "patcher"}, "refusing to purge rollwave-patcher-dlq without --yes"},
		{"pause without reason", []string{"pause", "--cluster", "prod"}, "--reason is required"},
		{"pause without scope", []string{"pause", "--reason", "x"}, "--cluster C, or --all"},
		{"resume with both scopes", []string{"resume", "--cluster", "prod", "--all"}, "not both"},
		{"status with an unknown output", []string{"status", "-o", "yaml"}, `-o "yaml"`},
		{"status with a bad limit", []string{"status", "--max-out-of-service", "0"}, "at least 1"},
		{"help of an unknown command", []string{"help", "deploy"}, `no command "deploy"`},
		{"a group without its subcommand", []string{"jobs"}, "jobs needs a subcommand: jobs describe, jobs list, jobs send"},
		{"a group with only a flag", []string{"dlq", "--max", "3"}, "dlq needs a subcommand: dlq list, dlq purge, dlq redrive, dlq show"},
		{"an unknown subcommand", []string{"jobs", "frob"}, `unknown command "jobs frob"; the jobs commands are jobs describe, jobs list, jobs send`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, env, "", tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit code = %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	env := map[string]string{}
	r := runCLI(t, env, "", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") || !strings.Contains(r.stdout, "dlq redrive") {
		t.Errorf("help = %d, %q; want 0 and the overview with the exit codes", r.code, r.stdout)
	}
	for _, c := range commands {
		r := runCLI(t, env, "", append([]string{"help"}, strings.Fields(c.name)...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "Flags:") {
			t.Errorf("help %s = %d, %q; want 0, examples and flags", c.name, r.code, r.stdout)
		}
	}
	if r := runCLI(t, env, "", "help", "dlq"); r.code != 0 || !strings.Contains(r.stdout, "dlq list, dlq purge, dlq redrive, dlq show") {
		t.Errorf("help dlq = %d, %q; want 0 and the dlq commands", r.code, r.stdout)
	}
	if r := runCLI(t, env, "", "dlq", "show", "-h"); r.code != 0 || !strings.Contains(r.stdout, "Usage: rollwave dlq show") {
		t.Errorf("dlq show -h = %d, %q; want 0 and its usage", r.code, r.stdout)
	}
}

func TestVersionFlag(t *testing.T) {
	// No region, credentials or endpoints: --version needs none.
	r := runCLI(t, map[string]string{}, "", "--version")
	if want := version.Get().Line("rollwave") + "\n"; r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Errorf("rollwave --version = %d, %q, %q; want 0, %q and nothing on stderr", r.code, r.stdout, r.stderr, want)
	}
}

// stack is a harness stack with rollwave's topology and documents under a prefix of its own.
type stack struct {
	t      *testing.T
	s      *harness.Stack
	env    map[string]string
	sqs    *sqs.Client
	prefix string
	topo   topology.Resolved
}

func startStack(t *testing.T) *stack {
	t.Helper()
	s := harness.Start(t, harness.WithScenario("testdata/fleet.yaml"), harness.WithTimeScale(20))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	st := &stack{t: t, s: s, sqs: sqs.NewFromConfig(cfg), prefix: s.Name("rw"), env: map[string]string{}}
	var err error
	st.topo, err = bootstrap.Run(ctx, cfg, topology.Default(st.prefix))
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		st.env[k] = v
	}
	st.env["ROLLWAVE_PREFIX"] = st.prefix
	st.env["USER"] = "tester"
	return st
}

func (st *stack) run(args ...string) result {
	st.t.Helper()
	return runCLI(st.t, st.env, "", args...)
}

func (st *stack) queue(logical string) topology.ResolvedQueue {
	st.t.Helper()
	q, err := st.topo.Queue(logical)
	if err != nil {
		st.t.Fatal(err)
	}
	return q
}

// message is a received message's body and string attributes.
type message struct {
	ID, Body string
	Attrs    map[string]string
}

// drain receives every message of url (hiding each for a minute) and returns them.
func (st *stack) drain(url string) []message {
	st.t.Helper()
	var out []message
	for {
		r, err := st.sqs.ReceiveMessage(st.t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			st.t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			out = append(out, message{aws.ToString(m.MessageId), aws.ToString(m.Body), attrs})
		}
	}
}

// count returns ApproximateNumberOfMessages + ...NotVisible of url.
func (st *stack) count(url string) int {
	st.t.Helper()
	out, err := st.sqs.GetQueueAttributes(st.t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		st.t.Fatal(err)
	}
	var n int
	for _, v := range out.Attributes {
		var i int
		_ = json.Unmarshal([]byte(v), &i)
		n += i
	}
	return n
}
