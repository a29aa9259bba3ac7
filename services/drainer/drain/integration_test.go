package drain

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/ssmcommand"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

// TestDrainerProcess runs the drainer binary against moto and fleetsim: a job at step drain for
// an instance staged by hand ends with the instance DRAINING, its service tasks moved to the other
// instances, and the job on the patcher's queue at step reboot.
func TestDrainerProcess(t *testing.T) {
	s := harness.Start(t, harness.WithScenario("testdata/three-hosts.yaml"), harness.WithTimeScale(20))
	ctx := t.Context()
	cfg := s.AWSConfig(ctx)
	prefix := s.Name("rw")
	sqsClient := sqs.NewFromConfig(cfg)
	res, err := topology.Bootstrap(ctx, topology.Clients{SQS: sqsClient, Events: eventbridge.NewFromConfig(cfg)}, topology.Default(prefix))
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := ssmdoc.Ensure(ctx, ssm.NewFromConfig(cfg), prefix); err != nil {
		t.Fatalf("Ensure documents: %v", err)
	}
	ecsClient := cluster.New(ecs.NewFromConfig(cfg))
	ssmClient := ssmcommand.New(ssm.NewFromConfig(cfg))

	// The instance with the most service tasks, staged as the patcher would have.
	all, err := ecsClient.ListInstances(ctx, "it", "", "")
	if err != nil || len(all) != 3 {
		t.Fatalf("ListInstances = %d instances, %v; want 3", len(all), err)
	}
	me := slices.MaxFunc(all, func(a, b cluster.Instance) int { return a.RunningTasks - b.RunningTasks })
	if me.RunningTasks == 0 {
		t.Fatalf("no instance runs a task: %+v", all)
	}
	opts := ssmcommand.Options{PollInterval: 100 * time.Millisecond, Wait: time.Minute}
	if _, err := ssmcommand.Check(ctx, ssmClient, ssmdoc.Name(prefix, ssmdoc.Check), me.EC2InstanceID, opts); err != nil {
		t.Fatalf("check for updates: %v", err)
	}
	if err := ssmcommand.RunOne(ctx, ssmClient, ssmdoc.Name(prefix, ssmdoc.Apply), me.EC2InstanceID, opts); err != nil {
		t.Fatalf("stage the update: %v", err)
	}
	const id = "job-drainer-it"
	if err := ecsClient.PutAttributes(ctx, "it", me.ARN, map[string]string{update.AttrJob: id, update.AttrStage: string(update.StageStaged)}); err != nil {
		t.Fatal(err)
	}
	job := update.Job{Schema: update.Schema, ID: id, Cluster: "it", Instance: me.EC2InstanceID, TargetVersion: "1.20.3",
		RequestedBy: "integration test", Reason: "drain one instance", ContainerInstanceARN: me.ARN, EC2InstanceID: me.EC2InstanceID,
		FromVersion: "1.19.5", StagedVersion: "1.20.3"}
	for _, step := range []update.Step{update.StepStage, update.StepDrain} {
		if err := job.Advance(step, "test", "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	body, err := update.Encode(job)
	if err != nil {
		t.Fatal(err)
	}
	drainerQ, _ := res.Queue(topology.Drainer)
	rebootQ, _ := res.Queue(topology.Reboot)
	if _, err := sqsClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(drainerQ.URL), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}

	bin := harness.BuildBinary(t, "services/drainer")
	p := harness.StartProcess(t, "drainer", bin, append(s.Env(),
		"ROLLWAVE_PREFIX="+prefix, "ROLLWAVE_CLUSTERS=it", "ROLLWAVE_RECHECK_INTERVAL=1s", "ROLLWAVE_LOG_LEVEL=debug"))

	var forwarded update.Job
	harness.Eventually(t, 90*time.Second, func() (bool, string) {
		if !p.Running() {
			t.Fatalf("drainer exited:\n%s", p.Log())
		}
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(rebootQ.URL), WaitTimeSeconds: 1})
		if err != nil {
			return false, fmt.Sprintf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return false, "nothing on the reboot queue yet"
		}
		forwarded, err = update.Decode([]byte(aws.ToString(out.Messages[0].Body)))
		if err != nil {
			t.Fatalf("forwarded job: %v", err)
		}
		return true, ""
	})
	if forwarded.ID != id || forwarded.Step != update.StepReboot {
		t.Errorf("forwarded job %s at step %q, want %s at step reboot", forwarded.ID, forwarded.Step, id)
	}

	after, err := ecsClient.Instance(ctx, "it", me.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != cluster.StatusDraining || after.RunningTasks+after.PendingTasks != 0 ||
		after.Attributes[update.AttrStage] != string(update.StageDraining) || after.Attributes[update.AttrJob] != id {
		t.Errorf("instance after the drain: status %s, %d tasks, attributes %v; want DRAINING, none, marked draining by %s",
			after.Status, after.RunningTasks+after.PendingTasks, after.Attributes, id)
	}
	report, err := admin.New(s.FleetsimURL).Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range report.Services {
		if svc.Service == "web" && (svc.Running != svc.Desired || svc.BelowFloor) {
			t.Errorf("service web: %d of %d running, below its floor: %t; want its tasks moved to the other instances",
				svc.Running, svc.Desired, svc.BelowFloor)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("drainer did not stop cleanly on SIGTERM: %v", err)
	}
}
