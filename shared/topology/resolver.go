package topology

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Resolver finds the queues a process uses, each when it is first asked for and never again: a
// worker resolves the queues it consumes (with their dead-letter queues) and the ones it forwards
// to, one GetQueueUrl each for the life of the process, not the whole topology. It is safe for
// concurrent use; a failed lookup is not remembered, so the next call tries again.
type Resolver struct {
	client QueueURLGetter
	topo   Topology
	mu     sync.Mutex
	urls   map[string]string // by queue name
}

// NewResolver returns a resolver of t's queues through client.
func NewResolver(client QueueURLGetter, t Topology) *Resolver {
	return &Resolver{client: client, topo: t, urls: map[string]string{}}
}

// Topology is the topology the resolver finds the queues of.
func (r *Resolver) Topology() Topology { return r.topo }

// URL returns the URL of the queue whose logical name is logical, without its dead-letter queue:
// what a worker that only sends to the queue needs.
func (r *Resolver) URL(ctx context.Context, logical string) (string, error) {
	q, ok := r.topo.Queue(logical)
	if !ok {
		return "", fmt.Errorf("find queue %q: not in the topology", logical)
	}
	url, err := r.url(ctx, q.Name)
	if err != nil {
		return "", fmt.Errorf("resolve queue %s: %w", logical, err)
	}
	return url, nil
}

// Queue returns the queue whose logical name is logical and its dead-letter queue: what a worker
// that consumes the queue needs. Both missing queues are named at once.
func (r *Resolver) Queue(ctx context.Context, logical string) (ResolvedQueue, error) {
	q, ok := r.topo.Queue(logical)
	if !ok {
		return ResolvedQueue{}, fmt.Errorf("find queue %q: not in the topology", logical)
	}
	url, err := r.url(ctx, q.Name)
	dlq, dlqErr := r.url(ctx, q.DeadLetter.Name)
	if err := errors.Join(err, dlqErr); err != nil {
		return ResolvedQueue{}, fmt.Errorf("resolve queue %s: %w", logical, err)
	}
	return ResolvedQueue{Name: q.Name, URL: url, DeadLetterName: q.DeadLetter.Name, DeadLetterURL: dlq}, nil
}

// url returns the URL of the queue named name, asking SQS the first time only.
func (r *Resolver) url(ctx context.Context, name string) (string, error) {
	r.mu.Lock()
	url, ok := r.urls[name]
	r.mu.Unlock()
	if ok {
		return url, nil
	}
	out, err := r.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		if step := nextStep(err); step != "" {
			return "", fmt.Errorf("get queue url %s: %s: %w", name, step, err)
		}
		return "", fmt.Errorf("get queue url %s: %w", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	r.mu.Lock()
	r.urls[name] = url
	r.mu.Unlock()
	return url, nil
}
