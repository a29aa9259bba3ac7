// Package metrics publishes rollwave's CloudWatch metrics (namespace "rollwave"): jobs started,
// succeeded, failed and skipped, how long steps, drains and reboots take, how many instances are
// out of service, and how many messages went to a dead-letter queue.
//
// A worker records Datums on a Recorder; the Publisher aggregates them per metric and dimension
// set into statistic sets (count, sum, min, max), and sends them with PutMetricData every
// interval, when 1000 are pending, and once more when it stops. Recording never blocks on the
// network and never fails: metrics are best effort, a failed send is logged and dropped.
//
// The SDK's newest CloudWatch client speaks Smithy RPC v2 CBOR, which moto cannot read; NewClient
// makes it speak AWS JSON 1.0 instead, which CloudWatch and moto both accept
// (docs/decisions/cloudwatch-metrics.md).
package metrics

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rollwave/rollwave/shared/update"
)

// Namespace is the CloudWatch namespace of every rollwave metric.
const Namespace = "rollwave"

// Metric names. They are a public contract (docs/events.md#metrics): dashboards and alarms use them.
const (
	// JobsStarted counts jobs the patcher accepted (rollwave.job set). Dimensions: Cluster.
	JobsStarted = "JobsStarted"
	// JobsSucceeded, JobsFailed and JobsSkipped count ended jobs, by the step they ended at.
	// Dimensions: Cluster, Step, Reason (the outcome's code); and once without dimensions, for
	// an alarm on any failure.
	JobsSucceeded = "JobsSucceeded"
	JobsFailed    = "JobsFailed"
	JobsSkipped   = "JobsSkipped"
	// JobsIgnored counts job messages that did not own their instance (reason not-owner or
	// stale-job: forged, hand-written, redelivered or redriven copies): they changed nothing and
	// ended no job. Dimensions: Cluster, Step, Reason; and once without dimensions.
	JobsIgnored = "JobsIgnored"
	// StepDuration is the time a job spent at a step, from entering it to leaving it (forwarded
	// or ended), queueing included. Seconds. Dimensions: Cluster, Step.
	StepDuration = "StepDuration"
	// DrainDuration is the time from DRAINING to no task left on the instance. Seconds.
	// Dimensions: Cluster.
	DrainDuration = "DrainDuration"
	// RebootToVerified is the time from the reboot sent to the instance verified on its new
	// version. Seconds. Dimensions: Cluster.
	RebootToVerified = "RebootToVerified"
	// InstancesOutOfService is a gauge: the instances of a cluster not ACTIVE or taken by rollwave
	// (stage admitting or later), as the drainer counted them for an admission. Dimensions: Cluster.
	InstancesOutOfService = "InstancesOutOfService"
	// JobsWaiting counts the jobs the drainer has held before admission for longer than its
	// threshold (ROLLWAVE_WAITING_THRESHOLD): each such job counts 1 when the wait passes the
	// threshold and 1 again every threshold while it lasts, once whichever drainer replica looks
	// (the instance's rollwave.waiting records the last count). The Sum over a period of the
	// threshold is so the number of jobs waiting that long. Dimensions: Cluster, Reason (the
	// update.WaitReason).
	JobsWaiting = "JobsWaiting"
	// DeadLetters counts messages a worker moved to a dead-letter queue (undecodable, invalid,
	// or out of retries). Dimensions: Queue (the source queue's name).
	DeadLetters = "DeadLetters"
	// WorkerStarted counts worker starts, once each, so a dashboard shows which release every
	// worker runs and how often it restarted. Dimensions: Service, Version (the binary's
	// version.String(), e.g. 0.1.0+1a2b3c4d5e6f).
	WorkerStarted = "WorkerStarted"
	// InstancesReclaimed counts instances the scanner took back from a lost job (its lease long
	// expired; "Instance Reclaimed"). Dimensions: Cluster.
	InstancesReclaimed = "InstancesReclaimed"
	// PromotionsHalted counts the halts of a staged promotion ("Promotion Halted"), once each.
	// Dimensions: Stage (where it halted), Reason (failed or alarm).
	PromotionsHalted = "PromotionsHalted"
	// LaunchTemplatesDrifted counts, at each scan of a cluster whose every host runs one version,
	// the Auto Scaling groups behind it whose launch template launches another image ("Launch
	// Template Drift"). Dimensions: Cluster, Outcome (drifted, updated, would-update,
	// left-alone).
	LaunchTemplatesDrifted = "LaunchTemplatesDrifted"
)

// Dimension names.
const (
	// Cluster is always the cluster's name: a job names its cluster by name or by ARN, and both
	// are one cluster, so Counted, Took and Gauge reduce an ARN to its name (update.ClusterName).
	Cluster = "Cluster"
	Step    = "Step"
	Reason  = "Reason"
	Queue   = "Queue"
	Service = "Service"
	Version = "Version"
	Stage   = "Stage"
	Outcome = "Outcome"
)

// Unit is a CloudWatch unit.
type Unit string

// The units rollwave uses.
const (
	Count   Unit = "Count"
	Seconds Unit = "Seconds"
)

// Datum is one observation of a metric.
type Datum struct {
	Name       string
	Dimensions map[string]string
	Value      float64
	Unit       Unit
	At         time.Time
}

// Counted is one occurrence of a counter.
func Counted(name string, at time.Time, dims map[string]string) Datum {
	return Datum{Name: name, Dimensions: normal(dims), Value: 1, Unit: Count, At: at}
}

// Took is a duration observation, in seconds.
func Took(name string, d time.Duration, at time.Time, dims map[string]string) Datum {
	return Datum{Name: name, Dimensions: normal(dims), Value: max(d, 0).Seconds(), Unit: Seconds, At: at}
}

// Gauge is the current value of a level.
func Gauge(name string, v float64, at time.Time, dims map[string]string) Datum {
	return Datum{Name: name, Dimensions: normal(dims), Value: v, Unit: Count, At: at}
}

// normal returns dims with the Cluster dimension reduced to the cluster's name, copying dims
// rather than changing the caller's map.
func normal(dims map[string]string) map[string]string {
	c, ok := dims[Cluster]
	if !ok || update.ClusterName(c) == c {
		return dims
	}
	out := maps.Clone(dims)
	out[Cluster] = update.ClusterName(c)
	return out
}

// Recorder takes observations. Record must not block on the network and is safe for concurrent
// use. *Publisher, Discard and metricstest.Recorder satisfy it.
type Recorder interface {
	Record(ds ...Datum)
}

// Record records ds on r; a nil r records nothing, so that a worker built without metrics (a
// test's) needs no check of its own.
func Record(r Recorder, ds ...Datum) {
	if r != nil {
		r.Record(ds...)
	}
}

// Discard is the Recorder of ROLLWAVE_METRICS=off: it drops everything.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Record(...Datum) {}

// key identifies one CloudWatch metric stream: name, unit and dimension set.
func (d Datum) key() string {
	var b strings.Builder
	b.WriteString(d.Name)
	b.WriteByte('|')
	b.WriteString(string(d.Unit))
	for _, k := range slices.Sorted(maps.Keys(d.Dimensions)) {
		b.WriteByte('|')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(d.Dimensions[k])
	}
	return b.String()
}
