// Command scanner finds the Bottlerocket container instances of the configured ECS clusters that
// have an update, and sends one job per instance to the patcher's queue. It runs when a scan
// request arrives on its queue: from a schedule in AWS, from a person (`rollwave scan`), or from
// `make demo` locally.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

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

func main() { service.Main("scanner", run) }

// run wires the scanner to AWS and runs its queue worker until ctx is cancelled.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	log := cfg.Logger(stdout, "scanner")
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	queues := cfg.Queues(sqsClient)
	patcherURL, err := queues.URL(ctx, topology.Patcher)
	if err != nil {
		return err
	}
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmOpts := cfg.Quick(cfg.SSMTimeout)
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "scanner")
	defer stopMetrics()
	events := notify.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBus, cfg.Prefix)
	s := &scanner{
		managed:   managed.New(cfg.Managed, ecsClient),
		instances: ecsClient,
		commands:  ssmClient,
		reclaim: &reclaimer{
			ecs: ecsClient, commands: ssmClient, events: events, metrics: rec,
			checkDoc: cfg.Doc(ssmdoc.Check), cancelDoc: cfg.Doc(ssmdoc.Cancel), ssm: ssmOpts, lease: cfg.Lease, now: time.Now,
		},
		jobs:       queue.NewPublisher(sqsClient),
		patcherURL: patcherURL,
		checkDoc:   cfg.Doc(ssmdoc.Check),
		ssm:        ssmOpts,
		dryRun:     cfg.DryRun,
		target:     cfg.Target,
		stages:     cfg.Stages,
		now:        time.Now,
		launch: &launchFollower{
			mode:      cfg.LaunchTemplates,
			templates: launchtemplate.New(ec2.NewFromConfig(awsCfg), autoscaling.NewFromConfig(awsCfg), ssm.NewFromConfig(awsCfg)),
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
