package queue

import (
	"context"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Fields identify the job a message carries. Every log line about the message carries the
// non-empty ones, the worker's outcome line included, under the keys of docs/architecture.md's
// log vocabulary: job, cluster, instance (always the EC2 instance ID) and instance_arn (the
// container instance's ARN).
type Fields struct {
	Job         string
	Cluster     string
	Instance    string // the EC2 instance ID
	InstanceARN string // the container instance ARN
}

// WithInstance returns f naming ref, an EC2 instance ID or a container instance ARN (a job's
// instance may be either), under the key that its kind takes.
func (f Fields) WithInstance(ref string) Fields {
	if strings.HasPrefix(ref, "arn:") {
		f.InstanceARN = ref
	} else {
		f.Instance = ref
	}
	return f
}

type logKey struct{}

// logState is the logger of one message; Annotate may run while the heartbeat logs, so it is
// guarded.
type logState struct {
	mu     sync.Mutex
	base   zerolog.Logger
	fields Fields
}

// WithLogger returns a context whose Logger is l; the worker gives every handler such a context,
// with the queue and message ID already on l. Handler tests use it to see the handler's lines.
func WithLogger(ctx context.Context, l zerolog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, &logState{base: l})
}

// Annotate adds the non-empty fields of f to the logger of ctx, so that every later line of this
// message (the handler's and the worker's) carries them. Without a logger in ctx it does nothing.
func Annotate(ctx context.Context, f Fields) {
	s, ok := ctx.Value(logKey{}).(*logState)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Job != "" {
		s.fields.Job = f.Job
	}
	if f.Cluster != "" {
		s.fields.Cluster = f.Cluster
	}
	if f.Instance != "" {
		s.fields.Instance = f.Instance
	}
	if f.InstanceARN != "" {
		s.fields.InstanceARN = f.InstanceARN
	}
}

// Logger returns the logger of the message being handled in ctx, with the annotated fields.
// Without one it returns zerolog.Ctx(ctx).
func Logger(ctx context.Context) *zerolog.Logger {
	s, ok := ctx.Value(logKey{}).(*logState)
	if !ok {
		return zerolog.Ctx(ctx)
	}
	s.mu.Lock()
	f := s.fields
	s.mu.Unlock()
	c := s.base.With()
	if f.Job != "" {
		c = c.Str("job", f.Job)
	}
	if f.Cluster != "" {
		c = c.Str("cluster", f.Cluster)
	}
	if f.Instance != "" {
		c = c.Str("instance", f.Instance)
	}
	if f.InstanceARN != "" {
		c = c.Str("instance_arn", f.InstanceARN)
	}
	l := c.Logger()
	return &l
}

type receivesKey struct{}

// WithReceives returns a context whose Receives is n; the worker gives every handler such a
// context with its message's ReceiveCount plus Failures.
func WithReceives(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, receivesKey{}, n)
}

// Receives is the ReceiveCount of the message being handled in ctx (SQS's
// ApproximateReceiveCount: 1 on the first delivery) plus its Failures, the tries before a failure
// requeued it, or 0 outside a handler. The pipeline events
// carry it, so that a person sees how many receives a job's step took: retries after failures,
// or looks at a held job.
func Receives(ctx context.Context) int {
	n, _ := ctx.Value(receivesKey{}).(int)
	return n
}
