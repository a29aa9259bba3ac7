package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

// candidateFilter selects the Bottlerocket instances that no rollwave job owns yet, on the server.
const candidateFilter = "attribute:bottlerocket.variant exists and attribute:" + update.AttrJob + " !exists"

type instanceLister interface {
	ListInstances(ctx context.Context, cluster, status, filter string) ([]cluster.Instance, error)
}

type jobSender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

// scanner handles scan requests.
type scanner struct {
	clusters   []string
	instances  instanceLister
	commands   pipeline.Runner
	jobs       jobSender
	patcherURL string
	checkDoc   string
	ssm        ssmcommand.Options
	// dryRun makes every job it sends a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := cfg.Logger(stdout, "scanner")
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	patcherURL, err := cfg.QueueURL(ctx, sqsClient, topology.Patcher)
	if err != nil {
		return err
	}
	s := &scanner{
		clusters:   cfg.Clusters,
		instances:  cluster.New(ecs.NewFromConfig(awsCfg)),
		commands:   ssmcommand.New(ssm.NewFromConfig(awsCfg)),
		jobs:       queue.NewPublisher(sqsClient),
		patcherURL: patcherURL,
		checkDoc:   cfg.Doc(ssmdoc.Check),
		ssm:        ssmcommand.Options{Wait: cfg.SSMTimeout, PollInterval: cfg.SSMPoll},
		dryRun:     cfg.DryRun,
		now:        time.Now,
	}
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log)
	defer stopMetrics()
	w, err := cfg.NewWorker(ctx, sqsClient, topology.Scanner, cfg.Concurrency, s.handle, log, pipeline.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	log.Info().Strs("clusters", cfg.Clusters).Msg("scanner started")
	return pipeline.RunAll(ctx, w)
}

// handle scans the requested clusters. A cluster that cannot be listed is logged and skipped; the
// request is retried only when every cluster failed for a transient reason, so one bad cluster
// name never blocks the others.
func (s *scanner) handle(ctx context.Context, m queue.Message) queue.Outcome {
	req, err := update.DecodeScan(m.Body)
	if err != nil {
		return queue.Poison(err.Error())
	}
	log := queue.Logger(ctx)
	clusters := req.Clusters
	if len(clusters) == 0 {
		clusters = s.clusters
	}
	var transient []error
	sent := 0
	for _, c := range clusters {
		n, err := s.scanCluster(ctx, m.ID, c, req)
		sent += n
		switch {
		case err == nil:
		case cluster.IsTransient(err) || ssmcommand.IsTransient(err):
			transient = append(transient, err)
			log.Warn().Err(err).Str("cluster", c).Msg("scan cluster")
		case ctx.Err() != nil:
			return queue.Retry(ctx.Err())
		default:
			log.Error().Err(err).Str("cluster", c).Msg("scan cluster")
		}
	}
	if len(transient) == len(clusters) && len(transient) > 0 {
		return queue.Retry(errors.Join(transient...))
	}
	log.Info().Int("clusters", len(clusters)).Int("jobs", sent).Msg("scan finished")
	return queue.Done()
}

type candidate struct {
	inst   cluster.Instance
	status bottlerocket.Status
}

// scanCluster sends a job for each instance of the cluster that has an update and no job yet.
func (s *scanner) scanCluster(ctx context.Context, scanID, clusterName string, req update.ScanRequest) (int, error) {
	log := queue.Logger(ctx).With().Str("cluster", clusterName).Logger()
	instances, err := s.instances.ListInstances(ctx, clusterName, cluster.StatusActive, candidateFilter)
	if err != nil {
		return 0, fmt.Errorf("list instances of %s: %w", clusterName, err)
	}
	byID := map[string]cluster.Instance{}
	ids := make([]string, 0, len(instances))
	for _, in := range instances {
		byID[in.EC2InstanceID] = in
		ids = append(ids, in.EC2InstanceID)
	}
	if len(ids) == 0 {
		log.Info().Msg("no Bottlerocket instance without a job")
		return 0, nil
	}
	results, err := s.commands.Run(ctx, s.checkDoc, ids, s.ssm)
	if err != nil {
		return 0, fmt.Errorf("check updates in %s: %w", clusterName, err)
	}
	var found []candidate
	for _, id := range ids {
		res := results[id]
		if !res.OK() {
			log.Warn().Str("instance", id).Str("status", string(res.Status)).AnErr("cause", res.Err).
				Str("stderr", res.Stderr).Msg("update check failed; instance left for the next scan")
			continue
		}
		st, err := bottlerocket.ParseUpdateCheck([]byte(res.Stdout))
		if err != nil {
			log.Warn().Str("instance", id).Err(err).Msg("unreadable update check; instance left for the next scan")
			continue
		}
		if !st.HasUpdate() {
			log.Debug().Str("instance", id).Str("version", st.ActiveVersion()).Msg("up to date")
			continue
		}
		found = append(found, candidate{inst: byID[id], status: st})
	}
	// Oldest version first: the instances furthest behind are updated first.
	sort.SliceStable(found, func(i, j int) bool {
		c, err := bottlerocket.Compare(found[i].status.ActiveVersion(), found[j].status.ActiveVersion())
		return err == nil && c < 0
	})
	sent := 0
	for _, c := range found {
		if err := s.sendJob(ctx, scanID, clusterName, req, c); err != nil {
			return sent, err
		}
		sent++
	}
	log.Info().Int("instances", len(ids)).Int("jobs", sent).Msg("cluster scanned")
	return sent, nil
}

func (s *scanner) sendJob(ctx context.Context, scanID, clusterName string, req update.ScanRequest, c candidate) error {
	by := "scanner"
	if req.RequestedBy != "" {
		by = "scanner for " + req.RequestedBy
	}
	reason := req.Reason
	if reason == "" {
		reason = "scheduled scan"
	}
	job := update.Job{
		Schema:               update.Schema,
		ID:                   jobID(scanID, c.inst.ARN),
		Cluster:              clusterName,
		Instance:             c.inst.EC2InstanceID,
		TargetVersion:        c.status.ChosenVersion(),
		RequestedBy:          by,
		Reason:               reason,
		DryRun:               req.DryRun || s.dryRun,
		ContainerInstanceARN: c.inst.ARN,
		EC2InstanceID:        c.inst.EC2InstanceID,
		FromVersion:          c.status.ActiveVersion(),
	}
	if err := job.Advance(update.StepStage, "scanner", fmt.Sprintf("update state %s, %s available", c.status.UpdateState, c.status.ChosenVersion()), s.now()); err != nil {
		return err
	}
	body, err := update.Encode(job)
	if err != nil {
		return fmt.Errorf("encode job for %s: %w", c.inst.EC2InstanceID, err)
	}
	if _, err := s.jobs.Send(ctx, s.patcherURL, body, 0, nil); err != nil {
		return fmt.Errorf("send job for %s: %w", c.inst.EC2InstanceID, err)
	}
	queue.Logger(ctx).Info().Str("job", job.ID).Str("cluster", clusterName).Str("instance", job.Instance).
		Str("fromVersion", job.FromVersion).Str("targetVersion", job.TargetVersion).Msg("job sent")
	return nil
}

// jobID is the same for the same scan request and instance, so a scan redelivered after a crash
// sends jobs the patcher recognises as the ones it already has, not duplicates.
func jobID(scanID, instanceARN string) string {
	sum := sha256.Sum256([]byte(scanID + "/" + instanceARN))
	return "j-" + hex.EncodeToString(sum[:10])
}
