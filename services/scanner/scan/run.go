// Package scan is the scanner (run by the scanner command, and in-process by rollwave plan). The
// scanner finds the Bottlerocket container instances of the configured ECS clusters that have an
// update, and sends one job per instance to the patcher's queue. It runs when a scan request
// arrives on its queue: from a schedule in AWS, from a person (`rollwave scan`), or from `make
// demo` locally.
package scan

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
)

// Run is the scanner\'s process: it reads its configuration with getenv, connects to AWS and runs its queue worker until ctx is cancelled.
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
	log := cfg.Logger(stdout, "scanner")
	dep, err := deps(ctx)
	if err != nil {
		return err
	}
	awsCfg, sqsClient, clk := dep.AWS, dep.SQS, clock.OrReal(dep.Clock)
	cfg.Clock, cfg.Managed.Clock = clk, clk
	queues := cfg.Queues(sqsClient)
	patcherURL, err := queues.URL(ctx, topology.Patcher)
	if err != nil {
		return err
	}
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmClient.Clock = clk
	jobsOut := queue.NewPublisher(sqsClient)
	jobsOut.Clock = clk
	templates := launchtemplate.New(ec2.NewFromConfig(awsCfg), autoscaling.NewFromConfig(awsCfg), ssm.NewFromConfig(awsCfg))
	templates.Clock = clk
	ssmOpts := cfg.Quick(cfg.SSMTimeout)
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "scanner")
	defer stopMetrics()
	events := notify.New(dep.Events, cfg.EventBus, cfg.Prefix)
	s := &scanner{
		managed:   managed.New(cfg.Managed, ecsClient),
		instances: ecsClient,
		commands:  ssmClient,
		reclaim: &reclaimer{
			ecs: ecsClient, commands: ssmClient, events: events, metrics: rec,
			checkDoc: cfg.Doc(ssmdoc.Check), cancelDoc: cfg.Doc(ssmdoc.Cancel), ssm: ssmOpts, lease: cfg.Lease, now: clk.Now,
		},
		jobs:       jobsOut,
		patcherURL: patcherURL,
		checkDoc:   cfg.Doc(ssmdoc.Check),
		ssm:        ssmOpts,
		dryRun:     cfg.DryRun,
		target:     cfg.Target,
		stages:     cfg.Stages,
		now:        clk.Now,
		launch: &launchFollower{
			mode:      cfg.LaunchTemplates,
			templates: templates,
			instances: ecsClient, events: events, metrics: rec,
		},
	}
	w, err := cfg.NewWorker(ctx, sqsClient, queues, topology.Scanner, cfg.Concurrency, s.handle, log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	ev := log.Info().Str("version", version.String()).Strs("clusters", cfg.Managed.Clusters)
	if cfg.Managed.Tag != nil {
		ev = ev.Stringer("cluster_tag", cfg.Managed.Tag)
	}
	ev.Msg("scanner started")
	return service.RunAll(ctx, w)
}
