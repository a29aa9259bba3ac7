// Package service holds what makes a binary one of rollwave's four workers: the configuration
// every worker shares (Common, read from the ROLLWAVE_* environment), its logger and metrics, the
// queue workers of the topology's queues and the loop that runs them, and the command line.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/envconfig"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/logging"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/version"
)

// DefaultSSMExpected is the typical duration of a quick SSM command: its delivery (about a second)
// and an `apiclient update check` (about two).
const DefaultSSMExpected = 3 * time.Second

// Quick is the SSM options of a quick command (update check, version lock, cancel) that may run
// for up to wait: polled first when it is expected to be done.
func (c Common) Quick(wait time.Duration) ssmcommand.Options {
	return ssmcommand.Options{Wait: wait, Expected: c.SSMExpected, PollInterval: c.SSMPoll}
}

// CheckSSMExpected records a problem in r unless ROLLWAVE_SSM_EXPECTED is below timeout, the
// longest a quick command may take (the setting named timeoutName): the first poll would
// otherwise come after the deadline.
func (c Common) CheckSSMExpected(r *envconfig.Reader, timeoutName string, timeout time.Duration) {
	if c.SSMExpected >= timeout {
		r.Fail("ROLLWAVE_SSM_EXPECTED", "%s is not below %s (%s): the first poll would come after the deadline", c.SSMExpected, timeoutName, timeout)
	}
}

// Common is the configuration every worker shares. Each is read from the environment:
//
//	ROLLWAVE_PREFIX            prefix of queue, rule and document names (default rollwave)
//	ROLLWAVE_EVENT_BUS         event bus of the pipeline events (default "default")
//	ROLLWAVE_CONCURRENCY       jobs handled at once (default 4)
//	ROLLWAVE_SHUTDOWN_GRACE    how long in-flight jobs may finish after SIGTERM (default 10s)
//	ROLLWAVE_SSM_POLL_INTERVAL how often a running SSM command is polled once it has run longer
//	                           than expected; the pause doubles up to a quarter of the expected
//	                           duration (default 2s)
//	ROLLWAVE_SSM_EXPECTED      how long a quick SSM command (update check, version lock, cancel)
//	                           typically takes, delivery included: its first poll (default 3s)
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
	SSMExpected     time.Duration
	LogLevel        zerolog.Level
	Metrics         bool
	MetricsInterval time.Duration
	DryRun          bool
	Visibility      time.Duration // 0: the queue's own visibility timeout
	Managed         managed.Config
	Lease           time.Duration
	// Clock is the time of the queue workers (NewWorker) and of the metrics (StartMetrics); nil
	// is clock.Real. Not read from the environment.
	Clock clock.Clock
}

// LoadCommon reads the shared settings; problems are recorded in r.
func LoadCommon(r *envconfig.Reader) Common {
	c := Common{
		Prefix:        r.String("ROLLWAVE_PREFIX", topology.DefaultPrefix),
		EventBus:      r.String("ROLLWAVE_EVENT_BUS", "default"),
		Concurrency:   r.Int("ROLLWAVE_CONCURRENCY", queue.DefaultConcurrency, envconfig.Min(1)),
		ShutdownGrace: r.Duration("ROLLWAVE_SHUTDOWN_GRACE", queue.DefaultShutdownGrace),
		SSMPoll:       r.Duration("ROLLWAVE_SSM_POLL_INTERVAL", 2*time.Second),
		SSMExpected:   r.Duration("ROLLWAVE_SSM_EXPECTED", DefaultSSMExpected),
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
func (c Common) Leaser(marks jobs.Marks, now func() time.Time) *jobs.Leaser {
	return &jobs.Leaser{Marks: marks, Duration: c.Lease, Now: now}
}

// Doc is the name of one of rollwave's SSM documents in this deployment.
func (c Common) Doc(k ssmdoc.Kind) string { return ssmdoc.Name(c.Prefix, k) }

// Logger is the worker's JSON logger (shared/logging: durations as "1.5s").
func (c Common) Logger(w io.Writer, service string) zerolog.Logger {
	return logging.New(w, c.LogLevel, service)
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
	p.Clock = c.Clock
	p.Record(Started(service, clock.OrReal(c.Clock).Now()))
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

// Queues returns the resolver of the deployment's queues through client: each queue the process
// uses is looked up once, when first needed (topology.Resolver). Make one per process and pass it
// to every NewWorker, and ask it for the URLs the worker forwards to.
func (c Common) Queues(client topology.QueueURLGetter) *topology.Resolver {
	return topology.NewResolver(client, topology.Default(c.Prefix))
}

// CountDeadLetters is a NewWorker option: each message the worker dead-letters counts in the
// DeadLetters metric of its queue, at the time of the worker's clock (queue.Config.Clock).
func CountDeadLetters(rec metrics.Recorder) func(*queue.Config) {
	return func(cfg *queue.Config) {
		cfg.OnDeadLetter = func(q string) {
			// cfg is read when a message is dead-lettered: the clock of the configuration the
			// worker was made with, whichever option set it.
			rec.Record(metrics.Counted(metrics.DeadLetters, clock.OrReal(cfg.Clock).Now(), map[string]string{metrics.Queue: q}))
		}
	}
}

// NewWorker makes the queue worker of one of the topology's queues, which queues locates (with its
// dead-letter queue); opts adjust its configuration (CountDeadLetters).
func (c Common) NewWorker(ctx context.Context, client queue.Client, queues *topology.Resolver, logical string, concurrency int, h queue.Handler, log zerolog.Logger, opts ...func(*queue.Config)) (*queue.Worker, error) {
	q, ok := queues.Topology().Queue(logical)
	if !ok {
		return nil, fmt.Errorf("queue %q is not in the topology", logical)
	}
	rq, err := queues.Queue(ctx, logical)
	if err != nil {
		return nil, err
	}
	cfg := queue.ConfigFor(q, rq)
	cfg.Concurrency = concurrency
	cfg.ShutdownGrace = c.ShutdownGrace
	cfg.Clock = c.Clock
	if c.Visibility > 0 {
		cfg.VisibilityTimeout = c.Visibility
	}
	for _, o := range opts {
		o(&cfg)
	}
	// The queue worker names its queue on every line it logs (queue.NewWorker).
	return queue.NewWorker(client, cfg, h, log)
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
