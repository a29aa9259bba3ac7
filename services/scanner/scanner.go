package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pipeline"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/version"
)

// candidateFilter selects, on the server, the Bottlerocket instances that no rollwave job owns
// yet and that no person opted out (rollwave.optout, any value).
const candidateFilter = "attribute:bottlerocket.variant exists and attribute:" + update.AttrJob + " !exists and attribute:" + update.AttrOptOut + " !exists"

type instanceLister interface {
	ListInstances(ctx context.Context, cluster, status, filter string) ([]cluster.Instance, error)
}

// managedClusters is the trust boundary (*managed.Set): the clusters a scan may look at.
type managedClusters interface {
	Lookup(ctx context.Context, name string) (managed.Cluster, bool, error)
	Resolve(ctx context.Context) ([]managed.Cluster, error)
}

type jobSender interface {
	Send(ctx context.Context, queueURL string, body []byte, delay time.Duration, attrs map[string]string) (string, error)
}

// scanner handles scan requests.
type scanner struct {
	// managed are the clusters of the deployment: a request without clusters scans them all,
	// one that names another goes to the dead-letter queue.
	managed   managedClusters
	instances instanceLister
	commands  pipeline.Runner
	// reclaim takes back the cluster's orphaned instances before each scan of it.
	reclaim    *reclaimer
	jobs       jobSender
	patcherURL string
	checkDoc   string
	ssm        ssmcommand.Options
	// dryRun makes every job it sends a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	now    func() time.Time
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if done, err := pipeline.Args("scanner", args, stdout); done || err != nil {
		return err
	}
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
	ecsClient := cluster.New(ecs.NewFromConfig(awsCfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(awsCfg))
	ssmOpts := ssmcommand.Options{Wait: cfg.SSMTimeout, PollInterval: cfg.SSMPoll}
	rec, stopMetrics := cfg.StartMetrics(ctx, awsCfg, log, "scanner")
	defer stopMetrics()
	s := &scanner{
		managed:   managed.New(cfg.Managed, ecsClient),
		instances: ecsClient,
		commands:  ssmClient,
		reclaim: &reclaimer{
			ecs: ecsClient, commands: ssmClient, events: notify.New(eventbridge.NewFromConfig(awsCfg), cfg.EventBus), metrics: rec,
			checkDoc: cfg.Doc(ssmdoc.Check), cancelDoc: cfg.Doc(ssmdoc.Cancel), ssm: ssmOpts, lease: cfg.Lease, now: time.Now,
		},
		jobs:       queue.NewPublisher(sqsClient),
		patcherURL: patcherURL,
		checkDoc:   cfg.Doc(ssmdoc.Check),
		ssm:        ssmOpts,
		dryRun:     cfg.DryRun,
		now:        time.Now,
	}
	w, err := cfg.NewWorker(ctx, sqsClient, topology.Scanner, cfg.Concurrency, s.handle, log, pipeline.CountDeadLetters(rec))
	if err != nil {
		return err
	}
	ev := log.Info().Str("version", version.String()).Strs("clusters", cfg.Managed.Clusters)
	if cfg.Managed.Tag != nil {
		ev = ev.Stringer("clusterTag", cfg.Managed.Tag)
	}
	ev.Msg("scanner started")
	return pipeline.RunAll(ctx, w)
}

// handle scans the requested clusters, or every managed cluster when the request names none. A
// request that names a cluster the deployment does not manage goes to the dead-letter queue with
// reason cluster-not-managed, before anything is scanned. A cluster that cannot be listed is
// logged and skipped; the request is retried only when every cluster failed for a transient
// reason, so one bad cluster never blocks the others.
func (s *scanner) handle(ctx context.Context, m queue.Message) queue.Outcome {
	req, err := update.DecodeScan(m.Body)
	if err != nil {
		return queue.Poison(err.Error())
	}
	log := queue.Logger(ctx)
	clusters, out, ok := s.clustersOf(ctx, req)
	if !ok {
		return out
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

// clustersOf returns the clusters a request scans, by name, each once: those it names, each of
// which must be managed, or else every managed cluster, resolved now (the clusters carrying
// ROLLWAVE_CLUSTER_TAG at the time of the scan). When ok is false the handler returns out: the
// dead-letter queue for a cluster outside the boundary, a retry when the boundary could not be
// resolved (scanning only part of the fleet silently would look like success).
func (s *scanner) clustersOf(ctx context.Context, req update.ScanRequest) (names []string, out queue.Outcome, ok bool) {
	if len(req.Clusters) == 0 {
		all, err := s.managed.Resolve(ctx)
		if err != nil {
			return nil, queue.Retry(fmt.Errorf("resolve the managed clusters: %w", err)), false
		}
		if len(all) == 0 {
			queue.Logger(ctx).Warn().Msg("no cluster is managed: none carries the tag")
		}
		for _, c := range all {
			names = append(names, c.Name)
		}
		return names, queue.Outcome{}, true
	}
	for _, name := range req.Clusters {
		c, found, err := s.managed.Lookup(ctx, name)
		if err != nil {
			return nil, queue.Retry(fmt.Errorf("resolve the managed clusters: %w", err)), false
		}
		if !found {
			return nil, queue.Poison(managed.NotManaged(name)), false
		}
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names, queue.Outcome{}, true
}

type candidate struct {
	inst   cluster.Instance
	status bottlerocket.Status
}

// scanCluster sends a job for each instance of the cluster that has an update and no job yet.
func (s *scanner) scanCluster(ctx context.Context, scanID, clusterName string, req update.ScanRequest) (int, error) {
	log := queue.Logger(ctx).With().Str("cluster", clusterName).Logger()
	// Orphans first: an instance reclaimed now is a candidate of this very scan.
	if _, err := s.reclaim.reclaimCluster(ctx, clusterName, req.DryRun || s.dryRun); err != nil {
		return 0, err
	}
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
	sent := 0
	for _, c := range order(found) {
		if err := s.sendJob(ctx, scanID, clusterName, req, c); err != nil {
			return sent, err
		}
		sent++
	}
	log.Info().Int("instances", len(ids)).Int("jobs", sent).Msg("cluster scanned")
	return sent, nil
}

func (s *scanner) sendJob(ctx context.Context, scanID, clusterName string, req update.ScanRequest, c candidate) error {
	by, reason := req.Requester()
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

// order returns the order in which the candidates of one cluster get their jobs: oldest version
// first (the instances furthest behind are updated first); within a version, availability zones
// interleaved, so that consecutive jobs take instances of different zones out of service (the
// zone with the most instances left goes next, never the zone of the previous job while another
// has some, ties by zone name); then by EC2 instance ID, so that the same fleet always gives the
// same order. Versions that do not parse compare equal.
func order(cs []candidate) []candidate {
	sorted := slices.Clone(cs)
	slices.SortStableFunc(sorted, func(a, b candidate) int {
		if c, err := bottlerocket.Compare(a.status.ActiveVersion(), b.status.ActiveVersion()); err == nil && c != 0 {
			return c
		}
		return strings.Compare(a.inst.EC2InstanceID, b.inst.EC2InstanceID)
	})
	out := make([]candidate, 0, len(sorted))
	lastAZ, first := "", true
	for len(sorted) > 0 {
		// The group of the oldest version left.
		n := 1
		for n < len(sorted) {
			if c, err := bottlerocket.Compare(sorted[0].status.ActiveVersion(), sorted[n].status.ActiveVersion()); err == nil && c != 0 {
				break
			}
			n++
		}
		byAZ := map[string][]candidate{}
		for _, c := range sorted[:n] {
			byAZ[c.inst.AZ] = append(byAZ[c.inst.AZ], c)
		}
		azs := slices.Sorted(maps.Keys(byAZ))
		for left := n; left > 0; left-- {
			next, found := "", false
			for _, az := range azs {
				q := byAZ[az]
				if len(q) == 0 || !first && az == lastAZ && othersLeft(byAZ, az) {
					continue
				}
				if !found || len(q) > len(byAZ[next]) {
					next, found = az, true
				}
			}
			out = append(out, byAZ[next][0])
			byAZ[next] = byAZ[next][1:]
			lastAZ, first = next, false
		}
		sorted = sorted[n:]
	}
	return out
}

// othersLeft reports whether a zone other than az has candidates left.
func othersLeft(byAZ map[string][]candidate, az string) bool {
	for z, q := range byAZ {
		if z != az && len(q) > 0 {
			return true
		}
	}
	return false
}

// jobID is the same for the same scan request and instance, so a scan redelivered after a crash
// sends jobs the patcher recognises as the ones it already has, not duplicates.
func jobID(scanID, instanceARN string) string {
	sum := sha256.Sum256([]byte(scanID + "/" + instanceARN))
	return "j-" + hex.EncodeToString(sum[:10])
}
