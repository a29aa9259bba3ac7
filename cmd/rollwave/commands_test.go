package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/queue"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

func TestJobsSend(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	patcher := st.queue(topology.Patcher).URL

	r := st.run("jobs", "send", "--cluster", "nope", "--instance", "i-0aaaaaaaaaaaaaaa1")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "cluster nope not found") {
		t.Errorf("unknown cluster: exit %d, stderr %q; want %d and the cluster named", r.code, r.stderr, exitNotFound)
	}
	r = st.run("jobs", "send", "--cluster", "ops-a", "--instance", "i-0bbbbbbbbbbbbbbb9")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "i-0bbbbbbbbbbbbbbb9 is not registered in cluster ops-a") {
		t.Errorf("unknown instance: exit %d, stderr %q; want %d and the instance named", r.code, r.stderr, exitNotFound)
	}
	r = st.run("jobs", "send", "--cluster", "ops-a", "--instance", "i-0aaaaaaaaaaaaaaa1", "--target-version", "1.20.3", "--dry-run")
	if r.code != 0 {
		t.Fatalf("--dry-run: exit %d", r.code)
	}
	j, err := update.Decode([]byte(r.stdout))
	if err != nil || j.TargetVersion != "1.20.3" || j.RequestedBy != "tester" || j.Cluster != "ops-a" {
		t.Errorf("--dry-run printed %+v, %v; want the job for ops-a, 1.20.3, by tester", j, err)
	}
	if n := st.count(patcher); n != 0 {
		t.Fatalf("%d messages in the patcher's queue after the errors and --dry-run, want none sent", n)
	}

	r = st.run("jobs", "send", "--cluster", "ops-a", "--instance", "i-0aaaaaaaaaaaaaaa2", "--reason", "CVE, OPS-1", "--pipeline-dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "sent job") {
		t.Fatalf("jobs send: exit %d, %q", r.code, r.stdout)
	}
	msgs := st.drain(patcher)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the patcher's queue, want 1", len(msgs))
	}
	j, err = update.Decode([]byte(msgs[0].Body))
	if err != nil {
		t.Fatalf("the job sent does not decode: %v", err)
	}
	if j.Instance != "i-0aaaaaaaaaaaaaaa2" || j.Reason != "CVE, OPS-1" || !j.DryRun || j.ID == "" || !strings.Contains(r.stdout, j.ID) {
		t.Errorf("job sent = %+v, want i-0aaaaaaaaaaaaaaa2, the reason, dryRun, and the ID printed in %q", j, r.stdout)
	}
	// The scanner's jobs and a person's have IDs of one form (update.JobIDFor).
	if !regexp.MustCompile(`^j-[0-9a-f]{20}$`).MatchString(j.ID) {
		t.Errorf("job sent has ID %q, want j- and 20 hex digits like the scanner's", j.ID)
	}
}

// deadLetter sends body to the dead-letter queue of logical as a worker does.
func (st *stack) deadLetter(logical, body, reason string) string {
	st.t.Helper()
	q := st.queue(logical)
	attr := func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	out, err := st.sqs.SendMessage(st.t.Context(), &sqs.SendMessageInput{
		QueueUrl: aws.String(q.DeadLetterURL), MessageBody: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			queue.AttrReason: attr(reason), queue.AttrSourceQueue: attr(q.Name),
			queue.AttrReceiveCount: attr("5"), queue.AttrFailedAt: attr(time.Now().UTC().Format(time.RFC3339Nano)),
			"trace": attr("abc"),
			// As SQS's own redrive policy leaves it on a message the worker requeued after failures.
			queue.AttrFailures: attr("3"),
		},
	})
	if err != nil {
		st.t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

const jobBody = `{"schema":"rollwave.job/v1","id":"job-1","cluster":"ops-a","instance":"i-0aaaaaaaaaaaaaaa1","requestedBy":"alice","reason":"CVE"}`

func TestDLQ(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	first := st.deadLetter(topology.Patcher, jobBody, "describe container instances: ThrottlingException")
	second := st.deadLetter(topology.Patcher, strings.Replace(jobBody, "job-1", "job-2", 1), "describe container instances: ThrottlingException")
	st.deadLetter(topology.Drainer, `{"schema": "rollwave.job/v1", "cluster": `, "decode job: unexpected EOF")

	r := st.run("dlq", "list", "-o", "json")
	var counts []dlqCount
	if err := json.Unmarshal([]byte(r.stdout), &counts); r.code != 0 || err != nil {
		t.Fatalf("dlq list -o json: exit %d, %v", r.code, err)
	}
	got := map[string]int{}
	for _, c := range counts {
		got[c.DeadLetter] = c.Messages
		if c.Messages > 0 && c.OldestAge == "" {
			t.Errorf("dlq list: %s has %d messages and no oldest age", c.DeadLetter, c.Messages)
		}
	}
	if len(counts) != 7 || got[st.queue(topology.Patcher).DeadLetterName] != 2 || got[st.queue(topology.Drainer).DeadLetterName] != 1 {
		t.Errorf("dlq list = %v, want 7 queues, 2 dead letters of the patcher and 1 of the drainer", got)
	}
	if r := st.run("dlq", "list"); r.code != 0 || !strings.Contains(r.stdout, "OLDEST") {
		t.Errorf("dlq list: exit %d, %q", r.code, r.stdout)
	}

	r = st.run("dlq", "show", "patcher")
	if r.code != 0 || !strings.Contains(r.stdout, "ThrottlingException") || !strings.Contains(r.stdout, "job-1: i-0aaaaaaaaaaaaaaa1 in ops-a") ||
		!strings.Contains(r.stdout, "receives:     5") {
		t.Errorf("dlq show patcher: exit %d; want the reason, the receives and the job summarised", r.code)
	}
	r = st.run("dlq", "show", st.queue(topology.Drainer).DeadLetterName, "-o", "json")
	var shown []deadLetter
	if err := json.Unmarshal([]byte(r.stdout), &shown); r.code != 0 || err != nil || len(shown) != 1 {
		t.Fatalf("dlq show drainer -o json: exit %d, %v, %d messages; want 1", r.code, err, len(shown))
	}
	if shown[0].Job != nil || shown[0].Reason != "decode job: unexpected EOF" || !strings.Contains(shown[0].Body, `"cluster": `) {
		t.Errorf("dlq show drainer -o json = %+v, want the raw body and the reason", shown[0])
	}

	if r := st.run("dlq", "redrive", "patcher", "--message-id", "no-such-id"); r.code != exitNotFound {
		t.Errorf("redrive of an unknown message: exit %d, want %d", r.code, exitNotFound)
	}
	if r := st.run("dlq", "redrive", "patcher", "--message-id", first); r.code != 0 {
		t.Fatalf("redrive one: exit %d", r.code)
	}
	back := st.drain(st.queue(topology.Patcher).URL)
	if len(back) != 1 || back[0].Body != jobBody {
		t.Fatalf("patcher's queue after redriving one = %+v, want the first job as it was", back)
	}
	if _, ok := back[0].Attrs[queue.AttrReason]; ok || back[0].Attrs["trace"] != "abc" {
		t.Errorf("redriven attributes = %v, want the message's own (trace) without the dead-letter ones", back[0].Attrs)
	}
	if n, ok := back[0].Attrs[queue.AttrFailures]; ok {
		t.Errorf("redriven job carries %s = %s, want none: a redriven job starts with the whole retry budget", queue.AttrFailures, n)
	}
	if r := st.run("dlq", "redrive", "patcher", "--all"); r.code != 0 || !strings.Contains(r.stdout, "1 of 1") {
		t.Fatalf("redrive --all: exit %d", r.code)
	}
	back = st.drain(st.queue(topology.Patcher).URL)
	if len(back) != 1 || !strings.Contains(back[0].Body, "job-2") {
		t.Errorf("patcher's queue after redrive --all = %+v, want job-2 (message %s)", back, second)
	}
	if n := st.count(st.queue(topology.Patcher).DeadLetterURL); n != 0 {
		t.Errorf("%d messages left in the patcher's dead-letter queue after redrive --all, want 0", n)
	}

	drainerDLQ := st.queue(topology.Drainer).DeadLetterURL
	if r := runCLI(t, st.env, "y\n", "dlq", "purge", "drainer"); r.code != exitUsage {
		t.Errorf("purge without --yes off a terminal: exit %d, want %d", r.code, exitUsage)
	}
	if n := st.count(drainerDLQ); n != 1 {
		t.Fatalf("%d messages in the drainer's dead-letter queue after a refused purge, want 1", n)
	}
	if r := st.run("dlq", "purge", "drainer", "--yes"); r.code != 0 {
		t.Fatalf("purge --yes: exit %d", r.code)
	}
	harness.Eventually(t, 10*time.Second, func() (bool, string) {
		n := st.count(drainerDLQ)
		return n == 0, "messages left after purge: " + string(rune('0'+n))
	})
	if r := st.run("--prefix", "nothing-here", "dlq", "show", "patcher"); r.code != exitNotFound || !strings.Contains(r.stderr, "check --prefix") {
		t.Errorf("dlq show under a prefix without queues: exit %d, %q; want %d", r.code, r.stderr, exitNotFound)
	}
}

func TestPauseResumeAndStatus(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	ctx := t.Context()
	// The pipeline events reach a queue through a bus of this test's own.
	events := eventbridge.NewFromConfig(st.s.AWSConfig(ctx))
	bus := st.prefix
	if _, err := events.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	q, err := st.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(st.prefix + "-events")})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := st.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(bus), EventBusName: aws.String(bus), EventPattern: aws.String(`{"source":["rollwave"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(bus), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(arn.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	st.env["ROLLWAVE_EVENT_BUS"] = bus

	if r := st.run("pause", "--cluster", "nope", "--reason", "x"); r.code != exitNotFound {
		t.Errorf("pause of an unknown cluster: exit %d, want %d", r.code, exitNotFound)
	}
	if r := st.run("pause", "--cluster", "ops-a", "--reason", "incident INC-42"); r.code != 0 {
		t.Fatalf("pause: exit %d", r.code)
	}
	s, err := pause.Read(ctx, st.sqs, st.queue(topology.Drainer).URL)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := s.Paused("ops-a"); !ok || i.Who != "tester" || i.Reason != "incident INC-42" {
		t.Errorf("pause state = %+v, %v; want ops-a paused by tester", i, ok)
	}

	r := st.run("status", "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
		t.Fatalf("status -o json: exit %d, %v", r.code, err)
	}
	var opsA *clusterStatus
	for i := range rep.Clusters {
		if rep.Clusters[i].Cluster == "ops-a" {
			opsA = &rep.Clusters[i]
		}
	}
	if opsA == nil {
		t.Fatalf("status -o json has no cluster ops-a: %+v", rep.Clusters)
	}
	if opsA.Total != 3 || opsA.InService != 3 || len(opsA.Instances) != 3 || opsA.Instances[0].EC2InstanceID != "i-0aaaaaaaaaaaaaaa1" ||
		opsA.Instances[0].Status != "ACTIVE" || !opsA.Instances[0].AgentConnected || opsA.Limit != 1 {
		t.Errorf("status of ops-a = %+v, want 3 ACTIVE instances in service, limit 1", *opsA)
	}
	if opsA.Paused == nil || len(opsA.Blocked) != 1 || !strings.Contains(opsA.Blocked[0], "paused by tester") {
		t.Errorf("status of ops-a: paused %v, blocked %q; want the pause", opsA.Paused, opsA.Blocked)
	}
	if len(rep.Queues) != 7 || len(rep.Paused) != 1 {
		t.Errorf("status: %d queues, pauses %+v; want 7 and ops-a's", len(rep.Queues), rep.Paused)
	}
	r = st.run("status", "--cluster", "ops-a", "--versions")
	if r.code != 0 || !strings.Contains(r.stdout, "1.19.5") || !strings.Contains(r.stdout, "PAUSED: cluster ops-a paused by tester") {
		t.Errorf("status --versions: exit %d; want the versions and the pause", r.code)
	}

	if r := st.run("pause", "--all", "--reason", "freeze"); r.code != 0 {
		t.Fatalf("pause --all: exit %d", r.code)
	}
	if r := st.run("resume", "--cluster", "ops-a"); r.code != 0 || !strings.Contains(r.stdout, "resume --all") {
		t.Errorf("resume ops-a under a global pause: exit %d, %q; want the note", r.code, r.stdout)
	}
	halt := promotion.Halt{Stage: "staging", Version: "1.20.3", Reason: promotion.ReasonAlarm, At: time.Now(), Message: "web-5xx"}
	if _, err := st.sqs.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(st.queue(topology.Drainer).URL), Tags: map[string]string{halt.Key(): halt.Value()}}); err != nil {
		t.Fatal(err)
	}
	st.env["ROLLWAVE_STAGES"] = `[{"name":"staging","clusters":["ops-a"],"bake":"1h"},{"name":"prod","clusters":["nowhere"]}]`
	st.env["ROLLWAVE_CLUSTER_POLICIES"] = `{"ops-a": {"alarmNames": ["ops-a-5xx"]}}`
	r = st.run("status", "-o", "json")
	rep = statusReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
		t.Fatalf("status -o json with stages: exit %d, %v", r.code, err)
	}
	if len(rep.Stages) != 2 || rep.Stages[0].State != "halted" || rep.Stages[0].Halt == nil || rep.Stages[1].State != "idle" ||
		len(rep.Stages[1].Gates) != 2 || !strings.Contains(rep.Stages[1].Gates[1], "promotion of 1.20.3 halted at stage staging") {
		t.Errorf("status stages = %+v, want staging halted and prod idle, held by the halt", rep.Stages)
	}
	if g := rep.Stages[0].Gates; len(g) != 1 || !strings.Contains(g[0], "gate alarms (ops-a-5xx) in ALARM during its bake") {
		t.Errorf("status: staging's gates = %q, want its cluster's own alarm ops-a-5xx halting during its bake", g)
	}
	if r := st.run("status"); r.code != 0 || !strings.Contains(r.stdout, "staging (ops-a; bake 1h0m0s): halted") || !strings.Contains(r.stdout, "HALTED: promotion of 1.20.3: alarm: web-5xx") {
		t.Errorf("status with stages: exit %d, want the stages section:\n%s", r.code, r.stdout)
	}
	delete(st.env, "ROLLWAVE_STAGES")
	delete(st.env, "ROLLWAVE_CLUSTER_POLICIES")
	if r := st.run("resume", "--all"); r.code != 0 || !strings.Contains(r.stdout, "promotion of 1.20.3 resumed at stage staging") {
		t.Fatalf("resume --all with a promotion halted: exit %d, %q; want the halt lifted", r.code, r.stdout)
	}
	if tags, err := st.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(st.queue(topology.Drainer).URL)}); err != nil || len(promotion.ParseHalts(tags.Tags)) != 0 {
		t.Errorf("promotion halts after resume --all = %v (%v), want none", tags, err)
	}
	if s, _ := pause.Read(ctx, st.sqs, st.queue(topology.Drainer).URL); len(s.All()) != 0 {
		t.Errorf("pauses after resuming = %+v, want none", s.All())
	}
	if r := st.run("resume", "--all"); r.code != 0 || !strings.Contains(r.stdout, "was not paused") {
		t.Errorf("resume of nothing: exit %d, %q", r.code, r.stdout)
	}

	var got []string
	harness.Eventually(t, 20*time.Second, func() (bool, string) {
		out, err := st.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return false, err.Error()
		}
		for _, m := range out.Messages {
			var ev struct {
				DetailType string            `json:"detail-type"`
				Detail     pause.EventDetail `json:"detail"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &ev)
			got = append(got, ev.DetailType+" "+ev.Detail.Cluster)
		}
		return len(got) >= 4, strings.Join(got, ", ")
	})
	want := map[string]bool{
		notify.ClusterRolloutPaused + " ops-a": true, notify.ClusterRolloutPaused + " *": true,
		notify.ClusterRolloutResumed + " ops-a": true, notify.ClusterRolloutResumed + " *": true,
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected event %q", g)
		}
		delete(want, g)
	}
	if len(want) > 0 {
		t.Errorf("events missing: %v (got %v)", want, got)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	if r := st.run("scan", "--cluster", "ops-a,nope"); r.code != exitNotFound {
		t.Errorf("scan of an unknown cluster: exit %d, want %d", r.code, exitNotFound)
	}
	if r := st.run("scan", "--cluster", "ops-a", "--reason", "1.20.3 released"); r.code != 0 {
		t.Fatalf("scan: exit %d", r.code)
	}
	msgs := st.drain(st.queue(topology.Scanner).URL)
	if len(msgs) != 1 {
		t.Fatalf("%d scan requests sent, want 1", len(msgs))
	}
	req, err := update.DecodeScan([]byte(msgs[0].Body))
	if err != nil || len(req.Clusters) != 1 || req.Clusters[0] != "ops-a" || req.RequestedBy != "tester" || req.Reason != "1.20.3 released" {
		t.Errorf("scan request = %+v, %v", req, err)
	}
}
