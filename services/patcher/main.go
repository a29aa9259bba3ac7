// Command patcher stages Bottlerocket updates while an instance still serves traffic (`apiclient
// update apply`, no reboot) and, once the drainer has drained the instance, reboots it exactly once
// (`apiclient reboot`). It is the intake of every job: the scanner's and a person's.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
)

func main() { service.Main("patcher", run) }

// run wires the patcher to AWS and runs its two queue workers, the stage lane and the reboot
// lane, until ctx is cancelled.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	log := cfg.Logger(stdout, "patcher")
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
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
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "patcher")
	defer stopMetrics()
	events := notify.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBus, cfg.Prefix)
	p := newPatcher(cfg, ecsClient, ssmClient, queue.NewPublisher(sqsClient), events, time.Now)
	p.drainerURL, p.verifyURL, p.patcherURL = drainerURL, verifyURL, patcherURL
	p.metrics, p.ender.Metrics = rec, rec
	p.ender.Budget = budget.New(sqsClient, drainerURL, events, cfg.Policies)
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
