package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/version"
)

// Common is the configuration every worker shares. Each is read from the environment:
//
//	ROLLWAVE_PREFIX            prefix of queue, rule and document names (default rollwave)
//	ROLLWAVE_EVENT_BUS         event bus of the pipeline events (default "default")
//	ROLLWAVE_CONCURRENCY       jobs handled at once (default 4)
//	ROLLWAVE_SHUTDOWN_GRACE    how long in-flight jobs may finish after SIGTERM (default 10s)
//	ROLLWAVE_SSM_POLL_INTERVAL how often a running SSM command is polled (default 2s)
//	ROLLWAVE_LOG_LEVEL         debug, info, warn or error (default info)
//	ROLLWAVE_METRICS           on (default) or off: CloudWatch metrics in namespace rollwave
//	ROLLWAVE_METRICS_INTERVAL  how often metrics are sent (default 1m; and always at shutdown)
//	ROLLWAVE_DRY_RUN           true makes every job a dry run: decide and log, change nothing
//	ROLLWAVE_VISIBILITY_TIMEOUT how long a received message stays hidden between the worker's
//	                           extensions; bounds how long a killed worker's job waits before
//	                           another worker resumes it (default: the queue's, see shared/topology)
//	ROLLWAVE_LEASE             how long a job's lease on its instance (rollwave.lease) lasts unless
//	                           the worker holding the job renews it; the scanner reclaims an instance
//	                           whose lease expired half a lease ago (default 1h, update.DefaultLease)
//
// and the managed clusters, the trust boundary every worker enforces (shared/managed:
// ROLLWAVE_CLUSTERS, ROLLWAVE_CLUSTER_TAG, ROLLWAVE_CLUSTERS_REFRESH).
type Common struct {
	Prefix          string
	EventBus        string
	Concurrency     int
	ShutdownGrace   time.Duration
	SSMPoll         time.Duration
	LogLevel        zerolog.Level
	Metrics         bool
	MetricsInterval time.Duration
	DryRun          bool
	Visibility      time.Duration // 0: the queue's own visibility timeout
	Managed         managed.Config
	Lease           time.Duration
}

// LoadCommon reads the shared settings; problems are recorded in r.
func LoadCommon(r *envconfig.Reader) Common {
	c := Common{
		Prefix:        r.String("ROLLWAVE_PREFIX", topology.DefaultPrefix),
		EventBus:      r.String("ROLLWAVE_EVENT_BUS", "default"),
		Concurrency:   r.Int("ROLLWAVE_CONCURRENCY", queue.DefaultConcurrency, envconfig.Min(1)),
		ShutdownGrace: r.Duration("ROLLWAVE_SHUTDOWN_GRACE", queue.DefaultShutdownGrace),
		SSMPoll:       r.Duration("ROLLWAVE_SSM_POLL_INTERVAL", 2*time.Second),
	}
	if r.String("ROLLWAVE_VISIBILITY_TIMEOUT", "") != "" {
		c.Visibility = r.Duration("ROLLWAVE_VISIBILITY_TIMEOUT", 0)
	}
	c.Metrics = r.OneOf("ROLLWAVE_METRICS", "on", "on", "off") == "on"
	c.MetricsInterval = r.Duration("ROLLWAVE_METRICS_INTERVAL", metrics.DefaultInterval)
	c.DryRun = r.Bool("ROLLWAVE_DRY_RUN", false)
	c.Lease = r.Duration("ROLLWAVE_LEASE", update.DefaultLease)
	level := r.OneOf("ROLLWAVE_LOG_LEVEL", "info", "debug", "info", "warn", "error")
	c.LogLevel, _ = zerolog.ParseLevel(level)
	c.Managed = managed.Load(r)
	return c
}

// CheckLeaseGap records a problem in r unless a lease of c.Lease outlives gap, the longest this
// worker may leave a job it holds without renewing its lease, given allowed, the most that the
// lease allows (update.MaxLeaseGap between renewing looks, update.MaxLeaseHold after a fresh
// lease). what names the gap for the person who reads the problem, for example
// "ROLLWAVE_RECHECK_INTERVAL".
func (c Common) CheckLeaseGap(r *envconfig.Reader, what string, gap, allowed time.Duration) {
	if gap > allowed {
		r.Fail("ROLLWAVE_LEASE", "%s is too short: %s can leave a job %s without renewing its lease, more than the %s this lease allows",
			c.Lease, what, gap, allowed)
	}
}

// Leaser returns the Leaser of the worker's jobs, writing through marks.
func (c Common) Leaser(marks Marks, now func() time.Time) *Leaser {
	return &Leaser{Marks: marks, Duration: c.Lease, Now: now}
}

// Doc is the name of one of rollwave's SSM documents in this deployment.
func (c Common) Doc(k ssmdoc.Kind) string { return ssmdoc.Name(c.Prefix, k) }

// Logger is the worker's JSON logger.
func (c Common) Logger(w io.Writer, service string) zerolog.Logger {
	return zerolog.New(w).Level(c.LogLevel).With().Timestamp().Str("service", service).Logger()
}

// StartMetrics starts the worker's metrics publisher (or Discard when ROLLWAVE_METRICS=off) and
// returns its Recorder and a stop function that sends what is pending and waits for it (a few
// seconds at most). Call stop after the workers returned. Its first datum is WorkerStarted of
// service with this binary's version, so CloudWatch shows which release each worker runs.
func (c Common) StartMetrics(ctx context.Context, cfg aws.Config, log zerolog.Logger, service string) (metrics.Recorder, func()) {
	if !c.Metrics {
		return metrics.Discard, func() {}
	}
	p := metrics.NewPublisher(metrics.NewClient(cfg), metrics.Namespace, c.MetricsInterval, log)
	p.Record(Started(service, time.Now()))
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return p, func() { cancel(); <-done }
}

// Started is the WorkerStarted datum of service at now, carrying this binary's version.
func Started(service string, now time.Time) metrics.Datum {
	return metrics.Counted(metrics.WorkerStarted, now, map[string]string{
		metrics.Service: service,
		metrics.Version: version.String(),
	})
}

// Args handles a worker's command line. A worker reads its settings from the environment
// (docs/configuration.md) and takes one argument only: --version (or -version) prints the
// binary's version to stdout, and done tells the caller to exit successfully. Any other argument
// is an error, so that a mistyped command in a task definition stops the worker at start
// instead of being ignored.
func Args(service string, args []string, stdout io.Writer) (done bool, err error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && (args[0] == "--version" || args[0] == "-version"):
		_, err := fmt.Fprintln(stdout, version.Get().Line(service))
		return true, err
	default:
		return false, fmt.Errorf("unexpected argument %q: %s takes only --version and reads its settings from the environment (docs/configuration.md)", args[0], service)
	}
}

// SQS is the part of *sqs.Client a worker needs: consuming its queue and finding it.
type SQS interface {
	queue.Client
	topology.QueueURLGetter
}

// CountDeadLetters is a NewWorker option: each message the worker dead-letters counts in the
// DeadLetters metric of its queue.
func CountDeadLetters(rec metrics.Recorder) func(*queue.Config) {
	return func(cfg *queue.Config) {
		cfg.OnDeadLetter = func(q string) {
			rec.Record(metrics.Counted(metrics.DeadLetters, time.Now(), map[string]string{metrics.Queue: q}))
		}
	}
}

// NewWorker makes the queue worker of one of the topology's queues, resolving its URL; opts
// adjust its configuration (CountDeadLetters).
func (c Common) NewWorker(ctx context.Context, client SQS, logical string, concurrency int, h queue.Handler, log zerolog.Logger, opts ...func(*queue.Config)) (*queue.Worker, error) {
	topo := topology.Default(c.Prefix)
	q, ok := topo.Queue(logical)
	if !ok {
		return nil, fmt.Errorf("queue %q is not in the topology", logical)
	}
	res, err := topology.Resolve(ctx, client, topo)
	if err != nil {
		return nil, fmt.Errorf("resolve queues: %w", err)
	}
	rq, err := res.Queue(logical)
	if err != nil {
		return nil, err
	}
	cfg := queue.ConfigFor(q, rq)
	cfg.Concurrency = concurrency
	cfg.ShutdownGrace = c.ShutdownGrace
	if c.Visibility > 0 {
		cfg.VisibilityTimeout = c.Visibility
	}
	for _, o := range opts {
		o(&cfg)
	}
	return queue.NewWorker(client, cfg, h, log.With().Str("queue", q.Name).Logger())
}

// QueueURL resolves the URL of one of the topology's queues.
func (c Common) QueueURL(ctx context.Context, client topology.QueueURLGetter, logical string) (string, error) {
	res, err := topology.Resolve(ctx, client, topology.Default(c.Prefix))
	if err != nil {
		return "", fmt.Errorf("resolve queues: %w", err)
	}
	rq, err := res.Queue(logical)
	if err != nil {
		return "", err
	}
	return rq.URL, nil
}

// RunAll runs workers until ctx is cancelled or one of them fails, then waits for all.
func RunAll(ctx context.Context, workers ...*queue.Worker) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, w := range workers {
		g.Go(func() error { return w.Run(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
