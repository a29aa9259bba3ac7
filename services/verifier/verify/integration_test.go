package verify

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

const itHost = "i-0aaaaaaaaaaaaaaa1" // testdata/one-host.yaml

// TestVerifierProcess runs the verifier binary against moto and fleetsim: a host updated and
// rebooted by hand over SSM, with a job at step verify, ends ACTIVE and unmarked, and an
// "Instance Update Succeeded" event reaches a queue through an EventBridge rule on source
// rollwave.
func TestVerifierProcess(t *testing.T) {
	s := harness.Start(t, harness.WithScenario("testdata/one-host.yaml"), harness.WithTimeScale(20))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	prefix := s.Name("rw")
	sqsClient, ebClient := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	res, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqsClient, Events: ebClient}, topology.Default(prefix))
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := ssmdoc.Ensure(ctx, ssm.NewFromConfig(cfg), prefix); err != nil {
		t.Fatalf("Ensure documents: %v", err)
	}

	// The pipeline events go to a queue of the test's own.
	created, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(s.Name("pipeline-events"))})
	if err != nil {
		t.Fatal(err)
	}
	eventsURL := aws.ToString(created.QueueUrl)
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	rule := s.Name("rollwave-events")
	if _, err := ebClient.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventPattern: aws.String(topology.PipelineEventPattern(prefix))}); err != nil {
		t.Fatal(err)
	}
	if _, err := ebClient.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule),
		Targets: []ebtypes.Target{{Id: aws.String("test"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}

	// The host as the drainer and the patcher leave it: marked rebooting by the job, DRAINING,
	// updated and rebooting.
	ecsClient := cluster.New(ecs.NewFromConfig(cfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(cfg))
	me, err := ecsClient.Instance(ctx, "it", itHost)
	if err != nil {
		t.Fatal(err)
	}
	const id = "job-verifier-it"
	if err := ecsClient.PutAttributes(ctx, "it", me.ARN, map[string]string{update.AttrJob: id, update.AttrStage: string(update.StageRebooting)}); err != nil {
		t.Fatal(err)
	}
	if failures, err := ecsClient.SetState(ctx, "it", []string{me.ARN}, cluster.StatusDraining); err != nil || len(failures) > 0 {
		t.Fatalf("SetState(DRAINING) = %v, %v", failures, err)
	}
	opts := ssmcommand.Options{PollInterval: 100 * time.Millisecond, Wait: time.Minute}
	if _, err := ssmcommand.Check(ctx, ssmClient, ssmdoc.Name(prefix, ssmdoc.Check), itHost, opts); err != nil {
		t.Fatal(err)
	}
	if err := ssmcommand.RunOne(ctx, ssmClient, ssmdoc.Name(prefix, ssmdoc.Apply), itHost, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := ssmClient.Send(ctx, ssmdoc.Name(prefix, ssmdoc.Reboot), itHost, "rollwave job "+id); err != nil {
		t.Fatal(err)
	}

	job := update.Job{Schema: update.Schema, ID: id, Cluster: "it", Instance: itHost, TargetVersion: "1.20.3",
		RequestedBy: "integration test", Reason: "verify one host", ContainerInstanceARN: me.ARN, EC2InstanceID: itHost,
		FromVersion: "1.19.5", StagedVersion: "1.20.3"}
	for _, step := range []update.Step{update.StepStage, update.StepDrain, update.StepReboot, update.StepVerify} {
		if err := job.Advance(step, "test", "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	body, err := update.Encode(job)
	if err != nil {
		t.Fatal(err)
	}
	verifierQ, _ := res.Queue(topology.Verifier)
	if _, err := sqsClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(verifierQ.URL), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}

	bin := harness.BuildBinary(t, "services/verifier")
	p := harness.StartProcess(t, "verifier", bin, append(s.Env(),
		"ROLLWAVE_PREFIX="+prefix, "ROLLWAVE_CLUSTERS=it", "ROLLWAVE_RECHECK_INTERVAL=1s", "ROLLWAVE_SSM_POLL_INTERVAL=200ms",
		"ROLLWAVE_SSM_EXPECTED=150ms", "ROLLWAVE_LOG_LEVEL=debug")) // an update check's 3 s at ×20

	var got []string
	harness.Eventually(t, 120*time.Second, func() (bool, string) {
		if !p.Running() {
			t.Fatalf("verifier exited:\n%s", p.Log())
		}
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(eventsURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return false, fmt.Sprintf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			var e struct {
				DetailType string           `json:"detail-type"`
				Detail     notify.JobDetail `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("event %s: %v", aws.ToString(m.Body), err)
			}
			got = append(got, fmt.Sprintf("%s: %s %s", e.DetailType, e.Detail.JobID, e.Detail.Reason))
		}
		return len(got) > 0, fmt.Sprintf("events so far: %v", got)
	})
	if want := notify.InstanceUpdateSucceeded + ": " + id + " updated"; len(got) != 1 || got[0] != want {
		t.Errorf("pipeline events = %q, want [%q]", got, want)
	}
	after, err := ecsClient.Instance(ctx, "it", me.ARN)
	if err != nil {
		t.Fatal(err)
	}
	_, marked := after.Attributes[update.AttrJob]
	_, staged := after.Attributes[update.AttrStage]
	if after.Status != cluster.StatusActive || marked || staged {
		t.Errorf("instance after the job: status %s, attributes %v; want ACTIVE and unmarked", after.Status, after.Attributes)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("verifier did not stop cleanly on SIGTERM: %v", err)
	}
}
