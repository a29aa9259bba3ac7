package queue

import (
	"context"
	"sync"

	"github.com/rs/zerolog"
)

// Fields identify the job a message carries. Every log line about the message carries the
// non-empty ones, the worker's outcome line included.
type Fields struct {
	Job      string
	Cluster  string
	Instance string
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
	l := c.Logger()
	return &l
}
