// Package patch is the patcher (run by the patcher command, and in-process by rollwave plan). The
// patcher stages Bottlerocket updates while an instance still serves traffic (`apiclient update
// apply`, no reboot) and, once the drainer has drained the instance, reboots it exactly once
// (`apiclient reboot`). It is the intake of every job: the scanner's and a person's.
package patch

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
)

// Run is the patcher\'s process: it reads its configuration with getenv, connects to AWS and runs its two queue workers, the stage lane and the reboot
// lane, until ctx is cancelled.
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
	log := cfg.Logger(stdout, "patcher")
	dep, err := deps(ctx)
	if err != nil {
		return err
	}
	awsCfg, sqsClient, clk := dep.AWS, dep.SQS, clock.OrReal(dep.Clock)
	cfg.Clock, cfg.Managed.Clock = clk, clk
	queues := cfg.Queues(sqsClient)
	drainerURL, err := queues.URL(ctx, topology.Drainer)
	if err != nil {
		return err
	}
	verifyURL, err := queues.URL(ctx, topology.Verifier)
	if err != nil {
		return err
	}
	patcherURL, err := queues.URL(ctx, topology.Patcher)
	if err != nil {
		return err
	}
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmClient.Clock = clk
	jobsOut := queue.NewPublisher(sqsClient)
	jobsOut.Clock = clk
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "patcher")
	defer stopMetrics()
	events := notify.New(dep.Events, cfg.EventBus, cfg.Prefix)
	p := newPatcher(cfg, ecsClient, ssmClient, jobsOut, events, clk.Now)
	p.ahead.now, p.ahead.clock = clk.Now, clk
	p.drainerURL, p.verifyURL, p.patcherURL = drainerURL, verifyURL, patcherURL
	p.metrics, p.ender.Metrics = rec, rec
	errorBudget := budget.New(sqsClient, drainerURL, events, cfg.Policies)
	errorBudget.Now = clk.Now
	p.ender.Budget = errorBudget
	// Two lanes, each with its own handlers, so that a reboot never waits behind staging
	// (docs/decisions/lanes.md).
	stageLane, err := cfg.NewWorker(ctx, sqsClient, queues, topology.Patcher, cfg.Concurrency+cfg.StageWaiting, p.handle, log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	rebootLane, err := cfg.NewWorker(ctx, sqsClient, queues, topology.Reboot, cfg.RebootConcurrency, p.handleReboot, log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Str("version", version.String()).Bool("metrics", cfg.Metrics).Bool("dry_run", cfg.DryRun).
		Int("stage_concurrency", cfg.Concurrency).Int("reboot_concurrency", cfg.RebootConcurrency).Msg("patcher started")
	return service.RunAll(ctx, stageLane, rebootLane)
}
