// Package pause is the contract between the people who pause a rollout (the rollwave CLI, or
// the aws CLI by hand) and the drainer, which admits no new drain while a pause is in effect.
//
// The pause state lives in tags of the drainer's SQS queue, so it needs no store of its own and
// works the same on AWS, LocalStack and moto:
//
//	rollwave:paused:<cluster>   pauses one cluster (its name, never its ARN)
//	rollwave:paused             pauses every cluster
//
// The tag's value is "<who>: <reason>". Resuming removes the tag. A pause stops admissions only:
// a job already draining, rebooting or verifying finishes, and a paused job waits in its queue.
//
// The key of the global pause is "rollwave:paused" rather than "rollwave:paused:*" because AWS's
// tag character set (letters, digits, whitespace and _ . : / = + - @) has no "*"; for the same
// reason Set replaces any other character of the value with a space.
package pause

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/update"
)

// Tag keys.
const (
	// GlobalKey is the tag that pauses every cluster.
	GlobalKey = "rollwave:paused"
	// ClusterKeyPrefix followed by a cluster name is the tag that pauses that cluster.
	ClusterKeyPrefix = GlobalKey + ":"
	// FailuresKeyPrefix followed by a cluster name is the tag in which the error budget
	// (shared/budget) counts the cluster's recent failed updates. Clear removes it with the
	// cluster's pause, so a resumed cluster starts with its whole budget.
	FailuresKeyPrefix = "rollwave:failures:"
)

// SQS's limits on a tag (Quotas related to queues).
const (
	maxKeyLen   = 128
	maxValueLen = 256
)

// TagQueueAPI is the part of *sqs.Client that Set uses.
type TagQueueAPI interface {
	TagQueue(ctx context.Context, in *sqs.TagQueueInput, optFns ...func(*sqs.Options)) (*sqs.TagQueueOutput, error)
}

// UntagQueueAPI is the part of *sqs.Client that Clear uses.
type UntagQueueAPI interface {
	UntagQueue(ctx context.Context, in *sqs.UntagQueueInput, optFns ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error)
}

// ListQueueTagsAPI is the part of *sqs.Client that Read and Cache use.
type ListQueueTagsAPI interface {
	ListQueueTags(ctx context.Context, in *sqs.ListQueueTagsInput, optFns ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
}

// Key returns the tag key that pauses cluster (a name or an ECS cluster ARN); "" pauses every
// cluster. A cluster name too long for a tag key is an error.
func Key(cluster string) (string, error) {
	name := ClusterName(cluster)
	if name == "" {
		return GlobalKey, nil
	}
	key := ClusterKeyPrefix + name
	if len(key) > maxKeyLen {
		return "", fmt.Errorf("pause key for cluster %q: longer than SQS's %d characters", name, maxKeyLen)
	}
	return key, nil
}

// ClusterName returns the name of a cluster given by name or by ARN
// (arn:aws:ecs:<region>:<account>:cluster/<name>): update.ClusterName, the one identity of a
// cluster.
func ClusterName(cluster string) string { return update.ClusterName(cluster) }

// Value renders who and reason as a tag value: "<who>: <reason>", with characters outside
// AWS's tag character set replaced by spaces and cut to SQS's 256 characters.
func Value(who, reason string) string {
	v := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _.:/=+-@", r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(who)+": "+strings.TrimSpace(reason))
	v = strings.Join(strings.Fields(v), " ")
	if r := []rune(v); len(r) > maxValueLen {
		v = string(r[:maxValueLen])
	}
	return v
}

// Set pauses cluster ("" for every cluster) by tagging the drainer's queue at queueURL. Setting
// it again replaces who and reason.
func Set(ctx context.Context, api TagQueueAPI, queueURL, cluster, who, reason string) error {
	key, err := Key(cluster)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("pause: a reason is required")
	}
	if _, err := api.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &queueURL, Tags: map[string]string{key: Value(who, reason)}}); err != nil {
		return fmt.Errorf("tag queue %s with %s: %w", queueURL, key, err)
	}
	return nil
}

// Clear resumes cluster ("" for the global pause) by removing its tag. Clearing a pause that is
// not set is not an error. Clearing a cluster's pause leaves the global one, and the other way
// round. Clearing a cluster's pause also resets its error budget (its FailuresKeyPrefix tag), so
// that a cluster the budget halted does not halt again at its next failure.
func Clear(ctx context.Context, api UntagQueueAPI, queueURL, cluster string) error {
	key, err := Key(cluster)
	if err != nil {
		return err
	}
	keys := []string{key}
	if name := ClusterName(cluster); name != "" && len(FailuresKeyPrefix+name) <= maxKeyLen {
		keys = append(keys, FailuresKeyPrefix+name)
	}
	if _, err := api.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &queueURL, TagKeys: keys}); err != nil {
		return fmt.Errorf("untag queue %s: %s: %w", queueURL, strings.Join(keys, ", "), err)
	}
	return nil
}

// Info is one pause in effect.
type Info struct {
	// Cluster is the paused cluster's name, "" for the global pause.
	Cluster string `json:"cluster,omitempty"`
	// All is true for the global pause.
	All    bool   `json:"all"`
	Who    string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Scope says what the pause covers: "every cluster" or "cluster <name>".
func (i Info) Scope() string {
	if i.All {
		return "every cluster"
	}
	return "cluster " + i.Cluster
}

// String describes the pause for people: "cluster prod paused by alice: CVE triage".
func (i Info) String() string {
	s := i.Scope() + " paused"
	if i.Who != "" {
		s += " by " + i.Who
	}
	if i.Reason != "" {
		s += ": " + i.Reason
	}
	return s
}

// State is the set of pauses in effect. The zero State pauses nothing.
type State struct {
	global   *Info
	clusters map[string]Info
}

// Parse reads the pauses from a queue's tags; tags that are not rollwave pause tags are ignored.
func Parse(tags map[string]string) State {
	var s State
	for k, v := range tags {
		who, reason, ok := strings.Cut(v, ": ")
		if !ok {
			who, reason = "", v
		}
		switch {
		case k == GlobalKey:
			s.global = &Info{All: true, Who: who, Reason: reason}
		case strings.HasPrefix(k, ClusterKeyPrefix) && len(k) > len(ClusterKeyPrefix):
			name := k[len(ClusterKeyPrefix):]
			if s.clusters == nil {
				s.clusters = map[string]Info{}
			}
			s.clusters[name] = Info{Cluster: name, Who: who, Reason: reason}
		}
	}
	return s
}

// Paused reports whether cluster (a name or an ARN) is paused, by the global pause (which
// wins) or by its own.
func (s State) Paused(cluster string) (Info, bool) {
	if s.global != nil {
		return *s.global, true
	}
	i, ok := s.clusters[ClusterName(cluster)]
	return i, ok
}

// All returns every pause in effect: the global one first, then the clusters' by name.
func (s State) All() []Info {
	var out []Info
	if s.global != nil {
		out = append(out, *s.global)
	}
	names := make([]string, 0, len(s.clusters))
	for n := range s.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, s.clusters[n])
	}
	return out
}

// Read returns the pauses in effect on the drainer's queue at queueURL.
func Read(ctx context.Context, api ListQueueTagsAPI, queueURL string) (State, error) {
	out, err := api.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &queueURL})
	if err != nil {
		return State{}, fmt.Errorf("list tags of queue %s: %w", queueURL, err)
	}
	return Parse(out.Tags), nil
}

// DefaultMaxAge is how old the drainer's view of the pause state may be: a pause stops new
// drains within this time.
const DefaultMaxAge = 5 * time.Second

// Cache is the drainer's view of the pause state: it reads the queue's tags at most once every
// maxAge, so asking before every admission costs one ListQueueTags call per maxAge, and a pause
// takes effect within maxAge. It is safe for concurrent use; concurrent callers share one read.
type Cache struct {
	// Clock is the time the cache's age is read on; nil is clock.Real. Set it before use.
	Clock clock.Clock

	api    ListQueueTagsAPI
	url    string
	maxAge time.Duration

	mu     sync.Mutex
	state  State
	readAt time.Time // zero until the first successful read
}

// NewCache returns a Cache of the pause state on the queue at queueURL; maxAge <= 0 means
// DefaultMaxAge.
func NewCache(api ListQueueTagsAPI, queueURL string, maxAge time.Duration) *Cache {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return &Cache{api: api, url: queueURL, maxAge: maxAge}
}

// Paused reports whether cluster is paused, reading the tags again when the last read is older
// than maxAge. A failed read is returned as an error and not cached: the caller should treat it
// as "do not start a drain now" (a pause exists to stop drains, so not knowing is not "go").
func (c *Cache) Paused(ctx context.Context, cluster string) (Info, bool, error) {
	s, err := c.State(ctx)
	if err != nil {
		return Info{}, false, err
	}
	i, ok := s.Paused(cluster)
	return i, ok, nil
}

// State returns the pause state, read at most maxAge ago.
func (c *Cache) State(ctx context.Context) (State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clk := clock.OrReal(c.Clock)
	if !c.readAt.IsZero() && clock.Since(clk, c.readAt) < c.maxAge {
		return c.state, nil
	}
	s, err := Read(ctx, c.api, c.url)
	if err != nil {
		return State{}, err
	}
	c.state, c.readAt = s, clk.Now()
	return s, nil
}

// EventDetail is the detail of the "Cluster Rollout Paused" and "Cluster Rollout Resumed"
// pipeline events (shared/notify) that the rollwave CLI publishes when it sets or clears a pause.
type EventDetail struct {
	// Cluster is the cluster's name, or "*" for every cluster.
	Cluster     string    `json:"cluster"`
	All         bool      `json:"all"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}
