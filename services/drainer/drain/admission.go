package drain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rollwave/rollwave/shared/budget"
	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/jobs"
	"github.com/rollwave/rollwave/shared/managed"
	"github.com/rollwave/rollwave/shared/metrics"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/wake"
)

// A gate is one question admission asks before a drain: may this job's instance leave service
// now? The drain and its dry run walk the same list of gates (drainer.gates), in the same order,
// so that a rehearsal reports what the real job would meet.
type gate struct {
	// name names the gate in logs and in a dry run's notes.
	name string
	// check answers for the job of l. An error is transient (the look is retried) unless it
	// says that the instance or its cluster is gone.
	check func(ctx context.Context, l *look) (verdict, error)
}

// wakeOn is what ends a hold before its backstop: what the job waits to be woken by.
type wakeOn int

const (
	// wakeNever: nothing signals the end of the wait (a pause state or an alarm that could not be
	// read): the job looks again after ROLLWAVE_ADMISSION_RETRY plus jitter.
	wakeNever wakeOn = iota
	// wakeAt: a time known in advance (the maintenance window opens), verdict.at.
	wakeAt
	// wakeReturn: an instance of the job's cluster returns to service.
	wakeReturn
	// wakeResume: the pause of the job's cluster ends.
	wakeResume
	// wakeSettle: an instance of the job's cluster is in service with no task pending, as a task
	// that started there shows (the health gate waits for the tasks of the instances updated last
	// and for the services to be whole again); ROLLWAVE_ADMISSION_RETRY is the backstop.
	wakeSettle
)

// verdict is a gate's answer: admit (no hold, no refusal), hold (the job waits, the instance
// stays in service), or refuse (the job ends, undoing what it did).
type verdict struct {
	// gate names the gate that answered (set by evaluate).
	gate string
	// hold, when set, is why the job waits, as a reason code (docs/job.md).
	hold update.WaitReason
	// refuse, when set, is how the job ends.
	refuse *update.Outcome
	// why says for people why the job waits or ends, or, for an admission, why it may go.
	why string
	// wake says what ends a hold; at is the time of wakeAt.
	wake wakeOn
	at   time.Time
	// claimed: the job's claim (stage admitting) is on its instance, written by this look or
	// left by a crashed one; a hold withdraws it, a refusal undoes it.
	claimed bool
}

// admits reports whether the gate lets the job go on.
func (v verdict) admits() bool { return v.hold == "" && v.refuse == nil }

func admit(why string) verdict { return verdict{why: why} }

func holdFor(reason update.WaitReason, wake wakeOn, why string) verdict {
	return verdict{hold: reason, wake: wake, why: why}
}

func refuse(o update.Outcome) verdict { return verdict{refuse: &o, why: o.Message} }

// admission walks the gates for a job at stage staged or admitting (a crashed delivery's claim)
// and, when every gate admits, claims the drain (drainer.claim). A verdict that does not admit
// has inst.Attributes' stage as the job left it: admitting after a claim that was written.
func (d *drainer) admission(ctx context.Context, job *update.Job, inst cluster.Instance, stage update.Stage) (verdict, error) {
	l := d.newLook(job, inst, false)
	v, err := d.evaluate(ctx, l)
	if err != nil || !v.admits() {
		v.claimed = stage == update.StageAdmitting
		return v, err
	}
	v, err = d.claim(ctx, l)
	if err != nil {
		return verdict{}, err
	}
	v.claimed = true
	if v.admits() {
		queue.Logger(ctx).Info().Msg("admitted: " + v.why)
	}
	return v, nil
}

// notAdmitted acts on a verdict that does not admit: a refusal ends the job, undoing what it
// did so far; a hold makes the job wait (hold).
func (d *drainer) notAdmitted(ctx context.Context, job *update.Job, inst cluster.Instance, v verdict, receipt string) (queue.Outcome, error) {
	stage := update.StageStaged
	if v.claimed {
		stage = update.StageAdmitting
	}
	if v.refuse != nil {
		if d.room != nil {
			d.room.Leave(job.ID)
		}
		return d.undo.Aborted(ctx, job, stage, *v.refuse)
	}
	return d.hold(ctx, job, inst, stage, v, receipt)
}

// rules returns the policy of cluster.
func (d *drainer) rules(cluster string) policy.Policy {
	p := d.policies.For(cluster)
	if p.MaxOutOfService == (update.Limit{}) {
		p.MaxOutOfService = update.DefaultLimit
	}
	return p
}

// look is one look at a job by admission: what the gates know of it, and the reads they share.
// Each read is made at most once per look, by the first gate that needs it, so the order of
// the gates is the order of the reads: nothing but the pause tags and the clock before the
// limits, one census of the cluster for the limits (two calls up to 100 instances, eight
// beyond), and the instance's tasks, the instances the health gate and capacity look at, and
// the cluster's services only for a job within the limits.
type look struct {
	d     *drainer
	job   *update.Job
	inst  cluster.Instance
	rules policy.Policy
	now   time.Time
	// rehearsal: a dry run, which reads and never writes. Its instance carries no mark, so the
	// limits count it as if the job had staged it.
	rehearsal bool

	census update.Census
	// whole is every instance of the cluster when its census read them all (a cluster of one
	// page): the health gate and capacity then read nothing more.
	whole            []cluster.Instance
	updatedInstances []cluster.Instance
	hosts            []cluster.Instance
	tasks            []cluster.Task
	services         []cluster.Service
	read             struct{ census, updated, hosts, tasks, services bool }
}

// newLook starts a look at job, whose instance is inst.
func (d *drainer) newLook(job *update.Job, inst cluster.Instance, rehearsal bool) *look {
	rules := d.rules(job.Cluster)
	if job.LockVersion {
		// A rollback does not wait for the window, nor for the gate that it answers.
		rules.Window, rules.HealthGate = update.Window{}, false
	}
	return &look{d: d, job: job, inst: inst, rules: rules, now: d.now(), rehearsal: rehearsal}
}

// readCensus reads the job's cluster for the limits (cluster.Client.Census), once per look: its
// size, the instances out of service, and the job's own instance: as the census read it, or,
// staged and so in service, as the look found it. A rehearsal's instance carries no mark: it is
// seen as if staged.
func (l *look) readCensus(ctx context.Context) (update.Census, error) {
	if l.read.census {
		return l.census, nil
	}
	c, err := l.d.ecs.Census(ctx, l.job.Cluster)
	if err != nil {
		return update.Census{}, err
	}
	census := l.d.census(l.job.Cluster, c)
	l.whole = c.All
	i := slices.IndexFunc(census.Instances, func(v update.InstanceView) bool { return v.ARN == l.inst.ARN })
	if i < 0 {
		census.Instances = append(census.Instances, l.inst.View())
		i = len(census.Instances) - 1
	}
	if l.rehearsal {
		census.Instances[i].Job, census.Instances[i].Stage = l.job.ID, update.StageStaged
	}
	l.census, l.read.census = census, true
	return census, nil
}

// updated reads the instances of the job's cluster that rollwave updated and the health gate has
// not proven yet (they carry rollwave.verified-at), once per look.
func (l *look) updated(ctx context.Context) ([]cluster.Instance, error) {
	if l.read.updated {
		return l.updatedInstances, nil
	}
	updated, err := l.instancesWhere(ctx, "", "attribute:"+update.AttrVerifiedAt+" exists", func(in cluster.Instance) bool {
		_, ok := in.Attributes[update.AttrVerifiedAt]
		return ok
	})
	if err != nil {
		return nil, err
	}
	l.updatedInstances, l.read.updated = updated, true
	return updated, nil
}

// candidateHosts reads the instances of the job's cluster that may take the tasks of its drain
// (ACTIVE, agent connected; cluster.Hosts leaves out those among them that rollwave claimed),
// once per look: a read of every instance would describe those out of service too.
func (l *look) candidateHosts(ctx context.Context) ([]cluster.Instance, error) {
	if l.read.hosts {
		return l.hosts, nil
	}
	hosts, err := l.instancesWhere(ctx, cluster.StatusActive, "agentConnected == true", func(in cluster.Instance) bool {
		return in.AgentConnected
	})
	if err != nil {
		return nil, err
	}
	l.hosts, l.read.hosts = hosts, true
	return hosts, nil
}

// instancesWhere returns the instances of the job's cluster whose status is status ("" any)
// and that match filter, a cluster query that keep tests: taken from the census when it read the
// cluster whole, listed otherwise.
func (l *look) instancesWhere(ctx context.Context, status, filter string, keep func(cluster.Instance) bool) ([]cluster.Instance, error) {
	if _, err := l.readCensus(ctx); err != nil {
		return nil, err
	}
	if l.whole == nil {
		return l.d.ecs.ListInstances(ctx, l.job.Cluster, status, filter)
	}
	var out []cluster.Instance
	for _, in := range l.whole {
		if (status == "" || in.Status == status) && keep(in) {
			out = append(out, in)
		}
	}
	return out, nil
}

// instanceTasks reads the tasks on the job's instance, once per look.
func (l *look) instanceTasks(ctx context.Context) ([]cluster.Task, error) {
	if l.read.tasks {
		return l.tasks, nil
	}
	tasks, err := l.d.ecs.Tasks(ctx, l.job.Cluster, l.inst.ARN)
	if err != nil {
		return nil, err
	}
	l.tasks, l.read.tasks = tasks, true
	return tasks, nil
}

// clusterServices reads the services of the job's cluster, once per look.
func (l *look) clusterServices(ctx context.Context) ([]cluster.Service, error) {
	if l.read.services {
		return l.services, nil
	}
	services, err := l.d.ecs.Services(ctx, l.job.Cluster, nil)
	if err != nil {
		return nil, err
	}
	l.services, l.read.services = services, true
	return services, nil
}

// gates is the ordered list of admission's gates, cheapest first: the pause and the window (no
// ECS read), the promotion (the earlier stages' clusters, read once per ROLLWAVE_PAUSE_REFRESH
// for every job of the stage), the cluster limit and the global limit (one census of each
// cluster), then extra gates (d.extraGates), eligibility (the instance's tasks), the health gate
// (the instances updated and not yet proven, the services) and capacity (the instances that may
// take the tasks, the services).
func (d *drainer) gates() []gate {
	gs := []gate{
		{name: "pause", check: d.pauseGate},
		{name: "window", check: windowGate},
		{name: "promotion", check: d.promotionGate},
		{name: "cluster-limit", check: clusterLimitGate},
		{name: "global-limit", check: d.globalLimitGate},
	}
	gs = append(gs, d.extraGates...)
	return append(gs,
		gate{name: "eligibility", check: eligibilityGate},
		gate{name: "health-gate", check: d.healthGateCheck},
		gate{name: "capacity", check: capacityGate},
	)
}

// evaluate walks the gates for l and returns the first verdict that does not admit, or an
// admission. A gate's side effects (the health gate's) happen only outside a rehearsal.
func (d *drainer) evaluate(ctx context.Context, l *look) (verdict, error) {
	for _, g := range d.gates() {
		v, err := g.check(ctx, l)
		if err != nil {
			return verdict{}, fmt.Errorf("check %s: %w", g.name, err)
		}
		if !v.admits() {
			v.gate = g.name
			return v, nil
		}
	}
	return admit(""), nil
}

// pauseGate holds a job whose cluster (or every cluster) is paused, until the pause ends. A
// pause state that cannot be read holds the job too: a pause exists to stop drains, so not
// knowing is not "go". A rollback (lockVersion) is how a halted cluster recovers: the pause does
// not hold it.
func (d *drainer) pauseGate(ctx context.Context, l *look) (verdict, error) {
	if d.pauses == nil || l.job.LockVersion {
		return admit(""), nil
	}
	info, paused, err := d.pauses.Paused(ctx, l.job.Cluster)
	switch {
	case err != nil:
		return holdFor(update.WaitPauseUnknown, wakeNever, "pause state unknown: "+err.Error()), nil
	case !paused:
		return admit(""), nil
	case info.Who == budget.HaltedBy || info.Who == gateHaltedBy:
		return holdFor(update.WaitHalted, wakeResume, info.String()), nil
	}
	return holdFor(update.WaitPaused, wakeResume, info.String()), nil
}

// windowGate holds a job outside its cluster's maintenance window until the window opens.
func windowGate(_ context.Context, l *look) (verdict, error) {
	w := l.rules.Window
	if w.Open(l.now) {
		return admit(""), nil
	}
	next := w.NextOpen(l.now)
	v := holdFor(update.WaitWindow, wakeAt,
		fmt.Sprintf("cluster %s: outside the maintenance window %q; it opens at %s", l.job.Cluster, w, next.Format(time.RFC3339)))
	v.at = next
	return v, nil
}

// clusterLimitGate is the pre-check of the claim (update.CanClaim) on one read of the cluster: a
// full cluster holds the job without a claim written, until an instance returns to service; an
// instance drained by someone else refuses it.
func clusterLimitGate(ctx context.Context, l *look) (verdict, error) {
	census, err := l.readCensus(ctx)
	if err != nil {
		return verdict{}, err
	}
	dec := update.CanClaim(l.job.Cluster, l.rules.MaxOutOfService, census, l.job.ID)
	return limitVerdict(dec, update.WaitClusterLimit), nil
}

// limitVerdict turns a decision of update.CanClaim or update.Admit into a verdict.
func limitVerdict(dec update.Decision, reason update.WaitReason) verdict {
	switch dec.Action {
	case update.Refuse:
		return refuse(dec.Outcome)
	case update.BackOff:
		return holdFor(reason, wakeReturn, dec.Reason)
	}
	return admit(dec.Reason)
}

// globalLimitGate holds a job while the managed clusters together, with its claim, would have
// more instances out of service than the global limit allows.
func (d *drainer) globalLimitGate(ctx context.Context, l *look) (verdict, error) {
	if d.policies.GlobalMaxOutOfService <= 0 {
		return admit(""), nil
	}
	census, err := l.readCensus(ctx)
	if err != nil {
		return verdict{}, err
	}
	out := 1 // the claim
	for _, v := range census.Instances {
		if v.OutOfService() && v.Job != l.job.ID {
			out++
		}
	}
	return d.withinGlobalLimit(ctx, l.job.Cluster, out)
}

// eligibilityGate refuses a job whose instance runs standalone tasks under the standalone
// policy skip.
func eligibilityGate(ctx context.Context, l *look) (verdict, error) {
	tasks, err := l.instanceTasks(ctx)
	if err != nil {
		return verdict{}, err
	}
	if ok, why := update.Eligible(cluster.TaskViews(tasks), l.rules.Standalone); !ok {
		return refuse(why), nil
	}
	return admit(""), nil
}

// capacityGate holds a job while the other instances in service cannot host the replacements
// of its instance's service tasks (update.CanHost), until an instance returns to service.
func capacityGate(ctx context.Context, l *look) (verdict, error) {
	if !l.rules.CheckCapacity {
		return admit(""), nil
	}
	hosts, err := l.candidateHosts(ctx)
	if err != nil {
		return verdict{}, err
	}
	tasks, err := l.instanceTasks(ctx)
	if err != nil {
		return verdict{}, err
	}
	services, err := l.clusterServices(ctx)
	if err != nil {
		return verdict{}, err
	}
	if ok, why := update.CanHost(cluster.Loads(services, tasks), cluster.Hosts(hosts, l.inst.ARN)); !ok {
		return holdFor(update.WaitCapacity, wakeReturn, fmt.Sprintf("cluster %s: capacity: %s", l.job.Cluster, why)), nil
	}
	return admit(""), nil
}

// claim writes the job's claim (stage admitting) on its instance, re-reads the cluster and
// decides with every claim counted (update.Admit), then checks the global limit again: the
// check after the write is what keeps several drainers within the limits together.
func (d *drainer) claim(ctx context.Context, l *look) (verdict, error) {
	if err := d.marks.PutAttributes(ctx, l.job.Cluster, l.inst.ARN, map[string]string{update.AttrStage: string(update.StageAdmitting)}); err != nil {
		return verdict{}, err
	}
	c, err := d.ecs.Census(ctx, l.job.Cluster)
	if err != nil {
		return verdict{}, err
	}
	census := d.census(l.job.Cluster, c)
	dec := update.Admit(l.job.Cluster, l.rules.MaxOutOfService, census, l.job.ID)
	if v := limitVerdict(dec, update.WaitClusterLimit); !v.admits() {
		v.gate = "cluster-limit"
		return v, nil
	}
	if d.policies.GlobalMaxOutOfService > 0 {
		v, err := d.withinGlobalLimit(ctx, l.job.Cluster, update.CountOutOfService(census.Instances))
		if err != nil || !v.admits() {
			v.gate = "global-limit"
			return v, err
		}
	}
	if d.room != nil {
		// Admitted: the job leaves the room, and room that is still free wakes as many jobs of
		// the cluster as it can take, so that a missed event costs no more than one backstop.
		d.room.Leave(l.job.ID)
		if free := dec.Max - dec.OutOfService; free > 0 {
			d.room.Wake(wake.Key(l.job.Cluster), free)
		}
	}
	return admit(dec.Reason), nil
}

// seen tells the room which instances admission saw out of service, so that their return
// wakes a job even when the event of their leaving went to another replica.
func (d *drainer) seen(views []update.InstanceView) {
	if d.room == nil {
		return
	}
	for _, v := range views {
		d.room.Seen(v)
	}
}

// withinGlobalLimit adds to out, the instances out of service in cluster name, those of every
// other managed cluster, each once, by the rule of the cluster limit
// (update.InstanceView.OutOfService: whoever took them out, parked failed instances included),
// and holds the job when the sum is over the global limit.
func (d *drainer) withinGlobalLimit(ctx context.Context, name string, out int) (verdict, error) {
	clusters, err := d.managed.Clusters(ctx)
	if err != nil {
		return verdict{}, err
	}
	for _, other := range clusters {
		if other.Is(name) {
			continue
		}
		ref := other.ARN
		if ref == "" {
			ref = other.Name
		}
		c, err := d.ecs.Census(ctx, ref)
		if errors.Is(err, cluster.ErrClusterNotFound) {
			continue
		}
		if err != nil {
			return verdict{}, fmt.Errorf("count out of service in %s: %w", other.Name, err)
		}
		out += update.CountOutOfService(cluster.Views(c.Instances))
	}
	if ok, why := update.WithinGlobalLimit(d.policies.GlobalMaxOutOfService, out); !ok {
		return holdFor(update.WaitGlobalLimit, wakeReturn, why), nil
	}
	return admit(""), nil
}

// managedClusters is the trust boundary and the clusters the global limit counts (*managed.Set).
type managedClusters interface {
	jobs.Boundary
	Clusters(ctx context.Context) ([]managed.Cluster, error)
}

// census maps the census of cluster name for admission, records its out-of-service gauge, and
// tells the room what it saw out of service (seen).
func (d *drainer) census(name string, c cluster.Census) update.Census {
	census := c.View()
	metrics.Record(d.metrics, metrics.Gauge(metrics.InstancesOutOfService, float64(update.CountOutOfService(census.Instances)), d.now(), map[string]string{metrics.Cluster: name}))
	d.seen(census.Instances)
	return census
}
