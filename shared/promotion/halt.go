package promotion

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/update"
)

// HaltKeyPrefix followed by a stage's name is the tag of the drainer's queue that records the
// halt of a promotion at that stage:
//
//	rollwave:promotion-halted:<stage>   "<version> <reason> <at> <cluster> <message>"
//
// <at> is the Unix time in base 36, <cluster> "-" for a halt of the whole stage (an alarm). The
// tag is removed by `rollwave resume` (every halt, or with --cluster the halts of that cluster's
// stage); a rollout to another version is not held by it.
const HaltKeyPrefix = "rollwave:promotion-halted:"

// The reasons a promotion halts.
const (
	// ReasonFailed: a job of the stage failed.
	ReasonFailed = "failed"
	// ReasonAlarm: a gate alarm was in ALARM while the stage baked.
	ReasonAlarm = "alarm"
)

// Halt is the halt of a promotion of Version at Stage.
type Halt struct {
	Stage   string    `json:"stage"`
	Version string    `json:"version"`
	Reason  string    `json:"reason"`
	Cluster string    `json:"cluster,omitempty"` // the cluster whose job failed; "" for an alarm
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// Summary is the halt for people: "failed: the job of i-0a in cluster staging failed ...".
func (h Halt) Summary() string {
	if h.Message == "" {
		return h.Reason
	}
	return h.Reason + ": " + h.Message
}

// Key is the halt's tag key.
func (h Halt) Key() string { return HaltKeyPrefix + h.Stage }

// Value is the halt's tag value, within SQS's 256 characters and AWS's tag character set (other
// characters become spaces).
func (h Halt) Value() string {
	cluster := h.Cluster
	if cluster == "" {
		cluster = "-"
	}
	v := strings.Join([]string{h.Version, h.Reason, strconv.FormatInt(h.At.Unix(), 36), cluster, tagSafe(h.Message)}, " ")
	if r := []rune(v); len(r) > 256 {
		v = string(r[:256])
	}
	return strings.TrimSpace(v)
}

// tagSafe replaces the characters outside AWS's tag character set with spaces.
func tagSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _.:/=+-@", r) {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// ParseHalts reads the halts from the drainer queue's tags, by stage, in stage name order; a tag
// of the prefix whose value does not parse is kept as a halt of no version with its value as the
// message, so that a person sees it (and it holds nothing).
func ParseHalts(tags map[string]string) []Halt {
	var out []Halt
	for k, v := range tags {
		stage, ok := strings.CutPrefix(k, HaltKeyPrefix)
		if !ok || stage == "" {
			continue
		}
		f := strings.SplitN(v, " ", 5)
		h := Halt{Stage: stage, Message: v}
		if len(f) >= 4 {
			if sec, err := strconv.ParseInt(f[2], 36, 64); err == nil && (update.IsCluster(f[3]) || f[3] == "-") {
				h = Halt{Stage: stage, Version: f[0], Reason: f[1], At: time.Unix(sec, 0).UTC()}
				if f[3] != "-" {
					h.Cluster = f[3]
				}
				if len(f) == 5 {
					h.Message = f[4]
				}
			}
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// tagsAPI is the part of *sqs.Client that ClearHalts uses on the drainer's queue.
type tagsAPI interface {
	pause.ListQueueTagsAPI
	UntagQueue(ctx context.Context, in *sqs.UntagQueueInput, optFns ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error)
}

// ClearHalts removes the promotion's halts from the drainer queue's tags at queueURL: every halt
// for cluster "" (rollwave resume --all), else the halts of a failure in cluster (a name or an
// ARN). With a halt for a failure it removes that cluster's error budget count too
// (pause.FailuresKeyPrefix), which would otherwise halt the promotion again at once. It returns
// the halts it removed.
func ClearHalts(ctx context.Context, api tagsAPI, queueURL, cluster string) ([]Halt, error) {
	out, err := api.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &queueURL})
	if err != nil {
		return nil, fmt.Errorf("list tags of queue %s: %w", queueURL, err)
	}
	name := update.ClusterName(cluster)
	var cleared []Halt
	var keys []string
	for _, h := range ParseHalts(out.Tags) {
		if name != "" && h.Cluster != name {
			continue
		}
		cleared = append(cleared, h)
		keys = append(keys, HaltKeyPrefix+h.Stage)
		if h.Cluster != "" && !slices.Contains(keys, pause.FailuresKeyPrefix+h.Cluster) {
			keys = append(keys, pause.FailuresKeyPrefix+h.Cluster)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if _, err := api.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &queueURL, TagKeys: keys}); err != nil {
		return nil, fmt.Errorf("untag queue %s: %s: %w", queueURL, strings.Join(keys, ", "), err)
	}
	return cleared, nil
}
