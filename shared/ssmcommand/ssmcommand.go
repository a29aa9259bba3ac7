// Package ssmcommand is rollwave's adapter for SSM Run Command: it runs a command document on
// instances and waits for the output, sends a command without waiting (the reboot), answers
// whether a command was already sent (so the reboot happens once per job, even across
// crashes) and reports which instances the SSM agent serves.
//
// The adapter owns the SendCommand limit of 50 instance IDs, the waiting for results (per round,
// one ListCommands walk that tells which commands ended when several wait, then one
// ListCommandInvocations walk per ended command, whatever the number of instances it went to;
// GetCommandInvocation only for an output SSM cut short), paging, error classification
// (errors.go) and the mapping to the plain types below.
package ssmcommand

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rollwave/rollwave/shared/clock"
)

// ssmAPI lists the SSM operations the adapter calls, with the SDK's signatures, so that
// *ssm.Client satisfies it.
type ssmAPI interface {
	SendCommand(ctx context.Context, params *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, params *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
	ListCommands(ctx context.Context, params *ssm.ListCommandsInput, optFns ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error)
	ListCommandInvocations(ctx context.Context, params *ssm.ListCommandInvocationsInput, optFns ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error)
	DescribeInstanceInformation(ctx context.Context, params *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

const (
	sendBatch       = 50  // SendCommand InstanceIds
	infoBatch       = 50  // DescribeInstanceInformation InstanceIds filter values and MaxResults
	listPage        = 50  // ListCommands and ListCommandInvocations MaxResults
	maxCommentChars = 100 // SendCommand Comment
	// pluginOutputChars is how much of a step's output ListCommandInvocations returns; a longer
	// output is read whole with GetCommandInvocation.
	pluginOutputChars = 2500
	// errorMarker separates stdout from stderr in a step's output as ListCommandInvocations
	// returns it.
	errorMarker = "\n----------ERROR-------\n"
)

// Defaults for the zero values of Options.
const (
	DefaultDeliveryTimeout = 10 * time.Minute // the original updater's 600 s (its PR #85)
	DefaultWait            = 30 * time.Minute // above the documents' 1800 s execution timeout
	DefaultPollInterval    = 2 * time.Second
)

// Status is the state of one invocation: SSM's invocation status, or its more precise status
// detail when that is terminal (Undeliverable, DeliveryTimedOut, ExecutionTimedOut, …).
type Status string

// Invocation statuses.
const (
	StatusPending           Status = "Pending"
	StatusInProgress        Status = "InProgress"
	StatusDelayed           Status = "Delayed"
	StatusSuccess           Status = "Success"
	StatusFailed            Status = "Failed"
	StatusTimedOut          Status = "TimedOut"
	StatusCancelled         Status = "Cancelled"
	StatusCancelling        Status = "Cancelling"
	StatusUndeliverable     Status = "Undeliverable"
	StatusDeliveryTimedOut  Status = "DeliveryTimedOut"
	StatusExecutionTimedOut Status = "ExecutionTimedOut"
	StatusTerminated        Status = "Terminated"
	StatusInvalidPlatform   Status = "InvalidPlatform"
	StatusAccessDenied      Status = "AccessDenied"
)

// Terminal reports whether an invocation in status s will not change any more.
func (s Status) Terminal() bool {
	switch s {
	case StatusSuccess, StatusFailed, StatusTimedOut, StatusCancelled, StatusUndeliverable,
		StatusDeliveryTimedOut, StatusExecutionTimedOut, StatusTerminated, StatusInvalidPlatform, StatusAccessDenied:
		return true
	}
	return false
}

// statusOf picks the detail when it is terminal and more precise than the status.
func statusOf(status types.CommandInvocationStatus, details *string) Status {
	if d := Status(aws.ToString(details)); d.Terminal() && d != StatusSuccess {
		return d
	}
	return Status(status)
}

// Result is the outcome of one invocation on one instance.
type Result struct {
	CommandID    string
	Status       Status
	ResponseCode int // the exit code of the shell command; -1 while it has none
	Stdout       string
	Stderr       string
	// Err is set when the command was not sent to the instance (ErrInvalidInstance, …) or
	// its status could not be learnt before the wait ended (ErrWaitTimeout, …).
	Err error
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.Status == StatusSuccess && r.ResponseCode == 0 }

// Options tune Run. The zero value uses the defaults above.
type Options struct {
	// Comment is stored with the command (at most 100 characters); Sent looks it up.
	Comment string
	// DeliveryTimeout is SendCommand's TimeoutSeconds: how long SSM tries to reach an
	// instance that is not connected.
	DeliveryTimeout time.Duration
	// Wait bounds how long Run waits for every invocation to finish.
	Wait time.Duration
	// Expected is how long the command typically takes, from its send to its end on the
	// instance (the delivery included): Run looks first when it has passed, because a look
	// before finds the command still running. 0 looks first after PollInterval.
	Expected time.Duration
	// PollInterval is the pause between two looks at the command's invocations after the first
	// (one ListCommandInvocations walk per command, however many instances it went to; when
	// several commands wait, one ListCommands walk per 50 commands first, and a walk only of
	// those that ended, then of every one at the Wait's end): it
	// doubles after each look that finds the command still running, up to the larger of
	// PollInterval and a quarter of Expected, so that a command slower than usual costs a few
	// looks more, not one per PollInterval.
	PollInterval time.Duration
	// Parameters are the document's parameters (SendCommand Parameters), e.g. the version of
	// the version-lock document; nil for documents without any.
	Parameters map[string][]string
}

func (o Options) withDefaults() Options {
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Expected < 0 {
		o.Expected = 0
	}
	return o
}

// pollSchedule is when Run looks at a command's invocations: first at Expected (or after
// PollInterval without one), then at gaps that start at PollInterval and double up to
// max(PollInterval, Expected/4).
type pollSchedule struct {
	first, gap, max time.Duration
	looked          bool
}

func newPollSchedule(o Options) *pollSchedule {
	first := o.Expected
	if first <= 0 {
		first = o.PollInterval
	}
	return &pollSchedule{first: first, gap: o.PollInterval, max: max(o.PollInterval, o.Expected/4)}
}

// next returns the wait before the next look.
func (p *pollSchedule) next() time.Duration {
	if !p.looked {
		p.looked = true
		return p.first
	}
	d := p.gap
	p.gap = min(p.gap*2, p.max)
	return d
}

// NextLook returns how long after elapsed, the time since a command was sent, Run's schedule looks
// at it next (pollSchedule): for a caller that sent the command with Send and looks at it itself
// with Invocation, from a message that comes back, rather than from a goroutine that waits.
func (o Options) NextLook(elapsed time.Duration) time.Duration {
	s := newPollSchedule(o.withDefaults())
	at := s.next()
	for at <= elapsed {
		if s.gap == s.max { // even gaps from here on
			at += ((elapsed-at)/s.max + 1) * s.max
			break
		}
		at += s.next()
	}
	return at - elapsed
}

// Client is the SSM Run Command adapter. It is safe for concurrent use.
type Client struct {
	// Clock times Run's wait and its looks at the command; nil is clock.Real. Set it before use.
	Clock clock.Clock

	api ssmAPI
}

// New returns a Client that calls SSM through api, normally an *ssm.Client.
func New(api *ssm.Client) *Client { return &Client{api: api} }

func newClient(api ssmAPI) *Client { return &Client{api: api} }

func validComment(doc, comment string) error {
	if doc == "" {
		return fmt.Errorf("send command: %w: no document", ErrInvalid)
	}
	if len(comment) > maxCommentChars {
		return fmt.Errorf("send %s: %w: comment is %d characters, at most %d", doc, ErrInvalid, len(comment), maxCommentChars)
	}
	return nil
}

// send sends doc to ids and returns the command's ID and when SSM says it was requested (by SSM's
// clock; zero when SSM does not say).
func (c *Client) send(ctx context.Context, doc string, ids []string, comment string, delivery time.Duration, params map[string][]string) (string, time.Time, error) {
	in := &ssm.SendCommandInput{
		DocumentName:    aws.String(doc),
		DocumentVersion: aws.String("$DEFAULT"),
		InstanceIds:     ids,
		TimeoutSeconds:  aws.Int32(int32(max(delivery, 30*time.Second) / time.Second)),
		Parameters:      params,
	}
	if comment != "" {
		in.Comment = aws.String(comment)
	}
	out, err := c.api.SendCommand(ctx, in)
	if err != nil {
		return "", time.Time{}, classify(err)
	}
	return aws.ToString(out.Command.CommandId), aws.ToTime(out.Command.RequestedDateTime), nil
}

// Send sends doc to one instance with comment and returns the command ID without waiting for
// the result: for the reboot, whose invocation may never report back because the host goes
// down under it (pair it with Sent to send at most once), and for a command whose caller looks
// at it later with Invocation instead of holding a goroutine while it runs (the apply).
func (c *Client) Send(ctx context.Context, doc, instanceID, comment string) (string, error) {
	if err := validComment(doc, comment); err != nil {
		return "", err
	}
	id, _, err := c.send(ctx, doc, []string{instanceID}, comment, DefaultDeliveryTimeout, nil)
	if err != nil {
		return "", fmt.Errorf("send %s to %s: %w", doc, instanceID, err)
	}
	return id, nil
}

// Run sends doc to every instance in instanceIDs (in batches of 50, SSM's limit) and waits
// until every invocation reaches a terminal status, looking at each command's invocations with
// ListCommandInvocations first when opts.Expected has passed, then at growing gaps from
// opts.PollInterval (Options), for at most opts.Wait. The cost of a wait is, per look, one
// ListCommands call per 50 commands (when more than one waits), and one ListCommandInvocations
// walk per command (50 instances) once it has ended: not one per instance, nor per command and
// look, and it depends on how long the commands take beyond their expected duration, not on how
// long they take.
//
// The result holds one entry per distinct instance ID. An instance that could not be sent the
// command (for example ErrInvalidInstance: a batch with an unmanaged instance is re-sent one
// instance at a time so the others still run) or whose status was not learnt in time
// (ErrWaitTimeout) has Result.Err set. Run returns an error only when no command could be sent
// at all, or when ctx ends (then with the results learnt so far).
func (c *Client) Run(ctx context.Context, doc string, instanceIDs []string, opts Options) (map[string]Result, error) {
	if err := validComment(doc, opts.Comment); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	clk := clock.OrReal(c.Clock)
	deadline := clk.NewTimer(opts.Wait)
	defer deadline.Stop()

	ids := slices.Compact(slices.Sorted(slices.Values(instanceIDs)))
	results := make(map[string]Result, len(ids))
	requested := map[string]time.Time{} // command ID -> when SSM says it was requested
	var (
		sent     int
		firstErr error
	)
	for batch := range slices.Chunk(ids, sendBatch) {
		for id, r := range c.sendBatch(ctx, doc, batch, opts, requested) {
			results[id] = r
			if r.Err == nil {
				sent++
			} else if firstErr == nil {
				firstErr = r.Err
			}
		}
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("run %s: %w", doc, err)
		}
	}
	if sent == 0 && firstErr != nil {
		return results, fmt.Errorf("run %s: %w", doc, firstErr)
	}

	schedule := newPollSchedule(opts)
	look := clk.NewTimer(schedule.next())
	defer look.Stop()
	for {
		select {
		case <-ctx.Done():
			return results, fmt.Errorf("run %s: %w", doc, ctx.Err())
		case <-deadline.C():
			// A last look at every command the listing may have held back: a command still
			// running as a whole (one instance that never answers) holds the results of the
			// others, which have ended and must not be lost to the timeout. One command alone
			// was walked at the last look already.
			if len(waitingCommands(results)) > 1 {
				if _, err := c.poll(ctx, doc, nil, results); err != nil {
					return results, fmt.Errorf("run %s: %w", doc, err)
				}
			}
			for id, r := range results {
				if r.Err == nil && !r.Status.Terminal() {
					r.Err = fmt.Errorf("wait for %s on %s (last status %s): %w", doc, id, r.Status, ErrWaitTimeout)
					results[id] = r
				}
			}
			return results, nil
		case <-look.C():
		}
		pending, err := c.poll(ctx, doc, requested, results)
		if ctx.Err() != nil {
			return results, fmt.Errorf("run %s: %w", doc, ctx.Err())
		}
		if err != nil {
			return results, fmt.Errorf("run %s: %w", doc, err)
		}
		if pending == 0 {
			return results, nil
		}
		look.Reset(schedule.next())
	}
}

// poll brings every result that is still waiting up to date, one ListCommandInvocations walk per
// command, and returns how many are still not terminal. When several commands wait, one
// ListCommands walk first tells which of them still run (running): those are not walked this
// round, so that a look costs a call per 50 commands, not one per command, and each command is
// walked about once, when it has ended; without requested, every command is walked. A transient
// error leaves a command's results as they were, to be looked at again; a permanent one ends them
// with it.
func (c *Client) poll(ctx context.Context, doc string, requested map[string]time.Time, results map[string]Result) (pending int, err error) {
	waiting := waitingCommands(results)
	if len(waiting) > 1 {
		for _, cmd := range c.running(ctx, doc, requested, waiting) {
			pending += len(waiting[cmd])
			delete(waiting, cmd)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	for _, cmd := range slices.Sorted(maps.Keys(waiting)) {
		ids := waiting[cmd]
		invs, err := c.invocations(ctx, cmd)
		switch {
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case err != nil && IsTransient(err):
			pending += len(ids)
			continue
		case err != nil:
			for _, id := range ids {
				r := results[id]
				r.Err = err
				results[id] = r
			}
			continue
		}
		for _, id := range ids {
			r, listed := invs[id]
			if listed && r.Status.Terminal() && r.truncated {
				full, err := c.Invocation(ctx, cmd, id)
				if err != nil {
					if ctx.Err() != nil {
						return 0, ctx.Err()
					}
					pending++ // looked at again next round
					continue
				}
				r = invocation{Result: full}
			}
			if listed {
				results[id] = r.Result
			}
			if !results[id].Status.Terminal() {
				pending++
			}
		}
	}
	return pending, nil
}

// waitingCommands returns, by command ID, the instances of results still waiting for it.
func waitingCommands(results map[string]Result) map[string][]string {
	waiting := map[string][]string{}
	for id, r := range results {
		if r.Err == nil && !r.Status.Terminal() {
			waiting[r.CommandID] = append(waiting[r.CommandID], id)
		}
	}
	return waiting
}

// running returns the commands of waiting that a ListCommands walk shows still running: of
// document doc, requested since the earliest of them (requested, by SSM's clock), newest first,
// until every waiting command was seen. A command the walk does not show, or whose request time
// is unknown, is not returned, and neither is any when the walk fails: its invocations are
// walked as before, so the listing only ever saves calls.
func (c *Client) running(ctx context.Context, doc string, requested map[string]time.Time, waiting map[string][]string) []string {
	var since time.Time
	for cmd := range waiting {
		if t, ok := requested[cmd]; ok && !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	if since.IsZero() {
		return nil
	}
	in := &ssm.ListCommandsInput{
		Filters: []types.CommandFilter{
			{Key: types.CommandFilterKeyDocumentName, Value: aws.String(doc)},
			{Key: types.CommandFilterKeyInvokedAfter, Value: aws.String(since.Add(-time.Second).UTC().Format(time.RFC3339))},
		},
		MaxResults: aws.Int32(listPage),
	}
	var out []string
	seen := 0
	for seen < len(waiting) {
		page, err := c.api.ListCommands(ctx, in)
		if err != nil {
			return nil
		}
		for _, cmd := range page.Commands {
			id := aws.ToString(cmd.CommandId)
			if _, ok := waiting[id]; !ok {
				continue
			}
			seen++
			if !commandEnded(cmd) {
				out = append(out, id)
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	return out
}

// commandEnded reports whether every invocation of a listed command has ended.
func commandEnded(cmd types.Command) bool {
	switch cmd.Status {
	case types.CommandStatusPending, types.CommandStatusInProgress, types.CommandStatusCancelling:
		return cmd.TargetCount > 0 && cmd.CompletedCount >= cmd.TargetCount
	}
	return true
}

// invocation is one instance's invocation as ListCommandInvocations shows it; truncated is set
// when SSM cut its output short.
type invocation struct {
	Result
	truncated bool
}

// invocations lists every invocation of commandID with its output, by instance ID. Instances SSM
// does not list yet (right after SendCommand) are simply absent.
func (c *Client) invocations(ctx context.Context, commandID string) (map[string]invocation, error) {
	in := &ssm.ListCommandInvocationsInput{CommandId: aws.String(commandID), Details: true, MaxResults: aws.Int32(listPage)}
	out := map[string]invocation{}
	for {
		page, err := c.api.ListCommandInvocations(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list invocations of %s: %w", commandID, classify(err))
		}
		for _, inv := range page.CommandInvocations {
			out[aws.ToString(inv.InstanceId)] = invocationFrom(commandID, inv)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// invocationFrom maps a listed invocation: rollwave's documents have one step, whose output holds
// stdout and, after SSM's error marker, stderr.
func invocationFrom(commandID string, inv types.CommandInvocation) invocation {
	r := Result{CommandID: commandID, Status: statusOf(inv.Status, inv.StatusDetails), ResponseCode: -1}
	var output string
	for _, p := range inv.CommandPlugins {
		r.ResponseCode = int(p.ResponseCode)
		output = aws.ToString(p.Output)
	}
	r.Stdout, r.Stderr, _ = strings.Cut(output, errorMarker)
	return invocation{Result: r, truncated: len(output) >= pluginOutputChars}
}

// sendBatch sends doc to ids in one call; when SSM rejects the call because of an instance ID,
// it sends to each instance alone so that one unmanaged instance does not stop the others.
func (c *Client) sendBatch(ctx context.Context, doc string, ids []string, opts Options, requested map[string]time.Time) map[string]Result {
	out := make(map[string]Result, len(ids))
	cmd, at, err := c.send(ctx, doc, ids, opts.Comment, opts.DeliveryTimeout, opts.Parameters)
	if err == nil {
		requested[cmd] = at
		for _, id := range ids {
			out[id] = Result{CommandID: cmd, Status: StatusPending, ResponseCode: -1}
		}
		return out
	}
	if len(ids) > 1 && errors.Is(err, ErrInvalidInstance) {
		for _, id := range ids {
			for k, v := range c.sendBatch(ctx, doc, []string{id}, opts, requested) {
				out[k] = v
			}
		}
		return out
	}
	for _, id := range ids {
		out[id] = Result{Status: StatusUndeliverable, ResponseCode: -1, Err: fmt.Errorf("send %s to %s: %w", doc, id, err)}
	}
	return out
}

// Invocation returns the current state of the invocation of commandID on instanceID, without
// waiting. An invocation SSM does not know yet (right after SendCommand) is StatusPending.
func (c *Client) Invocation(ctx context.Context, commandID, instanceID string) (Result, error) {
	out, err := c.api.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
		CommandId:  aws.String(commandID),
		InstanceId: aws.String(instanceID),
	})
	if err != nil {
		err = classify(err)
		if errors.Is(err, errInvocationNotYet) {
			return Result{CommandID: commandID, Status: StatusPending, ResponseCode: -1}, nil
		}
		return Result{}, fmt.Errorf("get invocation %s on %s: %w", commandID, instanceID, err)
	}
	return Result{
		CommandID:    commandID,
		Status:       statusOf(out.Status, out.StatusDetails),
		ResponseCode: int(out.ResponseCode),
		Stdout:       aws.ToString(out.StandardOutputContent),
		Stderr:       aws.ToString(out.StandardErrorContent),
	}, nil
}

// Sent returns the ID of a command of document doc with exactly this comment already sent to
// instanceID, whatever its status, within SSM's command history (30 days), or "" when there is
// none. Together with a comment that names the job, it makes sending the reboot idempotent across
// crashes, and lets a copy of a staging job find the apply another copy sent.
func (c *Client) Sent(ctx context.Context, instanceID, doc, comment string) (string, error) {
	in := &ssm.ListCommandsInput{
		InstanceId: aws.String(instanceID),
		Filters:    []types.CommandFilter{{Key: types.CommandFilterKeyDocumentName, Value: aws.String(doc)}},
		MaxResults: aws.Int32(listPage),
	}
	for {
		out, err := c.api.ListCommands(ctx, in)
		if err != nil {
			return "", fmt.Errorf("list commands of %s on %s: %w", doc, instanceID, classify(err))
		}
		for _, cmd := range out.Commands {
			if aws.ToString(cmd.Comment) == comment && aws.ToString(cmd.DocumentName) == doc {
				return aws.ToString(cmd.CommandId), nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return "", nil
		}
		in.NextToken = out.NextToken
	}
}

// Online reports, for every instance in instanceIDs, whether its SSM agent is connected
// (PingStatus Online). An instance SSM does not know is reported false.
func (c *Client) Online(ctx context.Context, instanceIDs []string) (map[string]bool, error) {
	online := make(map[string]bool, len(instanceIDs))
	for _, id := range instanceIDs {
		online[id] = false
	}
	for batch := range slices.Chunk(instanceIDs, infoBatch) {
		if err := c.online(ctx, batch, online); err != nil {
			return nil, err
		}
	}
	return online, nil
}

// online fills online for ids. SSM refuses a filter naming an instance it does not know with
// InvalidInstanceId: then each instance is asked about alone, and the unknown one stays false.
func (c *Client) online(ctx context.Context, ids []string, online map[string]bool) error {
	in := &ssm.DescribeInstanceInformationInput{
		Filters:    []types.InstanceInformationStringFilter{{Key: aws.String(string(types.InstanceInformationFilterKeyInstanceIds)), Values: ids}},
		MaxResults: aws.Int32(infoBatch),
	}
	for {
		out, err := c.api.DescribeInstanceInformation(ctx, in)
		if err != nil {
			err = classify(err)
			if errors.Is(err, ErrInvalidInstance) {
				if len(ids) == 1 {
					return nil
				}
				for _, id := range ids {
					if err := c.online(ctx, []string{id}, online); err != nil {
						return err
					}
				}
				return nil
			}
			return fmt.Errorf("describe instance information: %w", err)
		}
		for _, info := range out.InstanceInformationList {
			online[aws.ToString(info.InstanceId)] = info.PingStatus == types.PingStatusOnline
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// Past is a finished invocation read back from SSM's command history.
type Past struct {
	Result
	// RequestedAt is when the command was sent: what its output says was true then.
	RequestedAt time.Time
}

// Latest returns, for each of instanceIDs, the newest invocation of document doc that succeeded
// on it, within SSM's command history (30 days); an instance with none is absent. It only reads
// (ListCommands, ListCommandInvocations, and GetCommandInvocation for an output that listing cut
// short), so it learns what the document said last without running anything on the hosts: the
// scanner runs the update check on every candidate at each scan, so its newest output is the
// fleet's versions and offered updates as of that scan.
func (c *Client) Latest(ctx context.Context, doc string, instanceIDs []string) (map[string]Past, error) {
	want := make(map[string]bool, len(instanceIDs))
	for _, id := range instanceIDs {
		want[id] = true
	}
	found := make(map[string]Past, len(instanceIDs))
	in := &ssm.ListCommandsInput{
		Filters:    []types.CommandFilter{{Key: types.CommandFilterKeyDocumentName, Value: aws.String(doc)}},
		MaxResults: aws.Int32(listPage),
	}
	for len(found) < len(want) {
		out, err := c.api.ListCommands(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list commands of %s: %w", doc, classify(err))
		}
		// SSM lists the newest first; sorting keeps that true whatever the page's order.
		cmds := slices.SortedStableFunc(slices.Values(out.Commands), func(a, b types.Command) int {
			return aws.ToTime(b.RequestedDateTime).Compare(aws.ToTime(a.RequestedDateTime))
		})
		for _, cmd := range cmds {
			if aws.ToString(cmd.DocumentName) != doc || !slices.ContainsFunc(cmd.InstanceIds, func(id string) bool { return want[id] && !hasKey(found, id) }) {
				continue
			}
			id := aws.ToString(cmd.CommandId)
			invs, err := c.invocations(ctx, id)
			if err != nil {
				return nil, err
			}
			for instance, inv := range invs {
				if !want[instance] || hasKey(found, instance) || inv.Status != StatusSuccess {
					continue
				}
				r := inv.Result
				if inv.truncated {
					if r, err = c.Invocation(ctx, id, instance); err != nil {
						return nil, err
					}
				}
				found[instance] = Past{Result: r, RequestedAt: aws.ToTime(cmd.RequestedDateTime)}
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return found, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
