// Package verify is the verifier (run by the verifier command, and in-process by rollwave plan).
// It takes jobs at step verify from <prefix>-verifier, waits
// (woken by the ECS events on <prefix>-verifier-events, re-checking as a backstop) until the
// rebooted host's ECS agent and SSM agent are back, checks its version over SSM, and ends the job:
// ACTIVE and unmarked when updated, failed and marked failed when the host rolled back or never
// came back (kept out of service, or a rolled-back host returned to service pinned to its version
// where the cluster's onVerifyFailure policy says so). docs/architecture.md describes the
// contract.
package verify

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/service"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/version"
	"github.com/rollwave/rollwave/shared/wake"
)

// eventConcurrency bounds the handlers of the events queue; each only wakes waiters, so it is
// ten: one receive of SQS's maximum, and their deletes go out in one batch.
const eventConcurrency = 10

// Run is the verifier\'s process: it reads its configuration with getenv, connects to AWS and runs its two queue workers until ctx is cancelled.
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
	wakeups := wake.NewRegistry()
	wakeups.Clock = clk
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmClient.Clock = clk
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "verifier")
	defer stopMetrics()
	notifier := notify.New(dep.Events, cfg.EventBus, cfg.Prefix)
	drainerURL, err := queues.URL(ctx, topology.Drainer)
	if err != nil {
		return err
	}
	errorBudget := budget.New(sqsClient, drainerURL, notifier, cfg.policies)
	errorBudget.Now = clk.Now
	v := &verifier{
		boundary: managed.New(cfg.Managed, ecsClient),
		ecs:      ecsClient, ssm: ssmClient, marks: ecsClient, state: ecsClient,
		lease:   cfg.Leaser(ecsClient, clk.Now),
		ender:   &jobs.Ender{Marks: ecsClient, Events: notifier, Metrics: rec, Budget: errorBudget, By: by, Now: clk.Now},
		wakeups: wakeups, policy: cfg.policy, policies: cfg.policies, metrics: rec, dryRun: cfg.DryRun, now: clk.Now,
	}
	jobs, err := cfg.NewWorker(ctx, sqsClient, queues, topology.Verifier, cfg.Concurrency, v.handle, log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	events, err := cfg.NewWorker(ctx, sqsClient, queues, topology.VerifierEvents, eventConcurrency, wake.EventHandler(wakeups), log, service.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Str("version", version.String()).Dur("reboot_timeout", cfg.RebootTimeout).Dur("recheck", cfg.Recheck).
		Str("on_verify_failure", string(cfg.policies.Default.OnVerifyFailure)).Strs("policy_overrides", cfg.policies.Names()).Int("concurrency", cfg.Concurrency).
		Bool("metrics", cfg.Metrics).Bool("dry_run", cfg.DryRun).Msg("verifier started")
	return service.RunAll(ctx, jobs, events)
}
