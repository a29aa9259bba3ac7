// Package ssmcommandtest provides Fake, a stateful in-memory stand-in for *ssmcommand.Client
// whose instances answer with scripted output after a scripted latency, and RunContract, the
// behaviour both the fake and the real adapter must show.
package ssmcommandtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/ssmcommand"
)

// Response scripts how an instance answers a document.
type Response struct {
	Stdout   string
	Stderr   string
	ExitCode int           // non-zero ends the invocation Failed with this response code
	Latency  time.Duration // time between sending and the terminal status
	// Status, when set, is the terminal status instead of Success/Failed (for example
	// ssmcommand.StatusUndeliverable or StatusExecutionTimedOut).
	Status ssmcommand.Status
}

// Command is a command the fake accepted.
type Command struct {
	ID         string
	Document   string
	Comment    string
	InstanceID string
	SentAt     time.Time
}

// Call is one recorded call of a Fake method.
type Call struct {
	Op   string // the method name, for example "Run"
	Args []string
}

type invocation struct {
	Command
	response Response
}

// Fake holds managed instances and the commands sent to them. An instance answers a document
// with the Response set by Respond for (instance, document), else for (instance, ""), else
// with the Handler, else with Success, exit code 0 and no output. A command sent to an
// instance that was not added fails for that instance with ssmcommand.ErrInvalidInstance.
// Time comes from Now, else from Clock (time.Now by default), so tests can run it inside
// testing/synctest or on a virtual clock. The zero value is not usable: call NewFake. A Fake is
// safe for concurrent use.
type Fake struct {
	// Now, when set, is the time the fake reads; set it before use.
	Now func() time.Time
	// Clock times Run's waits, and is the time the fake reads when Now is nil; nil is
	// clock.Real. Set it before use.
	Clock clock.Clock
	// Handler, when set, answers documents that have no Respond script. It is called with
	// the fake unlocked and may keep its own state (a host that reports a new version once
	// it rebooted).
	Handler func(doc, instanceID string) Response

	mu          sync.Mutex
	online      map[string]bool
	scripts     map[[2]string]Response
	invocations []*invocation
	calls       []Call
	failNext    map[string][]error
}

// NewFake returns a Fake with no instances.
func NewFake() *Fake {
	return &Fake{online: map[string]bool{}, scripts: map[[2]string]Response{}, failNext: map[string][]error{}}
}

// AddInstance makes id a managed instance whose agent is online or not.
func (f *Fake) AddInstance(id string, online bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[id] = online
}

// Respond scripts instanceID's answer to doc ("" = any document without its own script).
func (f *Fake) Respond(instanceID, doc string, r Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[[2]string{instanceID, doc}] = r
}

// FailNext makes the next call of the method op (for example "Run") return err before doing
// anything. Several calls queue up, one error per call.
func (f *Fake) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[op] = append(f.failNext[op], err)
}

// Calls returns the calls made so far, oldest first.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Commands returns the commands sent so far, one per instance, oldest first.
func (f *Fake) Commands() []Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Command, 0, len(f.invocations))
	for _, inv := range f.invocations {
		out = append(out, inv.Command)
	}
	return out
}

func (f *Fake) begin(op string, args ...string) error {
	f.calls = append(f.calls, Call{Op: op, Args: args})
	if errs := f.failNext[op]; len(errs) > 0 {
		f.failNext[op] = errs[1:]
		return errs[0]
	}
	return nil
}

// response finds the script for (id, doc). f.mu must not be held (Handler runs unlocked).
func (f *Fake) response(id, doc string) Response {
	f.mu.Lock()
	r, ok := f.scripts[[2]string{id, doc}]
	if !ok {
		r, ok = f.scripts[[2]string{id, ""}]
	}
	h := f.Handler
	f.mu.Unlock()
	if !ok && h != nil {
		return h(doc, id)
	}
	return r
}

// send records one command to ids and returns its ID and the per-instance failures.
func (f *Fake) send(doc, comment string, ids []string) (string, map[string]error) {
	responses := map[string]Response{}
	for _, id := range ids {
		responses[id] = f.response(id, doc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := fmt.Sprintf("%08x-0000-4000-8000-%012x", len(f.invocations)+1, len(f.calls))
	failed := map[string]error{}
	for _, id := range ids {
		if _, ok := f.online[id]; !ok {
			failed[id] = fmt.Errorf("send %s to %s: %w", doc, id, ssmcommand.ErrInvalidInstance)
			continue
		}
		f.invocations = append(f.invocations, &invocation{
			Command:  Command{ID: cmd, Document: doc, Comment: comment, InstanceID: id, SentAt: f.now()},
			response: responses[id],
		})
	}
	return cmd, failed
}

// now is the fake's time: Now's, or Clock's.
func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return clock.OrReal(f.Clock).Now()
}

func (f *Fake) result(inv *invocation) ssmcommand.Result {
	r := ssmcommand.Result{CommandID: inv.ID, Status: ssmcommand.StatusInProgress, ResponseCode: -1}
	if f.now().Before(inv.SentAt.Add(inv.response.Latency)) {
		return r
	}
	r.Stdout, r.Stderr, r.ResponseCode = inv.response.Stdout, inv.response.Stderr, inv.response.ExitCode
	switch {
	case inv.response.Status != "":
		r.Status = inv.response.Status
	case inv.response.ExitCode != 0:
		r.Status = ssmcommand.StatusFailed
	default:
		r.Status = ssmcommand.StatusSuccess
	}
	return r
}

func checkComment(doc, comment string) error {
	if doc == "" || len(comment) > 100 {
		return fmt.Errorf("send %s: %w: no document, or comment over 100 characters", doc, ssmcommand.ErrInvalid)
	}
	return nil
}

// Send implements ssmcommand.Client.Send.
func (f *Fake) Send(ctx context.Context, doc, instanceID, comment string) (string, error) {
	f.mu.Lock()
	err := f.begin("Send", doc, instanceID, comment)
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	if err := checkComment(doc, comment); err != nil {
		return "", err
	}
	cmd, failed := f.send(doc, comment, []string{instanceID})
	if err := failed[instanceID]; err != nil {
		return "", err
	}
	return cmd, nil
}

// Run implements ssmcommand.Client.Run: it waits, on f.Clock, until every invocation's latency
// has passed, opts.Wait has passed, or ctx ends.
func (f *Fake) Run(ctx context.Context, doc string, instanceIDs []string, opts ssmcommand.Options) (map[string]ssmcommand.Result, error) {
	f.mu.Lock()
	args := append([]string{doc, opts.Comment}, instanceIDs...)
	for _, k := range slices.Sorted(maps.Keys(opts.Parameters)) {
		args = append(args, k+"="+strings.Join(opts.Parameters[k], ","))
	}
	err := f.begin("Run", args...)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := checkComment(doc, opts.Comment); err != nil {
		return nil, err
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = ssmcommand.DefaultWait
	}
	ids := slices.Compact(slices.Sorted(slices.Values(instanceIDs)))
	cmd, failed := f.send(doc, opts.Comment, ids)
	results := map[string]ssmcommand.Result{}
	for id, err := range failed {
		results[id] = ssmcommand.Result{Status: ssmcommand.StatusUndeliverable, ResponseCode: -1, Err: err}
	}
	if len(failed) == len(ids) && len(ids) > 0 {
		return results, fmt.Errorf("run %s: %w", doc, failed[ids[0]])
	}
	clk := clock.OrReal(f.Clock)
	deadline := clk.NewTimer(wait)
	defer deadline.Stop()
	for {
		var next time.Duration
		f.mu.Lock()
		for _, inv := range f.invocations {
			if inv.ID != cmd {
				continue
			}
			r := f.result(inv)
			results[inv.InstanceID] = r
			if !r.Status.Terminal() {
				if d := inv.SentAt.Add(inv.response.Latency).Sub(f.now()); next == 0 || d < next {
					next = d
				}
			}
		}
		f.mu.Unlock()
		if next == 0 {
			return results, nil
		}
		timer := clk.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return results, fmt.Errorf("run %s: %w", doc, ctx.Err())
		case <-deadline.C():
			timer.Stop()
			for id, r := range results {
				if r.Err == nil && !r.Status.Terminal() {
					r.Err = fmt.Errorf("wait for %s on %s: %w", doc, id, ssmcommand.ErrWaitTimeout)
					results[id] = r
				}
			}
			return results, nil
		case <-timer.C():
		}
	}
}

// Invocation implements ssmcommand.Client.Invocation.
func (f *Fake) Invocation(ctx context.Context, commandID, instanceID string) (ssmcommand.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Invocation", commandID, instanceID); err != nil {
		return ssmcommand.Result{}, err
	}
	for _, inv := range f.invocations {
		if inv.ID == commandID && inv.InstanceID == instanceID {
			return f.result(inv), nil
		}
	}
	return ssmcommand.Result{CommandID: commandID, Status: ssmcommand.StatusPending, ResponseCode: -1}, nil
}

// Sent implements ssmcommand.Client.Sent.
func (f *Fake) Sent(ctx context.Context, instanceID, doc, comment string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Sent", instanceID, doc, comment); err != nil {
		return "", err
	}
	for _, inv := range f.invocations {
		if inv.InstanceID == instanceID && inv.Document == doc && inv.Comment == comment {
			return inv.ID, nil
		}
	}
	return "", nil
}

// Online implements ssmcommand.Client.Online.
func (f *Fake) Online(ctx context.Context, instanceIDs []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Online", instanceIDs...); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(instanceIDs))
	for _, id := range instanceIDs {
		out[id] = f.online[id]
	}
	return out, nil
}
