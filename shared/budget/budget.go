// Package budget is the error budget of a cluster's rollout: after Limit.Failures failed updates
// in a cluster within Limit.Window, rollwave halts that cluster's rollout on its own (it sets the
// cluster's pause tag, shared/pause) and publishes "Cluster Rollout Halted"; only a person
// resumes it (`rollwave resume --cluster C`, which also resets the count).
//
// The count lives where the pause does, in a tag of the drainer's SQS queue, so that every worker
// that ends jobs (patcher, drainer, verifier) shares it without a store of its own:
//
//	rollwave:failures:<cluster>   "<at>/<code>/<instance> <at>/<code>/<instance> ..."
//
// <at> is the failure's Unix time in base 36, newest entry first, entries older than the window
// dropped on every write, the whole within SQS's 256 characters (older entries lose their
// instance first, then are dropped: Limit.Validate bounds Failures so that the count always fits).
// An instance that fails again with the same code within the window counts once, so a retried
// End never counts a failure twice.
//
// Workers record concurrently, and a tag is read-modify-write. Record re-reads the tag after
// writing it and writes again when its entry was lost to another writer. What remains is a
// narrow race: writer A reads its entry back, then writer B, which read the tag before A wrote,
// overwrites it. The worst case is a failure counted once too few (the cluster halts one failure
// later); two failures are never merged into a halt that should not happen, and a halt is never
// lost once a writer saw the count reach the limit.
package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/update"
)

// KeyPrefix followed by a cluster name is the tag that holds the cluster's recent failures. It is
// pause.FailuresKeyPrefix, so that clearing a cluster's pause resets its budget.
const KeyPrefix = pause.FailuresKeyPrefix

// maxValueLen is SQS's limit on a tag value.
const maxValueLen = 256

// HaltedBy is the "who" of a pause that the error budget set.
const HaltedBy = "rollwave error budget"

// HaltReason is the notify.HaltedDetail reason of a halt by the error budget.
const HaltReason = "error-budget"

// Limit is a cluster's error budget: Failures failed updates within Window halt its rollout.
// The zero Limit is off. A cluster's comes from its policy (shared/policy's ErrorBudget,
// ROLLWAVE_ERROR_BUDGET_FAILURES and ROLLWAVE_ERROR_BUDGET_WINDOW, ROLLWAVE_CLUSTER_POLICIES).
type Limit struct {
	Failures int
	Window   time.Duration
}

// Default is the budget of a cluster without its own: two failures within an hour.
var Default = Limit{Failures: 2, Window: time.Hour}

// MaxFailures is the largest Failures a Limit may have: so many entries always fit in a tag
// (without their instances: 8 × 31 characters with the longest code). shared/policy refuses a
// larger budget.
const MaxFailures = policy.MaxErrorBudgetFailures

// Off reports whether the budget never halts.
func (l Limit) Off() bool { return l.Failures <= 0 }

// String renders the limit as "2/1h", or "off".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", l.Failures, shortDuration(l.Window))
}

// Validate reports a limit that cannot work: failures outside 1..MaxFailures, a window below a
// minute.
func (l Limit) Validate() error {
	var errs []error
	if l.Failures < 1 || l.Failures > MaxFailures {
		errs = append(errs, fmt.Errorf("error budget: failures %d, want 1 to %d (or off)", l.Failures, MaxFailures))
	}
	if l.Window < time.Minute {
		errs = append(errs, fmt.Errorf("error budget: window %s, want at least 1m", l.Window))
	}
	return errors.Join(errs...)
}

// Counts reports whether an outcome spends the budget: failures only. A skipped job (a dry run,
// a standalone task, an opted-out instance, an instance that is gone), a duplicate and a job
// that did not own its instance (not-owner, stale-job) do not: the workers end those without
// failing them, and Counts refuses them even if one were reported as failed, so that forged or
// stale messages can never halt a cluster.
func Counts(o update.Outcome) bool {
	return o.Result == update.ResultFailed && o.Code != update.CodeInstanceGone && !o.Ignored()
}

// Entry is one failure in a cluster's tag.
type Entry struct {
	At       time.Time
	Code     update.Code
	Instance string // EC2 instance ID (or whatever the job named); "" once dropped to fit
}

// Key returns the tag key of cluster's failures (a name or an ARN).
func Key(cluster string) (string, error) {
	name := pause.ClusterName(cluster)
	if name == "" {
		return "", errors.New("error budget: no cluster")
	}
	key := KeyPrefix + name
	if len(key) > 128 {
		return "", fmt.Errorf("error budget key for cluster %q: longer than SQS's 128 characters", name)
	}
	return key, nil
}

// Parse reads a failures tag value; unreadable entries are ignored (a person may have edited it).
// The entries come newest first.
func Parse(v string) []Entry {
	var out []Entry
	for _, f := range strings.Fields(v) {
		parts := strings.SplitN(f, "/", 3)
		if len(parts) < 2 {
			continue
		}
		sec, err := strconv.ParseInt(parts[0], 36, 64)
		if err != nil || parts[1] == "" {
			continue
		}
		e := Entry{At: time.Unix(sec, 0).UTC(), Code: update.Code(parts[1])}
		if len(parts) == 3 {
			e.Instance = parts[2]
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return b.At.Compare(a.At) })
	return out
}

// Format renders entries (newest first) as a tag value of at most 256 characters: older entries
// lose their instance first, then are dropped.
func Format(entries []Entry) string {
	es := slices.Clone(entries)
	render := func() string {
		parts := make([]string, len(es))
		for i, e := range es {
			parts[i] = strconv.FormatInt(e.At.Unix(), 36) + "/" + tagSafe(string(e.Code))
			if e.Instance != "" {
				parts[i] += "/" + tagSafe(e.Instance)
			}
		}
		return strings.Join(parts, " ")
	}
	for i := len(es) - 1; i >= 0 && len(render()) > maxValueLen; i-- {
		es[i].Instance = ""
	}
	for len(es) > 0 && len(render()) > maxValueLen {
		es = es[:len(es)-1]
	}
	return render()
}

// tagSafe keeps the characters a tag value and the entry syntax allow.
func tagSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:=+-@", r) {
			return r
		}
		return '_'
	}, s)
}

// Add returns entries with e added (newest first) and those older than window before now
// dropped. An entry for the same instance and code within the window is not added again.
func Add(entries []Entry, e Entry, window time.Duration, now time.Time) []Entry {
	out := Recent(entries, window, now)
	for _, x := range out {
		if x.Instance == e.Instance && x.Code == e.Code && e.Instance != "" {
			return out
		}
	}
	out = append([]Entry{e}, out...)
	slices.SortStableFunc(out, func(a, b Entry) int { return b.At.Compare(a.At) })
	return out
}

// Recent returns the entries within window before now.
func Recent(entries []Entry, window time.Duration, now time.Time) []Entry {
	var out []Entry
	for _, e := range entries {
		if now.Sub(e.At) < window {
			out = append(out, e)
		}
	}
	return out
}

// Spent reports whether entries within the window reach the limit.
func Spent(l Limit, entries []Entry, now time.Time) bool {
	return !l.Off() && len(Recent(entries, l.Window, now)) >= l.Failures
}

// Reason describes a spent budget for people: "error budget: 2 failed updates within 1h:
// i-0a boot-failed-rolled-back, i-0b never-came-back" (sep joins the failures).
func Reason(l Limit, entries []Entry, sep string) string {
	var parts []string
	for _, e := range entries {
		inst := e.Instance
		if inst == "" {
			inst = "an instance"
		}
		parts = append(parts, inst+" "+string(e.Code))
	}
	return fmt.Sprintf("error budget: %d failed updates within %s: %s", len(entries), shortDuration(l.Window), strings.Join(parts, sep))
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// TagsAPI is the part of *sqs.Client the budget uses on the drainer's queue.
type TagsAPI interface {
	pause.ListQueueTagsAPI
	pause.TagQueueAPI
}

// Publisher publishes pipeline events (notify.Publisher).
type Publisher interface {
	Publish(ctx context.Context, detailType string, detail any, resources ...string) error
}

// New returns the error budget of the clusters of policies, counted in the tags of the drainer's
// queue at queueURL. policy.Load refuses Failures above MaxFailures; a Set built by hand with more
// is held to MaxFailures (a tag cannot count more): the budget halts sooner, never later.
func New(tags TagsAPI, queueURL string, events Publisher, policies policy.Set) *Budget {
	return &Budget{
		Tags: tags, QueueURL: queueURL, Events: events, Now: time.Now,
		LimitFor: func(cluster string) Limit {
			b := policies.For(cluster).ErrorBudget
			return Limit{Failures: min(b.Failures, MaxFailures), Window: b.Window}
		},
	}
}

// Budget records failed updates and halts a cluster whose budget is spent. It is safe for
// concurrent use (it keeps no state of its own).
type Budget struct {
	Tags     TagsAPI
	QueueURL string // the drainer's queue, whose tags hold the pauses and the failures
	Events   Publisher
	// LimitFor returns a cluster's budget (by name); nil means Default for every cluster.
	LimitFor func(cluster string) Limit
	Now      func() time.Time
}

// writeAttempts bounds how often Record writes when other writers keep overwriting its entry.
const writeAttempts = 3

// Record counts the job's outcome against its cluster's budget when it is a failure (not for a
// dry run), and halts the cluster when the budget is spent. An error is transient: the caller
// retries, and recording the same failure again counts it once.
func (b *Budget) Record(ctx context.Context, job update.Job, o update.Outcome) error {
	if !Counts(o) || job.DryRun {
		return nil
	}
	name := pause.ClusterName(job.Cluster)
	limit := Default
	if b.LimitFor != nil {
		limit = b.LimitFor(name)
	}
	if limit.Off() {
		return nil
	}
	key, err := Key(name)
	if err != nil {
		return err
	}
	inst := job.EC2InstanceID
	if inst == "" {
		inst = job.Instance
	}
	now := b.Now()
	e := Entry{At: now.UTC().Truncate(time.Second), Code: o.Code, Instance: inst}
	var entries []Entry
	var tags map[string]string
	for attempt := 0; ; attempt++ {
		if tags, err = b.read(ctx); err != nil {
			return err
		}
		entries = Add(Parse(tags[key]), e, limit.Window, now)
		value := Format(entries)
		if tags[key] != value {
			if _, err := b.Tags.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &b.QueueURL, Tags: map[string]string{key: value}}); err != nil {
				return fmt.Errorf("tag queue %s with %s: %w", b.QueueURL, key, err)
			}
		}
		// Read back: another worker may have written the tag from what it read before we wrote.
		if tags, err = b.read(ctx); err != nil {
			return err
		}
		entries = Recent(Parse(tags[key]), limit.Window, now)
		if contains(entries, e) || attempt+1 >= writeAttempts {
			break
		}
	}
	if !Spent(limit, entries, now) {
		return nil
	}
	return b.halt(ctx, job, limit, tags, entries)
}

func contains(entries []Entry, e Entry) bool {
	for _, x := range entries {
		if x.Instance == e.Instance && x.Code == e.Code {
			return true
		}
	}
	return false
}

// halt pauses the cluster with the budget's reason and publishes "Cluster Rollout Halted", unless
// the budget already halted it (a redelivered End, or another worker that saw the same count).
// A pause a person set is replaced by the halt: the cluster stays paused, now saying why.
func (b *Budget) halt(ctx context.Context, job update.Job, limit Limit, tags map[string]string, entries []Entry) error {
	name := pause.ClusterName(job.Cluster)
	pkey, err := pause.Key(name)
	if err != nil {
		return err
	}
	if strings.HasPrefix(tags[pkey], HaltedBy+": ") {
		return nil
	}
	var instances []string
	for _, e := range entries {
		if e.Instance != "" {
			instances = append(instances, e.Instance)
		}
	}
	d := notify.HaltedDetail{
		Cluster:   name,
		Reason:    HaltReason,
		Message:   Reason(limit, entries, ", ") + ": no new drain starts until a person resumes the cluster (rollwave resume --cluster " + name + ")",
		JobIDs:    []string{job.ID},
		Instances: instances,
		At:        b.Now().UTC(),
	}
	// The event first: a failure to set the pause after it is retried and publishes again, so
	// the event is never lost (two workers that see the same count may both publish it).
	if err := b.Events.Publish(ctx, notify.ClusterRolloutHalted, d); err != nil {
		return fmt.Errorf("announce halt of cluster %s: %w", name, err)
	}
	if err := pause.Set(ctx, b.Tags, b.QueueURL, name, HaltedBy, Reason(limit, entries, " / ")); err != nil {
		return fmt.Errorf("halt cluster %s: %w", name, err)
	}
	return nil
}

func (b *Budget) read(ctx context.Context) (map[string]string, error) {
	out, err := b.Tags.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &b.QueueURL})
	if err != nil {
		return nil, fmt.Errorf("list tags of queue %s: %w", b.QueueURL, err)
	}
	return out.Tags, nil
}
