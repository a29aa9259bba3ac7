package scan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/bottlerocket"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/update"
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

// jobSender sends a cluster's jobs in batches (*queue.Publisher): the ID of each message sent, ""
// for one not sent, and an error naming each one not sent.
type jobSender interface {
	SendBatch(ctx context.Context, queueURL string, msgs []queue.Outgoing) ([]string, error)
}

// scanner handles scan requests.
type scanner struct {
	// managed are the clusters of the deployment: a request without clusters scans them all,
	// one that names another goes to the dead-letter queue.
	managed   managedClusters
	instances instanceLister
	commands  ssmcommand.Runner
	// reclaim takes back the cluster's orphaned instances before each scan of it.
	reclaim    *reclaimer
	jobs       jobSender
	patcherURL string
	checkDoc   string
	ssm        ssmcommand.Options
	// dryRun makes every job it sends a dry run (ROLLWAVE_DRY_RUN).
	dryRun bool
	// target is the rollout's target policy (ROLLWAVE_TARGET_VERSION) when a request names none.
	target update.Target
	// stages is the staged promotion (ROLLWAVE_STAGES); zero for none.
	stages promotion.Plan
	// launch follows a cluster's completed rollout into its launch templates (nil: never).
	launch *launchFollower
	now    func() time.Time
}

// handle scans the requested clusters, or every managed cluster when the request names none. A
// request that names a cluster the deployment does not manage goes to the dead-letter queue with
// reason cluster-not-managed, before anything is scanned. A cluster that cannot be listed is
// logged and skipped; the request is retried only when every cluster failed for a transient
// reason (jobs the queue did not take count as one), so one bad cluster never blocks the others.
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
	target := s.target
	if req.TargetVersion != "" {
		target, _ = update.ParseTarget(req.TargetVersion) // DecodeScan refused one that does not parse
	}
	if target.IsZero() && !s.stages.IsZero() {
		// A promotion promotes one version: without a target, the newest one offered.
		target, _ = update.ParseTarget("latest")
	}
	failed := map[string]error{}
	// fail records the failure of cluster c; it reports false when the request must be retried
	// at once (the handler's context ended).
	fail := func(c string, err error) bool {
		switch {
		case cluster.IsTransient(err) || ssmcommand.IsTransient(err) || errors.Is(err, errJobsNotSent):
			failed[c] = err
			log.Warn().Err(err).Str("cluster", c).Msg("scan cluster")
		case ctx.Err() != nil:
			return false
		default:
			failed[c] = nil // logged, not retried
			log.Error().Err(err).Str("cluster", c).Msg("scan cluster")
		}
		return true
	}
	checked := map[string][]candidate{}
	for _, c := range clusters {
		found, err := s.checkCluster(ctx, c, req)
		if err != nil && !fail(c, err) {
			return queue.Retry(ctx.Err())
		}
		checked[c] = found
	}
	version := ""
	if !target.IsZero() {
		var checks []bottlerocket.Status
		for _, c := range s.firstStage(clusters) {
			for _, cd := range checked[c] {
				checks = append(checks, cd.status)
			}
		}
		v, ok := target.Resolve(checks)
		if ok {
			log.Info().Stringer("target", target).Str("target_version", v).Msg("rollout version chosen")
		} else {
			log.Info().Stringer("target", target).Msg("no job: no host is offered a version the target allows")
		}
		version = v
	}
	needs := map[string][]candidate{}
	for _, c := range clusters {
		if _, ok := failed[c]; ok {
			continue
		}
		if !target.IsZero() && version == "" {
			s.launch.follow(ctx, c, checked[c], req.DryRun || s.dryRun)
			continue
		}
		needs[c] = order(s.needing(ctx, checked[c], version))
	}
	started := s.now().UTC()
	sent := 0
	for _, c := range clusters {
		if _, ok := needs[c]; !ok {
			continue
		}
		prom, unknown := s.promotionOf(c, needs, failed, started)
		if unknown != "" {
			// Its count of jobs is unknown: the stage could start before that cluster took the version.
			log.Warn().Str("cluster", c).Str("unscanned", unknown).Msg("no job sent: a cluster of an earlier stage could not be scanned")
			continue
		}
		n, err := s.sendJobs(ctx, m.ID, c, req, needs[c], version, prom)
		sent += n
		if err != nil && !fail(c, err) {
			return queue.Retry(ctx.Err())
		}
		if err == nil {
			queue.Logger(ctx).Info().Str("cluster", c).Int("instances", len(checked[c])).Int("jobs", n).Msg("cluster scanned")
			if len(needs[c]) == 0 {
				s.launch.follow(ctx, c, checked[c], req.DryRun || s.dryRun)
			}
		}
	}
	var transient []error
	for _, err := range failed {
		if err != nil {
			transient = append(transient, err)
		}
	}
	if len(transient) == len(clusters) && len(transient) > 0 {
		return queue.Retry(errors.Join(transient...))
	}
	log.Info().Int("clusters", len(clusters)).Int("jobs", sent).Msg("scan finished")
	return queue.Done()
}

// firstStage returns the clusters of the first stage among clusters, whose hosts choose a
// promotion's version; without stages, or with none of them staged, every cluster.
func (s *scanner) firstStage(clusters []string) []string {
	first, out := len(s.stages.Stages), []string(nil)
	for _, c := range clusters {
		i, ok := s.stages.StageOf(c)
		switch {
		case !ok:
		case i < first:
			first, out = i, []string{c}
		case i == first:
			out = append(out, c)
		}
	}
	if out == nil {
		return clusters
	}
	return out
}

// promotionOf is the promotion of the jobs of cluster c, sent at started with the others of
// needs (the jobs of each cluster scanned; failed, those that could not be): c's stage and the jobs of each stage before it; nil
// for a cluster in no stage (or without stages), whose jobs the promotion does not hold.
// unknown names a cluster of an earlier stage that this scan was to scan and could not: c's jobs
// are not sent then.
func (s *scanner) promotionOf(c string, needs map[string][]candidate, failed map[string]error, started time.Time) (p *update.Promotion, unknown string) {
	i, ok := s.stages.StageOf(c)
	if !ok {
		return nil, ""
	}
	p = &update.Promotion{Stage: s.stages.Stages[i].Name, Started: started}
	for _, st := range s.stages.Stages[:i] {
		n := 0
		for _, sc := range st.Clusters {
			if _, bad := failed[sc]; bad {
				return nil, sc
			}
			n += len(needs[sc])
		}
		p.Earlier = append(p.Earlier, update.StageJobs{Stage: st.Name, Jobs: n})
	}
	return p, ""
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
	names, err := s.withEarlierStages(ctx, names)
	if err != nil {
		return nil, queue.Retry(err), false
	}
	return names, queue.Outcome{}, true
}

// withEarlierStages adds to names the managed clusters of every stage before theirs: a promotion
// counts the jobs of the earlier stages, so a scan of a later stage alone would count none and
// let it start at once. A stage's cluster that is not managed is left out, with a warning.
func (s *scanner) withEarlierStages(ctx context.Context, names []string) ([]string, error) {
	last := -1
	for _, n := range names {
		if i, ok := s.stages.StageOf(n); ok && i > last {
			last = i
		}
	}
	if last <= 0 {
		return names, nil
	}
	for _, st := range s.stages.Stages[:last] {
		for _, name := range st.Clusters {
			c, found, err := s.managed.Lookup(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("resolve the managed clusters: %w", err)
			}
			if !found {
				queue.Logger(ctx).Warn().Str("cluster", name).Str("stage", st.Name).Msg("a cluster of an earlier stage is not managed: not scanned")
				continue
			}
			if !slices.Contains(names, c.Name) {
				names = append(names, c.Name)
			}
		}
	}
	return names, nil
}

type candidate struct {
	inst   cluster.Instance
	status bottlerocket.Status
}

// checkCluster reclaims the cluster's orphaned instances, then runs the update check on each of
// its Bottlerocket instances that no job owns and returns those whose check answered.
func (s *scanner) checkCluster(ctx context.Context, clusterName string, req update.ScanRequest) ([]candidate, error) {
	log := queue.Logger(ctx).With().Str("cluster", clusterName).Logger()
	// Orphans first: an instance reclaimed now is a candidate of this very scan.
	if _, err := s.reclaim.reclaimCluster(ctx, clusterName, req.DryRun || s.dryRun); err != nil {
		return nil, err
	}
	instances, err := s.instances.ListInstances(ctx, clusterName, cluster.StatusActive, candidateFilter)
	if err != nil {
		return nil, fmt.Errorf("list instances of %s: %w", clusterName, err)
	}
	byID := map[string]cluster.Instance{}
	ids := make([]string, 0, len(instances))
	for _, in := range instances {
		byID[in.EC2InstanceID] = in
		ids = append(ids, in.EC2InstanceID)
	}
	if len(ids) == 0 {
		log.Info().Msg("no Bottlerocket instance without a job")
		return nil, nil
	}
	results, err := s.commands.Run(ctx, s.checkDoc, ids, s.ssm)
	if err != nil {
		return nil, fmt.Errorf("check updates in %s: %w", clusterName, err)
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
		found = append(found, candidate{inst: byID[id], status: st})
	}
	return found, nil
}

// needing returns the checked instances that get a job: with version "" those whose own update
// check chooses an update; with a rollout's version, every instance that runs an older one and
// whose repository carries it (update.NeedsTarget), whether or not its wave has come yet.
func (s *scanner) needing(ctx context.Context, checked []candidate, version string) []candidate {
	var out []candidate
	for _, c := range checked {
		needs := c.status.HasUpdate()
		if version != "" {
			needs = update.NeedsTarget(c.status, version)
		}
		if !needs {
			queue.Logger(ctx).Debug().Str("instance", c.inst.EC2InstanceID).Str("version", c.status.ActiveVersion()).Msg("up to date")
			continue
		}
		out = append(out, c)
	}
	return out
}

// errJobsNotSent is wrapped by the error of a scan that could not send some of its jobs: a
// transient failure, retried with the scan.
var errJobsNotSent = errors.New("jobs not sent")

// sendJobs sends the candidates' jobs to the patcher, ten per call, in order, and returns how
// many were sent. A job not sent fails the scan, which is retried: the jobs already sent are sent
// again with the same IDs, which the patcher recognises as the jobs it already has.
func (s *scanner) sendJobs(ctx context.Context, scanID, clusterName string, req update.ScanRequest, candidates []candidate, version string, prom *update.Promotion) (int, error) {
	if len(candidates) == 0 {
		return 0, nil
	}
	jobs := make([]update.Job, len(candidates))
	msgs := make([]queue.Outgoing, len(candidates))
	for i, c := range candidates {
		job, body, err := s.job(scanID, clusterName, req, c, version, prom)
		if err != nil {
			return 0, err
		}
		jobs[i], msgs[i] = job, queue.Outgoing{Body: body}
	}
	msgIDs, sendErr := s.jobs.SendBatch(ctx, s.patcherURL, msgs)
	sent := 0
	for i, job := range jobs {
		if i >= len(msgIDs) || msgIDs[i] == "" {
			continue
		}
		sent++
		queue.Logger(ctx).Info().Str("job", job.ID).Str("cluster", clusterName).Str("instance", job.Instance).
			Str("from_version", job.FromVersion).Str("target_version", job.TargetVersion).Msg("job sent")
	}
	if sendErr != nil {
		return sent, fmt.Errorf("%w: %d of %d of %s: %w", errJobsNotSent, len(jobs)-sent, len(jobs), clusterName, sendErr)
	}
	return sent, nil
}

// job is the job of one candidate and its encoding: to the rollout's version, pinned, when version
// is set, else to the update its check chose.
func (s *scanner) job(scanID, clusterName string, req update.ScanRequest, c candidate, version string, prom *update.Promotion) (update.Job, []byte, error) {
	by, reason := req.Requester()
	target, note := c.status.ChosenVersion(), fmt.Sprintf("update state %s, %s available", c.status.UpdateState, c.status.ChosenVersion())
	if version != "" {
		target, note = version, fmt.Sprintf("rollout to %s; update state %s, %s chosen", version, c.status.UpdateState, orNone(c.status.ChosenVersion()))
	}
	job := update.Job{
		Schema:               update.Schema,
		ID:                   update.JobIDFor(scanID + "/" + c.inst.ARN),
		Cluster:              clusterName,
		Instance:             c.inst.EC2InstanceID,
		TargetVersion:        target,
		PinTarget:            version != "",
		RequestedBy:          by,
		Reason:               reason,
		DryRun:               req.DryRun || s.dryRun,
		ContainerInstanceARN: c.inst.ARN,
		EC2InstanceID:        c.inst.EC2InstanceID,
		FromVersion:          c.status.ActiveVersion(),
		Promotion:            prom,
	}
	if err := job.Advance(update.StepStage, "scanner", note, s.now()); err != nil {
		return update.Job{}, nil, err
	}
	body, err := update.Encode(job)
	if err != nil {
		return update.Job{}, nil, fmt.Errorf("encode job for %s: %w", c.inst.EC2InstanceID, err)
	}
	return job, body, nil
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

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
