// Command drainer is rollwave's drainer: it takes jobs at step drain from <prefix>-drainer,
// admits each drain while its cluster can spare the instance, sets the instance DRAINING, waits
// (woken by the ECS events on <prefix>-drainer-events) until its tasks have moved, and forwards
// the job to <prefix>-patcher for the reboot. docs/architecture.md describes the contract.
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // maintenance windows name IANA zones; the image has no zoneinfo

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainer:", err)
		os.Exit(1)
	}
}

// eventConcurrency bounds the handlers of the events queue; each only wakes waiters.
const eventConcurrency = 4

// run wires the drainer to AWS and runs its two queue workers until ctx is cancelled.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if done, err := pipeline.Args("drainer", args, stdout); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	log := cfg.Logger(stdout, by)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	patcherURL, err := cfg.QueueURL(ctx, sqsClient, topology.Patcher)
	if err != nil {
		return err
	}
	drainerURL, err := cfg.QueueURL(ctx, sqsClient, topology.Drainer)
	if err != nil {
		return err
	}
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "drainer")
	defer stopMetrics()
	notifier := notify.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBus)
	errorBudget, err := budget.Load(getenv, sqsClient, drainerURL, notifier)
	if err != nil {
		return err
	}
	ender := &pipeline.Ender{Marks: ecsClient, Events: notifier, Metrics: rec, Budget: errorBudget, By: by, Now: time.Now}
	wakeups := pipeline.NewWakeups()
	d := &drainer{
		ecs: ecsClient, marks: ecsClient, state: ecsClient, ender: ender, lease: cfg.Leaser(ecsClient, time.Now),
		undo: &pipeline.Undoer{
			State: ecsClient, Commands: ssmClient, Ender: ender,
			CheckDoc: cfg.Doc(ssmdoc.Check), CancelDoc: cfg.Doc(ssmdoc.Cancel),
			SSM: ssmcommand.Options{PollInterval: cfg.SSMPoll},
		},
		forward: queue.NewPublisher(sqsClient), patcherURL: patcherURL,
		wakeups: wakeups, policy: cfg.policy, policies: cfg.Policies, managed: managed.New(cfg.Managed, ecsClient), now: time.Now, jitter: jitter,
		pauses: pause.NewCache(sqsClient, drainerURL, cfg.PauseRefresh), metrics: rec, dryRun: cfg.DryRun,
		halts: &clusterHalter{tags: sqsClient, queueURL: drainerURL, events: notifier}, stopper: ecsClient, events: ender,
	}
	jobs, err := cfg.NewWorker(ctx, sqsClient, topology.Drainer, cfg.Concurrency, d.handle, log, pipeline.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	events, err := cfg.NewWorker(ctx, sqsClient, topology.DrainerEvents, eventConcurrency, pipeline.EventHandler(wakeups), log, pipeline.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Str("version", version.String()).Str("limit", cfg.Policies.Default.MaxOutOfService.String()).Int("globalLimit", cfg.Policies.GlobalMaxOutOfService).Strs("overrides", cfg.Policies.Names()).Dur("drainTimeout", cfg.policy.DrainTimeout).Dur("recheck", cfg.policy.Recheck).Dur("waitingThreshold", cfg.policy.WaitingThreshold).
		Str("standaloneTasks", string(cfg.Policies.Default.Standalone)).Str("window", cfg.Policies.Default.Window.String()).Int("concurrency", cfg.Concurrency).
		Dur("pauseRefresh", cfg.PauseRefresh).Bool("metrics", cfg.Metrics).Bool("dryRun", cfg.DryRun).Msg("drainer started")
	return pipeline.RunAll(ctx, jobs, events)
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
