package ssmcommandtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/shared/ssmcommand"
)

// Adapter is the method set of *ssmcommand.Client, declared by the contract suite, which
// needs all of it. Services should declare only the methods they call.
type Adapter interface {
	Run(ctx context.Context, doc string, instanceIDs []string, opts ssmcommand.Options) (map[string]ssmcommand.Result, error)
	Send(ctx context.Context, doc, instanceID, comment string) (string, error)
	Invocation(ctx context.Context, commandID, instanceID string) (ssmcommand.Result, error)
	Sent(ctx context.Context, instanceID, doc, comment string) (string, error)
	Online(ctx context.Context, instanceIDs []string) (map[string]bool, error)
}

var (
	_ Adapter = (*Fake)(nil)
	_ Adapter = (*ssmcommand.Client)(nil)
)

// Env is one world for the contract suite.
type Env struct {
	Adapter Adapter
	// Instances are at least two managed instances whose agent is online.
	Instances []string
	// Document is a document that succeeds on them with output on stdout and changes
	// nothing (rollwave's update-check document).
	Document string
	// PollInterval for Run against this world (the fake needs none; a simulator a short one).
	PollInterval time.Duration
}

// unknownInstance is an instance ID no world manages.
const unknownInstance = "i-0000000000000dead"

// RunContract runs the behaviour every implementation of Adapter must show.
func RunContract(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := t.Context()
	opts := func(e Env, comment string) ssmcommand.Options {
		return ssmcommand.Options{Comment: comment, Wait: time.Minute, PollInterval: e.PollInterval}
	}

	t.Run("Run returns every instance's output", func(t *testing.T) {
		e := newEnv(t)
		got, err := e.Adapter.Run(ctx, e.Document, e.Instances, opts(e, "rollwave contract run"))
		if err != nil {
			t.Fatalf("Run() error = %v", err)
		}
		if len(got) != len(e.Instances) {
			t.Errorf("Run() returned %d results, want %d", len(got), len(e.Instances))
		}
		for _, id := range e.Instances {
			r := got[id]
			if !r.OK() || r.Stdout == "" || r.CommandID == "" {
				t.Errorf("Run()[%s] = %+v, want Success, exit 0, output and a command ID", id, r)
			}
		}
	})

	t.Run("Run isolates an unmanaged instance", func(t *testing.T) {
		e := newEnv(t)
		ids := append([]string{unknownInstance}, e.Instances...)
		got, err := e.Adapter.Run(ctx, e.Document, ids, opts(e, "rollwave contract isolate"))
		if err != nil {
			t.Fatalf("Run() error = %v", err)
		}
		if r := got[unknownInstance]; !errors.Is(r.Err, ssmcommand.ErrInvalidInstance) {
			t.Errorf("Run()[%s] = %+v, want ErrInvalidInstance", unknownInstance, r)
		}
		for _, id := range e.Instances {
			if !got[id].OK() {
				t.Errorf("Run()[%s] = %+v, want Success", id, got[id])
			}
		}
		if _, err := e.Adapter.Run(ctx, e.Document, []string{unknownInstance}, opts(e, "")); !errors.Is(err, ssmcommand.ErrInvalidInstance) {
			t.Errorf("Run(only unmanaged) error = %v, want ErrInvalidInstance", err)
		}
	})

	t.Run("Send is found by Sent with the same comment only", func(t *testing.T) {
		e := newEnv(t)
		id := e.Instances[0]
		comment := fmt.Sprintf("rollwave contract %d", time.Now().UnixNano())
		if sent, err := e.Adapter.Sent(ctx, id, e.Document, comment); sent != "" || err != nil {
			t.Fatalf("Sent() before Send = %q, %v; want none", sent, err)
		}
		cmd, err := e.Adapter.Send(ctx, e.Document, id, comment)
		if err != nil || cmd == "" {
			t.Fatalf("Send() = %q, %v; want a command ID", cmd, err)
		}
		if sent, err := e.Adapter.Sent(ctx, id, e.Document, comment); sent != cmd || err != nil {
			t.Errorf("Sent() after Send = %q, %v; want the command %q", sent, err, cmd)
		}
		if sent, err := e.Adapter.Sent(ctx, id, e.Document, comment+" other"); sent != "" || err != nil {
			t.Errorf("Sent(other comment) = %q, %v; want none", sent, err)
		}
		if sent, err := e.Adapter.Sent(ctx, e.Instances[1], e.Document, comment); sent != "" || err != nil {
			t.Errorf("Sent(other instance) = %q, %v; want none", sent, err)
		}
		r, err := e.Adapter.Invocation(ctx, cmd, id)
		if err != nil || r.CommandID != cmd || r.Status == "" {
			t.Errorf("Invocation(%s, %s) = %+v, %v; want a status", cmd, id, r, err)
		}
	})

	t.Run("a comment over 100 characters is ErrInvalid", func(t *testing.T) {
		e := newEnv(t)
		long := strings.Repeat("x", 101)
		if _, err := e.Adapter.Send(ctx, e.Document, e.Instances[0], long); !errors.Is(err, ssmcommand.ErrInvalid) {
			t.Errorf("Send(101-character comment) error = %v, want ErrInvalid", err)
		}
		if _, err := e.Adapter.Run(ctx, e.Document, e.Instances, opts(e, long)); !errors.Is(err, ssmcommand.ErrInvalid) {
			t.Errorf("Run(101-character comment) error = %v, want ErrInvalid", err)
		}
	})

	t.Run("Online reports managed instances online and unknown ones not", func(t *testing.T) {
		e := newEnv(t)
		got, err := e.Adapter.Online(ctx, append([]string{unknownInstance}, e.Instances...))
		if err != nil {
			t.Fatalf("Online() error = %v", err)
		}
		if got[unknownInstance] {
			t.Errorf("Online()[%s] = true, want false", unknownInstance)
		}
		for _, id := range e.Instances {
			if !got[id] {
				t.Errorf("Online()[%s] = false, want true", id)
			}
		}
	})
}
