// Package drain is the drainer (run by the drainer command, and in-process by rollwave plan). It
// takes jobs at step drain from <prefix>-drainer, admits each
// drain while its cluster can spare the instance, sets the instance DRAINING, waits (woken by the
// ECS events on <prefix>-drainer-events) until its tasks have moved, and forwards the job to
// <prefix>-patcher for the reboot. docs/architecture.md describes the contract.
package drain

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/alarm"
	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
	"github.com/rollwave/rollwave/shared/wake"
)

// eventConcurrency bounds the handlers of the events queue; each only wakes waiters, so it is
// ten: one receive of SQS's maximum, and their deletes go out in one batch.
const eventConcurrency = 10

// Run is the drainer\'s process: it reads its configuration with getenv, connects to AWS and runs its two queue workers until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return RunWith(ctx, getenv, stdout, service.AWSDeps)
}

// RunWith is Run on the dependencies deps returns, once the configuration is read: rollwave plan
// runs the worker in-process on a simulated fleet, in-memory queues and a virtual clock.
func RunWith(ctx context.Context, getenv func(string) string, stdout io.Writer, deps func(context.Context) (service.Deps, error)) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	log := cfg.Logger(stdout, by)
	dep, err := deps(ctx)
	if err != nil {
		return err
	}
	awsCfg, sqsClient, clk := dep.AWS, dep.SQS, clock.OrReal(dep.Clock)
	cfg.Clock, cfg.Managed.Clock = clk, clk
	queues := cfg.Queues(sqsClient)
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmClient.Clock = clk
	patcherURL, err := queues.URL(ctx, topology.Patcher)
	if err != nil {
		return err
	}
	rebootURL, err := queues.URL(ctx, topology.Reboot)
	if err != nil {
		return err
	}
	drainerURL, err := queues.URL(ctx, topology.Drainer)
	if err != nil {
		return err
	}
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "drainer")
	defer stopMetrics()
	notifier := notify.New(dep.Events, cfg.EventBus, cfg.Prefix)
	errorBudget := budget.New(sqsClient, drainerURL, notifier, cfg.Policies)
	errorBudget.Now = clk.Now
	ender := &jobs.Ender{Marks: ecsClient, Events: notifier, Metrics: rec, Budget: errorBudget, By: by, Now: clk.Now}
	wakeups := wake.NewRegistry()
	wakeups.Clock = clk
	forward := queue.NewPublisher(sqsClient)
	forward.Clock = clk
	pauses := pause.NewCache(sqsClient, drainerURL, cfg.PauseRefresh)
	pauses.Clock = clk
	room := wake.NewRoom(clk.Now)
	d := &drainer{
		ecs: newSharedReads(ecsClient), marks: ecsClient, state: ecsClient, ender: ender, lease: cfg.Leaser(ecsClient, clk.Now),
		undo: &jobs.Undoer{
			State: ecsClient, Commands: ssmClient, Ender: ender,
			CheckDoc: cfg.Doc(ssmdoc.Check), CancelDoc: cfg.Doc(ssmdoc.Cancel),
			SSM: cfg.Quick(0),
		},
		forward: forward, patcherURL: patcherURL, rebootURL: rebootURL,
		wakeups: wakeups, room: room, visibility: sqsClient, queueURL: drainerURL, policy: cfg.policy, policies: cfg.Policies, managed: managed.New(cfg.Managed, ecsClient), now: clk.Now, clock: clk, jitter: jitter,
		pauses: pauses, metrics: rec, dryRun: cfg.DryRun,
		halts: &clusterHalter{tags: sqsClient, queueURL: drainerURL, events: notifier}, stopper: ecsClient, events: ender,
	}
	if !cfg.Alarms.IsZero() || cfg.Policies.OwnAlarms() {
		d.alarms = &alarmGates{sel: cfg.Alarms, halt: cfg.AlarmHalt, events: notifier,
			watcher: alarm.New(metrics.NewClient(awsCfg), cfg.AlarmRefresh, clk.Now)}
		d.extraGates = append(d.extraGates, gate{name: "alarm", check: d.alarmGate})
	}
	if !cfg.Stages.IsZero() {
		d.promotion = newPromotionStore(cfg.Stages, ecsClient, sqsClient, drainerURL, cfg.PauseRefresh, clk.Now)
		d.promotionEvents = notifier
	}
	jobs, err := cfg.NewWorker(ctx, sqsClient, queues, topology.Drainer, cfg.Concurrency, d.handle, log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	events, err := cfg.NewWorker(ctx, sqsClient, queues, topology.DrainerEvents, eventConcurrency, wake.EventHandler(wakeups, room), log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Str("version", version.String()).Str("limit", cfg.Policies.Default.MaxOutOfService.String()).Int("global_limit", cfg.Policies.GlobalMaxOutOfService).Strs("overrides", cfg.Policies.Names()).Dur("drain_timeout", cfg.policy.DrainTimeout).Dur("recheck", cfg.policy.Recheck).Dur("waiting_threshold", cfg.policy.WaitingThreshold).
		Str("standalone_tasks", string(cfg.Policies.Default.Standalone)).Str("window", cfg.Policies.Default.Window.String()).Int("concurrency", cfg.Concurrency).
		Dur("admission_backstop", cfg.policy.AdmissionBackstop).Dur("pause_refresh", cfg.PauseRefresh).Bool("metrics", cfg.Metrics).Bool("dry_run", cfg.DryRun).Stringer("stages", cfg.Stages).Msg("drainer started")
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		d.watchResumes(watchCtx, cfg.PauseRefresh)
	}()
	err = service.RunAll(ctx, jobs, events)
	stopWatch()
	<-watched
	return err
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
