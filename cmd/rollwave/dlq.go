package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

const queueArgHelp = `QUEUE names a pipeline queue by its short name (scanner, patcher, reboot, drainer, verifier,
drainer-events, verifier-events), its full name (rollwave-patcher) or its dead-letter queue's
name (rollwave-patcher-dlq); the command works on that queue's dead-letter queue.`

var dlqListCommand = command{
	name:    "dlq list",
	summary: "count the dead letters of every queue and the age of the oldest",
	usage:   "[-o text|json|table] [--query Q]",
	help: `
Lists every pipeline queue's dead-letter queue (<queue>-dlq) with the number of messages in it
and the age of the oldest one. A message lands there when a worker could not handle it: it was
malformed, or a transient error outlasted the queue's receives. 'rollwave dlq show QUEUE' says why.

Examples:
  rollwave dlq list
  rollwave dlq list -o json | jq '.[] | select(.messages > 0)'
`,
	run: runDLQList,
}

var dlqShowCommand = command{
	name:    "dlq show",
	summary: "show the dead letters of a queue: why each failed, its attempts, its job",
	usage:   "QUEUE [--max N] [-o text|json|table] [--query Q]",
	help: `
Shows up to --max messages of QUEUE's dead-letter queue, each with the reason the worker gave
(rollwave.reason), the queue it came from, how often it was received, when it failed, and its
job summarised (or its body, when it is not a job). The messages stay where they are: they are
hidden from other readers for a few seconds while they are read, then released.

` + queueArgHelp + `

Examples:
  rollwave dlq show patcher
  rollwave dlq show rollwave-drainer-dlq --max 50 -o json
`,
	run: runDLQShow,
}

var dlqRedriveCommand = command{
	name:    "dlq redrive",
	summary: "send dead letters back to the queue they came from",
	usage:   "QUEUE (--all | --message-id ID ...) [--max N] [-o text|json|table] [--query Q]",
	help: `
Sends each chosen message of QUEUE's dead-letter queue back to its source queue (the queue
named by its rollwave.source-queue attribute, else QUEUE itself), exactly as it was, and deletes
it from the dead-letter queue only after the send succeeded: a failure leaves it in the
dead-letter queue, never lost. Fix the cause first ('rollwave dlq show'), or the job comes back.

` + queueArgHelp + `

Exit code 3 when a --message-id is not in the dead-letter queue (the others are redriven).

Examples:
  rollwave dlq redrive patcher --all
  rollwave dlq redrive drainer --message-id 5f0c7a52-3c1e-4a8e-9b1d-2f6d8e4c7a10
`,
	run: runDLQRedrive,
}

var dlqPurgeCommand = command{
	name:    "dlq purge",
	summary: "delete every message of a dead-letter queue",
	usage:   "QUEUE [--yes] [-o text|json|table] [--query Q]",
	help: `
Deletes every message of QUEUE's dead-letter queue (SQS PurgeQueue; SQS allows one purge per
queue every 60 seconds). On a terminal it asks first; otherwise it refuses without --yes.

` + queueArgHelp + `

Examples:
  rollwave dlq purge verifier-events
  rollwave dlq purge rollwave-verifier-events-dlq --yes
`,
	run: runDLQPurge,
}

// dlqArg finds the topology queue that arg names (see queueArgHelp).
func (a *app) dlqArg(c command, args []string) (topology.Queue, error) {
	if len(args) != 1 {
		return topology.Queue{}, usagef("%s needs exactly one QUEUE, got %d arguments", c.name, len(args))
	}
	t := a.topology()
	var names []string
	for _, q := range t.Queues {
		if args[0] == q.Logical || args[0] == q.Name || args[0] == q.DeadLetter.Name {
			return q, nil
		}
		names = append(names, q.Logical)
	}
	return topology.Queue{}, usagef("%s: no queue %q under prefix %q; the queues are %s", c.name, args[0], a.prefix, strings.Join(names, ", "))
}

// deadLetter is one message of a dead-letter queue.
type deadLetter struct {
	ID           string            `json:"messageId"`
	Reason       string            `json:"reason,omitempty"`
	SourceQueue  string            `json:"sourceQueue,omitempty"`
	ReceiveCount int               `json:"receiveCount,omitempty"`
	FailedAt     string            `json:"failedAt,omitempty"`
	SentAt       time.Time         `json:"deadLetteredAt"`
	Job          *update.Job       `json:"job,omitempty"`
	Body         string            `json:"body"`
	Attributes   map[string]string `json:"attributes,omitempty"`

	receipt string
}

// peek receives up to max messages of the queue at url, hiding each for hide so that a second
// receive does not return it again. The caller deletes or releases them.
func (a *app) peek(ctx context.Context, url string, max int, hide time.Duration) ([]deadLetter, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	var out []deadLetter
	seen := map[string]bool{}
	for len(out) < max {
		r, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(url),
			MaxNumberOfMessages:   int32(min(10, max-len(out))),
			VisibilityTimeout:     int32(hide / time.Second),
			WaitTimeSeconds:       1,
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
				sqstypes.MessageSystemAttributeNameSentTimestamp, sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
			},
		})
		if err != nil {
			return out, fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(r.Messages) == 0 {
			break
		}
		for _, m := range r.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, deadLetterFrom(m))
		}
	}
	return out, nil
}

func deadLetterFrom(m sqstypes.Message) deadLetter {
	d := deadLetter{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), receipt: aws.ToString(m.ReceiptHandle)}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		d.SentAt = time.UnixMilli(ms).UTC()
	}
	for k, v := range m.MessageAttributes {
		if v.StringValue == nil {
			continue
		}
		switch k {
		case queue.AttrReason:
			d.Reason = *v.StringValue
		case queue.AttrSourceQueue:
			d.SourceQueue = *v.StringValue
		case queue.AttrReceiveCount:
			d.ReceiveCount, _ = strconv.Atoi(*v.StringValue)
		case queue.AttrFailedAt:
			d.FailedAt = *v.StringValue
		case queue.AttrFailures:
			// Left by SQS's own redrive policy: a redriven job starts with the whole retry budget.
		default:
			if d.Attributes == nil {
				d.Attributes = map[string]string{}
			}
			d.Attributes[k] = *v.StringValue
		}
	}
	if d.ReceiveCount == 0 {
		// Moved by SQS's own redrive policy rather than by a worker: the copy's count includes
		// the receives on the source queue.
		d.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	}
	if j, err := update.Decode([]byte(d.Body)); err == nil {
		d.Job = &j
	}
	return d
}

// release makes messages visible again at once.
func (a *app) release(ctx context.Context, url string, msgs []deadLetter) {
	for _, m := range msgs {
		_, err := a.clients.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0,
		})
		if err != nil {
			fmt.Fprintf(a.stderr, "warning: message %s stays hidden until its visibility timeout: %v\n", m.ID, err)
		}
	}
}

type dlqCount struct {
	Queue      string    `json:"queue"`
	DeadLetter string    `json:"deadLetterQueue"`
	Messages   int       `json:"messages"`
	InFlight   int       `json:"inFlight"`
	Oldest     time.Time `json:"oldest,omitzero"`
	OldestAge  string    `json:"oldestAge,omitempty"`
}

// queueCounts returns ApproximateNumberOfMessages, ...NotVisible and ...Delayed of url.
func (a *app) queueCounts(ctx context.Context, url string) (visible, inFlight, delayed int, err error) {
	out, err := a.clients.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("get attributes of %s: %w", url, err)
	}
	n := func(k sqstypes.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(k)]); return v }
	return n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed), nil
}

// oldestPeek bounds how many messages dlq list reads to find the oldest.
const oldestPeek = 100

func runDLQList(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	out := a.outputFlags(fs)
	if err := a.parseNoArgs(c, fs, args); err != nil {
		return err
	}
	now := time.Now()
	var rows []dlqCount
	for _, q := range a.topology().Queues {
		url, err := a.queueURL(ctx, q.DeadLetter.Name)
		if err != nil {
			return err
		}
		visible, inFlight, _, err := a.queueCounts(ctx, url)
		if err != nil {
			return err
		}
		row := dlqCount{Queue: q.Name, DeadLetter: q.DeadLetter.Name, Messages: visible, InFlight: inFlight}
		if visible > 0 {
			msgs, err := a.peek(ctx, url, oldestPeek, 10*time.Second)
			a.release(ctx, url, msgs)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				if row.Oldest.IsZero() || m.SentAt.Before(row.Oldest) {
					row.Oldest = m.SentAt
				}
			}
			if !row.Oldest.IsZero() {
				row.OldestAge = age(now.Sub(row.Oldest))
			}
		}
		rows = append(rows, row)
	}
	return a.emit(out, rows, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tDEAD-LETTER QUEUE\tMESSAGES\tOLDEST")
		for _, r := range rows {
			oldest := "-"
			if r.OldestAge != "" {
				oldest = r.OldestAge + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Queue, r.DeadLetter, r.Messages, oldest)
		}
		tw.Flush()
	})
}

func runDLQShow(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	max := fs.Int("max", 10, "show at most N messages")
	out := a.outputFlags(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	q, err := a.dlqArg(c, args)
	if err != nil {
		return err
	}
	if *max < 1 {
		return usagef("%s: --max must be at least 1", c.name)
	}
	url, err := a.queueURL(ctx, q.DeadLetter.Name)
	if err != nil {
		return err
	}
	msgs, err := a.peek(ctx, url, *max, 10*time.Second)
	a.release(ctx, url, msgs)
	if err != nil {
		return err
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].SentAt.Before(msgs[j].SentAt) })
	if msgs == nil {
		msgs = []deadLetter{}
	}
	return a.emit(out, msgs, func(w io.Writer) { printDeadLetters(w, q, msgs) })
}

func printDeadLetters(w io.Writer, q topology.Queue, msgs []deadLetter) {
	if len(msgs) == 0 {
		fmt.Fprintf(w, "%s is empty\n", q.DeadLetter.Name)
		return
	}
	now := time.Now()
	for i, m := range msgs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "message %s, dead-lettered %s ago (%s)\n", m.ID, age(now.Sub(m.SentAt)), m.SentAt.Format(time.RFC3339))
		field := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "  %-13s %s\n", k+":", v)
			}
		}
		field("reason", orDefault(m.Reason, "(none recorded: moved by the queue's redrive policy after too many receives)"))
		field("source queue", orDefault(m.SourceQueue, q.Name))
		if m.ReceiveCount > 0 {
			field("receives", strconv.Itoa(m.ReceiveCount))
		}
		field("failed at", m.FailedAt)
		if m.Job != nil {
			field("job", summarizeJob(*m.Job))
		} else {
			field("body", truncate(m.Body, 400))
		}
	}
	fmt.Fprintf(w, "\n%d message(s). Redrive with: rollwave dlq redrive %s --all (or --message-id ID)\n", len(msgs), q.Logical)
}

// summarizeJob says in one line what a job is and how far it got.
func summarizeJob(j update.Job) string {
	s := fmt.Sprintf("%s: %s in %s at step %s", orDefault(j.ID, "(no id)"), j.Instance, j.Cluster, orDefault(string(j.Step), "stage"))
	if j.TargetVersion != "" {
		s += ", target " + j.TargetVersion
	}
	if j.DryRun {
		s += ", dry run"
	}
	s += fmt.Sprintf(", requested by %s: %q", j.RequestedBy, j.Reason)
	if j.Outcome != nil {
		s += fmt.Sprintf(", ended %s (%s)", j.Outcome.Result, j.Outcome.Code)
	}
	return s
}

// redriveHide is how long redrive hides the messages it read while it works on them.
const redriveHide = 60 * time.Second

func runDLQRedrive(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var ids stringList
	fs.Var(&ids, "message-id", "redrive the message with this ID (repeatable, or comma-separated)")
	all := fs.Bool("all", false, "redrive every message")
	max := fs.Int("max", 1000, "read at most N messages of the dead-letter queue")
	out := a.outputFlags(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	q, err := a.dlqArg(c, args)
	if err != nil {
		return err
	}
	switch {
	case *all && len(ids) > 0:
		return usagef("%s: give --all or --message-id, not both", c.name)
	case !*all && len(ids) == 0:
		return usagef("%s: say which messages: --all, or --message-id ID (see 'rollwave dlq show %s')", c.name, q.Logical)
	}
	url, err := a.queueURL(ctx, q.DeadLetter.Name)
	if err != nil {
		return err
	}
	started := time.Now()
	msgs, err := a.peek(ctx, url, *max, redriveHide)
	if err != nil {
		a.release(ctx, url, msgs)
		return err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var chosen, rest []deadLetter
	for _, m := range msgs {
		// A message dead-lettered after we started (a redriven job failing again) waits for
		// the next redrive, so that this one ends.
		if (*all && !m.SentAt.After(started)) || want[m.ID] {
			chosen = append(chosen, m)
			delete(want, m.ID)
		} else {
			rest = append(rest, m)
		}
	}
	a.release(ctx, url, rest)

	var failed []string
	res := redriveResult{DeadLetterQueue: q.DeadLetter.Name, Redriven: []redriven{}, Failed: []string{}}
	for i, m := range chosen {
		target := orDefault(m.SourceQueue, q.Name)
		if err := a.redrive(ctx, url, target, m); err != nil {
			fmt.Fprintf(a.stderr, "message %s: %v\n", m.ID, err)
			failed = append(failed, m.ID)
			a.release(ctx, url, chosen[i:i+1])
			continue
		}
		r := redriven{MessageID: m.ID, Queue: target}
		if m.Job != nil {
			r.JobID = m.Job.ID
		}
		res.Redriven = append(res.Redriven, r)
	}
	res.Failed = append(res.Failed, failed...)
	if err := a.emit(out, res, func(w io.Writer) {
		for _, r := range res.Redriven {
			what := "message"
			if r.JobID != "" {
				what = "job " + r.JobID
			}
			fmt.Fprintf(w, "redrove %s (message %s) to %s\n", what, r.MessageID, r.Queue)
		}
		fmt.Fprintf(w, "%d of %d message(s) redriven from %s\n", len(chosen)-len(failed), len(chosen), q.DeadLetter.Name)
	}); err != nil {
		return err
	}
	if len(want) > 0 {
		var missing []string
		for id := range want {
			missing = append(missing, id)
		}
		sort.Strings(missing)
		return notFoundf("%s: no message %s in %s", c.name, strings.Join(missing, ", "), q.DeadLetter.Name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: %d message(s) not redriven, still in %s: %s", c.name, len(failed), q.DeadLetter.Name, strings.Join(failed, ", "))
	}
	return nil
}

// redriveResult is the document of dlq redrive -o json.
type redriveResult struct {
	DeadLetterQueue string     `json:"deadLetterQueue"`
	Redriven        []redriven `json:"redriven"`
	// Failed are the IDs of the messages left in the dead-letter queue.
	Failed []string `json:"failed"`
}

type redriven struct {
	MessageID string `json:"messageId"`
	JobID     string `json:"jobId,omitempty"`
	Queue     string `json:"queue"`
}

// redrive sends m to the queue named target as it was (body and its own attributes, without
// the dead-letter attributes) and deletes it from the dead-letter queue only then.
func (a *app) redrive(ctx context.Context, dlqURL, target string, m deadLetter) error {
	url, err := a.queueURL(ctx, target)
	if err != nil {
		return err
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.Attributes {
		attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	if _, err := a.clients.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String(m.Body), MessageAttributes: attrs,
	}); err != nil {
		return fmt.Errorf("send to %s: %w (left in the dead-letter queue)", target, err)
	}
	if _, err := a.clients.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlqURL), ReceiptHandle: aws.String(m.receipt)}); err != nil {
		return fmt.Errorf("sent to %s, but delete from the dead-letter queue: %w (it is in both now: purge or delete it by hand)", target, err)
	}
	return nil
}

func runDLQPurge(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	yes := fs.Bool("yes", false, "purge without asking")
	out := a.outputFlags(fs)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	q, err := a.dlqArg(c, args)
	if err != nil {
		return err
	}
	if !*yes && !isTerminal(a.stdin) {
		return usagef("%s: refusing to purge %s without --yes when standard input is not a terminal", c.name, q.DeadLetter.Name)
	}
	url, err := a.queueURL(ctx, q.DeadLetter.Name)
	if err != nil {
		return err
	}
	if !*yes {
		visible, inFlight, _, err := a.queueCounts(ctx, url)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Delete all %d message(s) of %s for good? Type the queue name to confirm: ", visible+inFlight, q.DeadLetter.Name)
		var answer string
		_, _ = fmt.Fscanln(a.stdin, &answer) // an unreadable answer is none: nothing is deleted below
		if strings.TrimSpace(answer) != q.DeadLetter.Name {
			return fmt.Errorf("%s: not confirmed, nothing deleted", c.name)
		}
	}
	if _, err := a.clients.sqs.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		var inProgress *sqstypes.PurgeQueueInProgress
		if errors.As(err, &inProgress) {
			return fmt.Errorf("purge %s: SQS allows one purge every 60 seconds; try again in a minute: %w", q.DeadLetter.Name, err)
		}
		return fmt.Errorf("purge %s: %w", q.DeadLetter.Name, err)
	}
	return a.emit(out, map[string]any{"purged": q.DeadLetter.Name}, func(w io.Writer) { fmt.Fprintf(w, "purged %s\n", q.DeadLetter.Name) })
}

func writeJSON(a *app, v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// age renders d for people: 45s, 12m, 3h20m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
