package drain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/update"
)

// instanceLister lists a cluster's container instances (*cluster.Client).
type instanceLister interface {
	ListInstances(ctx context.Context, cluster, status, filter string) ([]cluster.Instance, error)
}

// queueTags is the part of *sqs.Client that reads and writes the drainer queue's tags.
type queueTags interface {
	pause.ListQueueTagsAPI
	pause.TagQueueAPI
}

// promotionStore reads what the promotion gate decides by, from where it lives in AWS: the instances of
// the earlier stages' clusters (their rollwave.job and rollwave.verified-at marks) and the tags
// of the drainer's queue (the error budget's failures, the promotion's halts). It reuses a read
// for maxAge, so that a stage's held jobs cost one read of each earlier cluster and one of the
// tags per maxAge, not one per look. It is safe for concurrent use.
type promotionStore struct {
	plan     promotion.Plan
	ecs      instanceLister
	tags     queueTags
	queueURL string
	maxAge   time.Duration
	now      func() time.Time

	// recording serialises RecordHalt, so that the jobs of one drainer that find a halt at
	// once announce it once.
	recording sync.Mutex
	mu        sync.Mutex
	instances map[string]cached[[]cluster.Instance]
	tagRead   cached[map[string]string]
}

type cached[T any] struct {
	v  T
	at time.Time
}

// newPromotionStore returns the store of plan's promotion: instances read through ecs, tags of
// the drainer's queue at queueURL, each read reused for maxAge.
func newPromotionStore(plan promotion.Plan, ecs instanceLister, tags queueTags, queueURL string, maxAge time.Duration, now func() time.Time) *promotionStore {
	return &promotionStore{plan: plan, ecs: ecs, tags: tags, queueURL: queueURL, maxAge: maxAge, now: now, instances: map[string]cached[[]cluster.Instance]{}}
}

// Plan is the promotion's plan.
func (s *promotionStore) Plan() promotion.Plan { return s.plan }

// Earlier returns the stages before stage (an index of the plan) as they are now, for a job of
// promotion p: the jobs p's scan sent to each, their marked instances, their last verification,
// their clusters' failures and their halts.
func (s *promotionStore) Earlier(ctx context.Context, stage int, p update.Promotion) ([]promotion.Earlier, error) {
	tags, err := s.readTags(ctx)
	if err != nil {
		return nil, err
	}
	halts := map[string]promotion.Halt{}
	for _, h := range promotion.ParseHalts(tags) {
		halts[h.Stage] = h
	}
	out := make([]promotion.Earlier, 0, stage)
	for _, st := range s.plan.Stages[:stage] {
		e := promotion.Earlier{Stage: st}
		for _, j := range p.Earlier {
			if j.Stage == st.Name {
				e.Jobs = j.Jobs
			}
		}
		if h, ok := halts[st.Name]; ok {
			e.Halt = &h
		}
		for _, c := range st.Clusters {
			for _, f := range budget.Parse(tags[budget.KeyPrefix+c]) {
				e.Failures = append(e.Failures, promotion.Failure{Cluster: c, Instance: f.Instance, Code: string(f.Code), At: f.At})
			}
			ins, err := s.readInstances(ctx, c)
			if err != nil {
				return nil, err
			}
			for _, in := range ins {
				if in.Attributes[update.AttrJob] != "" {
					e.Marked = append(e.Marked, in.EC2InstanceID)
				}
				if at, err := time.Parse(time.RFC3339, in.Attributes[update.AttrVerifiedAt]); err == nil && at.After(e.LastVerified) {
					e.LastVerified = at
				}
			}
		}
		slices.Sort(e.Marked)
		out = append(out, e)
	}
	return out, nil
}

// Halts returns the promotion's halts in effect, read at most maxAge ago.
func (s *promotionStore) Halts(ctx context.Context) ([]promotion.Halt, error) {
	tags, err := s.readTags(ctx)
	if err != nil {
		return nil, err
	}
	return promotion.ParseHalts(tags), nil
}

// RecordHalt writes h as its stage's halt tag, unless the tags, read again now, already hold a
// halt of h's stage and version: recorded reports whether this call wrote it, so that a halt is
// announced once (short of two drainer processes writing at once, which announce it twice).
func (s *promotionStore) RecordHalt(ctx context.Context, h promotion.Halt) (recorded bool, err error) {
	s.recording.Lock()
	defer s.recording.Unlock()
	s.mu.Lock()
	s.tagRead = cached[map[string]string]{}
	s.mu.Unlock()
	tags, err := s.readTags(ctx)
	if err != nil {
		return false, err
	}
	for _, old := range promotion.ParseHalts(tags) {
		if old.Stage == h.Stage && old.Version == h.Version {
			return false, nil
		}
	}
	if _, err := s.tags.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &s.queueURL, Tags: map[string]string{h.Key(): h.Value()}}); err != nil {
		return false, fmt.Errorf("tag queue %s with %s: %w", s.queueURL, h.Key(), err)
	}
	s.mu.Lock()
	s.tagRead = cached[map[string]string]{}
	s.mu.Unlock()
	return true, nil
}

// readTags returns the drainer queue's tags, read at most maxAge ago.
func (s *promotionStore) readTags(ctx context.Context) (map[string]string, error) {
	s.mu.Lock()
	r := s.tagRead
	s.mu.Unlock()
	now := s.now()
	if !r.at.IsZero() && now.Sub(r.at) < s.maxAge {
		return r.v, nil
	}
	out, err := s.tags.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &s.queueURL})
	if err != nil {
		return nil, fmt.Errorf("list tags of queue %s: %w", s.queueURL, err)
	}
	s.mu.Lock()
	s.tagRead = cached[map[string]string]{v: out.Tags, at: now}
	s.mu.Unlock()
	return out.Tags, nil
}

// readInstances returns cluster c's instances, read at most maxAge ago. A cluster that does not
// exist has none to hold the promotion with.
func (s *promotionStore) readInstances(ctx context.Context, c string) ([]cluster.Instance, error) {
	s.mu.Lock()
	r, ok := s.instances[c]
	s.mu.Unlock()
	now := s.now()
	if ok && now.Sub(r.at) < s.maxAge {
		return r.v, nil
	}
	ins, err := s.ecs.ListInstances(ctx, c, "", "")
	if err != nil && !errors.Is(err, cluster.ErrClusterNotFound) {
		return nil, fmt.Errorf("list instances of %s: %w", c, err)
	}
	s.mu.Lock()
	s.instances[c] = cached[[]cluster.Instance]{v: ins, at: now}
	s.mu.Unlock()
	return ins, nil
}
