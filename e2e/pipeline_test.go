package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// timeScale is fleetsim's virtual seconds per real second: a host's 45 s boot takes 0.9 s.
const timeScale = 50

// targetVersion and oldVersion are the versions of every scenario in testdata.
const (
	oldVersion    = "1.19.5"
	targetVersion = "1.20.3"
)

// workerKey is the access key ID the workers sign with, so that fleetsim's report counts their
// API calls apart from the test's own (which sign with the harness's "test").
const workerKey = "rollwave-workers"

// workers are the four services, by the name of their directory under services/.
var workers = []string{"scanner", "patcher", "drainer", "verifier"}

// pipeline is one test's running rollwave: a harness.Stack, its queues and rules under a prefix
// of its own, and the four workers.
type pipeline struct {
	t        *testing.T
	stack    *harness.Stack
	fleet    *admin.Client
	sqs      *sqs.Client
	prefix   string
	topo     topology.Resolved
	clusters map[string]string // cluster name -> ARN
	results  string            // URL of the queue the pipeline events are routed to
	procs    map[string]*harness.Process
	env      []string // the workers' environment
	// endedJobs holds the IDs of the jobs whose ending event any results.poll saw.
	endedJobs map[string]bool
	// allowed are the invariants the test breaks on purpose, with why (breaks).
	allowed map[invariant]string
}

// startPipeline starts moto and fleetsim with the scenario, bootstraps the topology (restricted
// to the scenario's clusters, so that parallel tests never see each other's ECS events), the SSM
// documents and an event bus whose pipeline events reach a results queue, then starts the four
// workers with env added to the short settings of workerEnv.
func startPipeline(t *testing.T, scenario string, env ...string) *pipeline {
	t.Helper()
	s := harness.Start(t, harness.WithScenario(scenario), harness.WithTimeScale(timeScale))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	p := &pipeline{
		t: t, stack: s, fleet: admin.New(s.FleetsimURL), sqs: sqs.NewFromConfig(cfg),
		prefix: s.Name("rw"), clusters: map[string]string{}, procs: map[string]*harness.Process{},
		endedJobs: map[string]bool{}, allowed: map[invariant]string{},
	}
	st, err := p.fleet.State(ctx)
	if err != nil {
		t.Fatalf("fleetsim state: %v", err)
	}
	var arns []string
	for _, c := range st.Clusters {
		p.clusters[c.Name] = c.ARN
		arns = append(arns, c.ARN)
	}
	events := eventbridge.NewFromConfig(cfg)
	p.topo, err = topology.Bootstrap(ctx, topology.Clients{SQS: p.sqs, Events: events}, topology.Default(p.prefix).RestrictToClusters(arns))
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	// A job that never ended is often in a dead-letter queue: say so beside the failure. Runs
	// before the stack's own cleanup stops the emulator.
	t.Cleanup(func() {
		if t.Failed() {
			p.dumpDeadLetters()
		}
	})
	if err := ssmdoc.Ensure(ctx, ssm.NewFromConfig(cfg), p.prefix); err != nil {
		t.Fatalf("register documents: %v", err)
	}
	bus := p.prefix
	if _, err := events.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create event bus %s: %v", bus, err)
	}
	p.results = p.routeToQueue(ctx, events, bus, p.prefix+"-results", `{"source":["`+notify.Source+`"]}`)

	var clusterNames []string
	for name := range p.clusters {
		clusterNames = append(clusterNames, name)
	}
	sort.Strings(clusterNames)
	base := append(s.Env(),
		"AWS_ACCESS_KEY_ID="+workerKey,
		"ROLLWAVE_PREFIX="+p.prefix,
		"ROLLWAVE_EVENT_BUS="+bus,
		"ROLLWAVE_CLUSTERS="+strings.Join(clusterNames, ","),
		"ROLLWAVE_LOG_LEVEL=debug",
		"ROLLWAVE_SSM_POLL_INTERVAL=200ms",
		"ROLLWAVE_SSM_EXPECTED=60ms",     // an update check's 3 s (delivery and check) at ×50
		"ROLLWAVE_APPLY_EXPECTED=1200ms", // staging's 61 s at ×50
		"ROLLWAVE_RECHECK_INTERVAL=250ms",
		"ROLLWAVE_ADMISSION_RETRY=200ms",
		"ROLLWAVE_ADMISSION_BACKSTOP=5s", // a held job is woken by ECS events; this only covers a missed one
		"ROLLWAVE_STAGE_RECHECK=1s",      // the patcher's backstop for staging held by the look-ahead
		"ROLLWAVE_SHUTDOWN_GRACE=2s",
		"ROLLWAVE_SSM_TIMEOUT=5s",  // the verifier bounds each update check by it: one sent as the host goes down is retried
		"ROLLWAVE_REBOOT_GRACE=2s", // the verifier waits this long to see the host go down before checking anyway
		"ROLLWAVE_APPLY_TIMEOUT=30s",
		"ROLLWAVE_DRAIN_TIMEOUT=60s",
		"ROLLWAVE_REBOOT_TIMEOUT=60s",
	)
	base = append(base, env...)
	p.env = base
	for _, w := range workers {
		bin := harness.BuildBinary(t, "services/"+w)
		p.procs[w] = harness.StartProcess(t, w, bin, base)
	}
	// Registered last, so it runs first: while the workers, moto and fleetsim still run.
	t.Cleanup(p.checkInvariantsAtEnd)
	return p
}

// routeToQueue creates a queue and a rule on bus that sends it the events matching pattern, and
// returns the queue's URL.
func (p *pipeline) routeToQueue(ctx context.Context, events *eventbridge.Client, bus, name, pattern string) string {
	t := p.t
	t.Helper()
	q, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	attrs, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("get queue ARN of %s: %v", name, err)
	}
	if _, err := events.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(name), EventBusName: aws.String(bus), EventPattern: aws.String(pattern),
	}); err != nil {
		t.Fatalf("put rule %s: %v", name, err)
	}
	if _, err := events.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("sqs"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}},
	}); err != nil {
		t.Fatalf("put target of rule %s: %v", name, err)
	}
	return aws.ToString(q.QueueUrl)
}

// scan sends a scan request of every configured cluster to the scanner's queue.
func (p *pipeline) scan() {
	p.t.Helper()
	p.send(topology.Scanner, `{"schema":"rollwave.scan/v1","requestedBy":"e2e","reason":"`+p.t.Name()+`"}`)
}

// send sends body to the topology's queue logical.
func (p *pipeline) send(logical, body string) {
	p.t.Helper()
	q, err := p.topo.Queue(logical)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.sqs.SendMessage(p.t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(body)}); err != nil {
		p.t.Fatalf("send to %s: %v", q.Name, err)
	}
}

// ended is the last pipeline event of one instance's job.
type ended struct {
	DetailType string
	notify.JobDetail
}

// results collects the pipeline events that reached the results queue.
type results struct {
	p     *pipeline
	all   []ended
	byEC2 map[string]ended // the last ending event per EC2 instance ID
}

func (p *pipeline) newResults() *results { return &results{p: p, byEC2: map[string]ended{}} }

// poll receives what is in the results queue now, without waiting.
func (r *results) poll() error { return r.pollCtx(r.p.t.Context()) }

// pollCtx is poll with its own context, for a test's cleanup (whose test context is done).
func (r *results) pollCtx(ctx context.Context) error {
	for {
		out, err := r.p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.p.results), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
		})
		if err != nil {
			return fmt.Errorf("receive pipeline events: %w", err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		for _, m := range out.Messages {
			var ev struct {
				DetailType string           `json:"detail-type"`
				Detail     notify.JobDetail `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				return fmt.Errorf("decode pipeline event %s: %w", aws.ToString(m.Body), err)
			}
			if ev.Detail.EC2InstanceID == "" && strings.HasPrefix(ev.Detail.Instance, "i-") {
				ev.Detail.EC2InstanceID = ev.Detail.Instance
			}
			e := ended{DetailType: ev.DetailType, JobDetail: ev.Detail}
			r.all = append(r.all, e)
			switch ev.DetailType {
			case notify.InstanceUpdateSucceeded, notify.InstanceUpdateFailed, notify.InstanceUpdateSkipped:
				r.byEC2[ev.Detail.EC2InstanceID] = e
				r.p.endedJobs[ev.Detail.JobID] = true
			}
			if _, err := r.p.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.p.results), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("delete pipeline event: %w", err)
			}
		}
	}
}

// waitEnded waits until every one of ids has a job that ended, and returns their last events.
func (r *results) waitEnded(timeout time.Duration, ids []string) map[string]ended {
	r.p.t.Helper()
	harness.Eventually(r.p.t, timeout, func() (bool, string) {
		if err := r.poll(); err != nil {
			return false, err.Error()
		}
		var missing []string
		for _, id := range ids {
			if _, ok := r.byEC2[id]; !ok {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d instances ended; waiting for %v", len(ids)-len(missing), len(ids), missing)
	})
	return r.byEC2
}

// instances returns the EC2 instance IDs of the fleet, by cluster.
func (p *pipeline) instances() map[string][]admin.InstanceState {
	p.t.Helper()
	st, err := p.fleet.State(p.t.Context())
	if err != nil {
		p.t.Fatalf("fleetsim state: %v", err)
	}
	out := map[string][]admin.InstanceState{}
	for _, c := range st.Clusters {
		out[c.Name] = c.Instances
	}
	return out
}

// hasStandaloneTask reports whether a task not started by a service runs on the instance.
func hasStandaloneTask(in admin.InstanceState) bool {
	for _, t := range in.Tasks {
		if !strings.HasPrefix(t.StartedBy, "ecs-svc/") {
			return true
		}
	}
	return false
}

// report returns fleetsim's report.
func (p *pipeline) report() admin.Report {
	p.t.Helper()
	r, err := p.fleet.Report(p.t.Context())
	if err != nil {
		p.t.Fatalf("fleetsim report: %v", err)
	}
	return r
}

// deadLetters returns, per dead-letter queue that is not empty, its approximate message count.
func (p *pipeline) deadLetters() map[string]int {
	p.t.Helper()
	out := map[string]int{}
	for _, q := range p.topo.Queues {
		a, err := p.sqs.GetQueueAttributes(p.t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(q.DeadLetterURL),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
			},
		})
		if err != nil {
			p.t.Fatalf("attributes of %s: %v", q.DeadLetterName, err)
		}
		n := 0
		for _, v := range a.Attributes {
			k, err := strconv.Atoi(v)
			if err != nil {
				p.t.Fatalf("attributes of %s: a count of %q: %v", q.DeadLetterName, v, err)
			}
			n += k
		}
		if n > 0 {
			out[q.DeadLetterName] = n
		}
	}
	return out
}

// dumpDeadLetters logs the messages of every dead-letter queue, for a failed test; it works in a
// cleanup too, after the test's context was cancelled.
func (p *pipeline) dumpDeadLetters() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.t.Context()), 10*time.Second)
	defer cancel()
	for _, q := range p.topo.Queues {
		out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.DeadLetterURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, VisibilityTimeout: 0,
		})
		if err != nil {
			continue
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			p.t.Logf("%s: %s %v", q.DeadLetterName, aws.ToString(m.Body), attrs)
		}
	}
}

// checkNoDeadLetters fails the test if any dead-letter queue holds a message.
func (p *pipeline) checkNoDeadLetters() {
	p.t.Helper()
	if dl := p.deadLetters(); len(dl) > 0 {
		p.t.Errorf("dead-letter queues not empty: %v", dl)
		p.dumpDeadLetters()
	}
}

// sortedIDs returns the EC2 instance IDs of ins, sorted.
func sortedIDs(ins []admin.InstanceState) []string {
	var ids []string
	for _, in := range ins {
		ids = append(ids, in.EC2InstanceID)
	}
	slices.Sort(ids)
	return ids
}
