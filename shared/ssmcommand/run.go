package ssmcommand

import (
	"context"
	"fmt"

	"github.com/rollwave/rollwave/shared/bottlerocket"
)

// Runner runs an SSM document on instances and waits for the results (*Client, or the fake in
// ssmcommandtest): what Check and RunOne need.
type Runner interface {
	Run(ctx context.Context, doc string, instanceIDs []string, opts Options) (map[string]Result, error)
}

// Check runs the update-check document on one instance and parses its status.
func Check(ctx context.Context, r Runner, doc, instanceID string, opts Options) (bottlerocket.Status, error) {
	res, err := r.Run(ctx, doc, []string{instanceID}, opts)
	if err != nil {
		return bottlerocket.Status{}, fmt.Errorf("run update check: %w", err)
	}
	one, ok := res[instanceID]
	if !ok {
		return bottlerocket.Status{}, fmt.Errorf("run update check: no result for %s", instanceID)
	}
	if !one.OK() {
		return bottlerocket.Status{}, CommandError("update check", one)
	}
	st, err := bottlerocket.ParseUpdateCheck([]byte(one.Stdout))
	if err != nil {
		return bottlerocket.Status{}, fmt.Errorf("parse update check of %s: %w", instanceID, err)
	}
	return st, nil
}

// RunOne runs a document on one instance and returns an error unless it succeeded.
func RunOne(ctx context.Context, r Runner, doc, instanceID string, opts Options) error {
	res, err := r.Run(ctx, doc, []string{instanceID}, opts)
	if err != nil {
		return fmt.Errorf("run %s: %w", doc, err)
	}
	one, ok := res[instanceID]
	if !ok {
		return fmt.Errorf("run %s: no result for %s", doc, instanceID)
	}
	if !one.OK() {
		return CommandError(doc, one)
	}
	return nil
}

// CommandError describes the invocation r of what (a document, or what it does) that did not
// succeed: its error, or its status, exit code and the end of its standard error.
func CommandError(what string, r Result) error {
	if r.Err != nil {
		return fmt.Errorf("%s: %s: %w", what, r.Status, r.Err)
	}
	msg := r.Stderr
	if len(msg) > 300 {
		msg = msg[len(msg)-300:]
	}
	return fmt.Errorf("%s: %s (exit %d): %s", what, r.Status, r.ResponseCode, msg)
}
