package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

// TestStandaloneTasks proves the three standalone policies from fleetsim, one cluster each (see
// testdata/standalone.yaml), in one rollout:
//
//   - skip (the default): the instance with the standalone task is skipped with standalone-task,
//     never drained nor rebooted, and its task RUNNING from start to end, never stopped;
//   - wait: the instance is drained while its task runs (the service tasks move), and updated
//     after the task ended on its own (stop code EssentialContainerExited, not rollwave's);
//   - stop, opted into for its cluster in ROLLWAVE_CLUSTER_POLICIES: the task is stopped by
//     rollwave (ecs:StopTask, stop code UserInitiated) once the grace has passed since the drain
//     started, and the instance updated.
//
// The other instance of each cluster, without a standalone task, is updated in every case.
func TestStandaloneTasks(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second // real time: the drainer's clock
	p := startPipeline(t, "testdata/standalone.yaml",
		`ROLLWAVE_CLUSTER_POLICIES={"standalone-wait": {"standaloneTasks": "wait", "standaloneDeadline": "90s"},
			"standalone-stop": {"standaloneTasks": "stop", "standaloneGrace": "`+grace.String()+`"}}`)
	const (
		skipped, skipOther = "i-0e00000000000000a", "i-0e00000000000000b"
		waited, waitOther  = "i-0e00000000000001a", "i-0e00000000000001b"
		stopped, stopOther = "i-0e00000000000002a", "i-0e00000000000002b"
	)
	ctx := t.Context()
	ecsClient := ecs.NewFromConfig(p.stack.AWSConfig(ctx))

	// Each standalone task and the service tasks beside it, before anything happens.
	byCluster := p.instances()
	standaloneOf := map[string]string{}   // EC2 instance ID -> its standalone task's ARN
	serviceTasks := map[string][]string{} // EC2 instance ID -> the ARNs of its service tasks
	for _, ins := range byCluster {
		for _, in := range ins {
			for _, task := range in.Tasks {
				switch {
				case !strings.HasPrefix(task.StartedBy, "ecs-svc/"):
					if task.LastStatus != "RUNNING" {
						t.Fatalf("standalone task %s on %s is %s at the start, want RUNNING", task.ARN, in.EC2InstanceID, task.LastStatus)
					}
					standaloneOf[in.EC2InstanceID] = task.ARN
				default:
					serviceTasks[in.EC2InstanceID] = append(serviceTasks[in.EC2InstanceID], task.ARN)
				}
			}
		}
	}
	for _, id := range []string{skipped, waited, stopped} {
		if standaloneOf[id] == "" {
			t.Fatalf("no standalone task on %s at the start; the scenario puts one there", id)
		}
	}
	if len(serviceTasks[waited]) == 0 {
		t.Fatalf("no service task on %s at the start: the wait case must show them move", waited)
	}

	res := p.newResults()
	p.scan()
	all := []string{skipped, skipOther, waited, waitOther, stopped, stopOther}
	got := res.waitEnded(120*time.Second, all)
	for _, id := range []string{skipOther, waited, waitOther, stopped, stopOther} {
		if e := got[id]; e.DetailType != notify.InstanceUpdateSucceeded || e.ToVersion != targetVersion {
			t.Errorf("%s ended %q (%s: %s), want updated to %s", id, e.DetailType, e.Reason, e.Message, targetVersion)
		}
	}
	rep := p.report()

	// describe returns the task as ECS (fleetsim) describes it now.
	describe := func(cluster, arn string) ecstypes.Task {
		t.Helper()
		out, err := ecsClient.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}})
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("describe task %s: %v (%d tasks)", arn, err, len(out.Tasks))
		}
		return out.Tasks[0]
	}

	t.Run("skip", func(t *testing.T) {
		if e := got[skipped]; e.DetailType != notify.InstanceUpdateSkipped || e.Reason != "standalone-task" {
			t.Errorf("%s ended %q (%s: %s), want skipped with reason standalone-task", skipped, e.DetailType, e.Reason, e.Message)
		}
		if in := reportInstance(t, rep, skipped); in.Reboots != 0 || in.Version != oldVersion || in.Status != "ACTIVE" || len(in.Timeline) != 0 {
			t.Errorf("%s: %s on %s, %d reboots, timeline %v; want ACTIVE on %s, never drained nor rebooted", skipped, in.Status, in.Version, in.Reboots, in.Timeline, oldVersion)
		}
		task := describe("standalone-skip", standaloneOf[skipped])
		if aws.ToString(task.LastStatus) != "RUNNING" || aws.ToString(task.DesiredStatus) != "RUNNING" || task.StopCode != "" || task.StoppingAt != nil {
			t.Errorf("standalone task at the end: %s (desired %s), stop code %q, reason %q; want RUNNING and never asked to stop",
				aws.ToString(task.LastStatus), aws.ToString(task.DesiredStatus), task.StopCode, aws.ToString(task.StoppedReason))
		}
		if !runsTask(p.instances()["standalone-skip"], skipped, standaloneOf[skipped]) {
			t.Errorf("fleetsim's state does not show the standalone task %s on %s at the end", standaloneOf[skipped], skipped)
		}
	})

	t.Run("wait", func(t *testing.T) {
		task := describe("standalone-wait", standaloneOf[waited])
		if task.StopCode != ecstypes.TaskStopCodeEssentialContainerExited || strings.Contains(aws.ToString(task.StoppedReason), "rollwave") {
			t.Errorf("standalone task stopped with %q (%s), want %q: it ends on its own, never stopped by rollwave",
				task.StopCode, aws.ToString(task.StoppedReason), ecstypes.TaskStopCodeEssentialContainerExited)
		}
		in := reportInstance(t, rep, waited)
		draining, down := firstEvent(in.Timeline, admin.EventDraining), firstEvent(in.Timeline, admin.EventHostDown)
		ended := aws.ToTime(task.StoppedAt)
		if draining.IsZero() || down.IsZero() || !draining.Before(ended) || down.Before(ended) {
			t.Errorf("%s drained at %s, down at %s, its standalone task ended at %s; want the drain started while the task ran and the reboot after it ended (timeline %v)",
				waited, draining.Format(time.TimeOnly), down.Format(time.TimeOnly), ended.Format(time.TimeOnly), in.Timeline)
		}
		for _, arn := range serviceTasks[waited] {
			st := describe("standalone-wait", arn)
			if st.StopCode != ecstypes.TaskStopCodeServiceSchedulerInitiated || !aws.ToTime(st.StoppedAt).Before(ended) {
				t.Errorf("service task %s stopped with %q at %s, want moved by the service scheduler before the standalone task ended at %s",
					arn, st.StopCode, aws.ToTime(st.StoppedAt).Format(time.TimeOnly), ended.Format(time.TimeOnly))
			}
		}
		if in.Version != targetVersion || in.Reboots != 1 {
			t.Errorf("%s on %s after %d reboots, want %s after 1", waited, in.Version, in.Reboots, targetVersion)
		}
	})

	t.Run("stop", func(t *testing.T) {
		task := describe("standalone-stop", standaloneOf[stopped])
		if task.StopCode != ecstypes.TaskStopCodeUserInitiated || !strings.Contains(aws.ToString(task.StoppedReason), "standalone policy stop") {
			t.Errorf("standalone task stopped with %q (%s), want %q by rollwave's standalone policy stop",
				task.StopCode, aws.ToString(task.StoppedReason), ecstypes.TaskStopCodeUserInitiated)
		}
		in := reportInstance(t, rep, stopped)
		draining := firstEvent(in.Timeline, admin.EventDraining)
		// The grace is real time, counted by the drainer from the drain's start, which it reads
		// after fleetsim wrote its admission claim (rollwave.stage=admitting) and before fleetsim
		// sets DRAINING. So the stop comes at least the grace after the claim in fleetsim's time,
		// timeScale times faster, however slowly the calls in between went.
		claimed := lastChangeBefore(in.AttributeChanges, "rollwave.stage", "admitting", draining)
		virtualGrace := grace * timeScale
		asked := aws.ToTime(task.StoppingAt)
		if draining.IsZero() || claimed.IsZero() || asked.Before(draining) || asked.Sub(claimed) < virtualGrace {
			t.Errorf("%s claimed at %s, drained at %s, its standalone task asked to stop at %s; want the stop after the drain started and at least the grace (%s virtual) after the claim",
				stopped, claimed.Format(time.TimeOnly), draining.Format(time.TimeOnly), asked.Format(time.TimeOnly), virtualGrace)
		}
		if in.Version != targetVersion || in.Reboots != 1 {
			t.Errorf("%s on %s after %d reboots, want %s after 1", stopped, in.Version, in.Reboots, targetVersion)
		}
	})
	p.checkNoDeadLetters()
}

// runsTask reports whether fleetsim's state shows task RUNNING on the instance id of ins.
func runsTask(ins []admin.InstanceState, id, task string) bool {
	for _, in := range ins {
		if in.EC2InstanceID != id {
			continue
		}
		for _, x := range in.Tasks {
			if x.ARN == task && x.LastStatus == "RUNNING" {
				return true
			}
		}
	}
	return false
}

// lastChangeBefore returns the time of the last change of the attribute name to value before
// (or at) t in changes, or zero.
func lastChangeBefore(changes []admin.AttributeChange, name, value string, t time.Time) time.Time {
	var at time.Time
	for _, c := range changes {
		if c.Name == name && c.Value == value && !c.Deleted && !c.T.After(t) {
			at = c.T
		}
	}
	return at
}

// firstEvent returns the time of the first event of the timeline, or zero.
func firstEvent(timeline []admin.InstanceEvent, event string) time.Time {
	for _, e := range timeline {
		if e.Event == event {
			return e.T
		}
	}
	return time.Time{}
}
