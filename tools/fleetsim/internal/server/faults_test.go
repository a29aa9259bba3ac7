package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

func (e *env) inject(f admin.Faults) {
	e.t.Helper()
	if err := e.admin.InjectFaults(context.Background(), f); err != nil {
		e.t.Fatalf("InjectFaults: %v", err)
	}
}

func (e *env) rebootAndWaitDown(i int) string {
	e.t.Helper()
	id := e.instance("c", i).EC2InstanceID
	e.send(e.document(60, "apiclient reboot"), id)
	e.waitFor("host down", 10*time.Second, func() bool { return !e.instance("c", i).HostUp })
	return id
}

func TestHostFaults(t *testing.T) {
	hostFault := func(f admin.HostFaults) admin.Faults {
		return admin.Faults{Hosts: []admin.HostFaultRule{{Instance: "*", Faults: f}}}
	}
	t.Run("update check fails", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{UpdateCheckFails: true}))
		if out := e.run(e.instance("c", 0).EC2InstanceID, "apiclient update check"); out.Status != ssmtypes.CommandInvocationStatusFailed {
			t.Errorf("update check = %s, want Failed", out.Status)
		}
	})
	t.Run("apply fails", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{ApplyFails: true}))
		if out := e.run(e.instance("c", 0).EC2InstanceID, "apiclient update check", "apiclient update apply"); out.Status != ssmtypes.CommandInvocationStatusFailed {
			t.Errorf("update apply = %s, want Failed", out.Status)
		}
	})
	t.Run("apply hangs", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{ApplyHangs: true}))
		id := e.instance("c", 0).EC2InstanceID
		out := e.finish(e.send(e.document(120, "apiclient update check", "apiclient update apply"), id), id)
		if out.Status != ssmtypes.CommandInvocationStatusTimedOut || aws.ToString(out.StatusDetails) != "ExecutionTimedOut" {
			t.Errorf("hanging apply = %s/%s, want TimedOut/ExecutionTimedOut", out.Status, aws.ToString(out.StatusDetails))
		}
	})
	t.Run("reboot never returns", func(t *testing.T) {
		e := start(t, fleet(1, "faults:\n  hosts:\n    - faults: {rebootNeverReturns: true}\n"))
		id := e.rebootAndWaitDown(0)
		cmd := e.send(e.document(60, "apiclient get os"), id)
		out := e.finish(cmd, id)
		if out.Status != ssmtypes.CommandInvocationStatusTimedOut || aws.ToString(out.StatusDetails) != "DeliveryTimedOut" {
			t.Errorf("command to a host that never returns = %s/%s, want TimedOut/DeliveryTimedOut", out.Status, aws.ToString(out.StatusDetails))
		}
		if in := e.instance("c", 0); in.HostUp || in.AgentConnected {
			t.Errorf("host up %v, agent connected %v, want both false", in.HostUp, in.AgentConnected)
		}
		if rep := e.report(); rep.Clusters[0].OutOfService != 1 {
			t.Errorf("out of service = %d, want 1", rep.Clusters[0].OutOfService)
		}
	})
	t.Run("new version fails to boot", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{NewVersionFailsToBoot: true}))
		id := e.instance("c", 0).EC2InstanceID
		e.run(id, "apiclient update check", "apiclient update apply")
		e.rebootAndWaitDown(0)
		e.waitFor("agent reconnected", 10*time.Second, func() bool { return e.instance("c", 0).AgentConnected })
		if v := e.instance("c", 0).Version; v != "1.19.5" {
			t.Errorf("version after a failed boot = %s, want the old 1.19.5", v)
		}
	})
	t.Run("agent never reconnects", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{AgentNeverReconnects: true}))
		e.rebootAndWaitDown(0)
		e.waitFor("host up", 10*time.Second, func() bool { return e.instance("c", 0).HostUp })
		out, err := e.ecs.ListContainerInstances(context.Background(), &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), Filter: aws.String("agentConnected == false")})
		if err != nil || len(out.ContainerInstanceArns) != 1 {
			t.Errorf("agentConnected == false = %v, %v, want the rebooted instance", out, err)
		}
		if err := e.admin.ClearFaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.waitFor("agent reconnects once the fault is cleared", 10*time.Second, func() bool { return e.instance("c", 0).AgentConnected })
	})
	t.Run("ssm agent offline", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(hostFault(admin.HostFaults{SSMAgentOffline: true}))
		id := e.instance("c", 0).EC2InstanceID
		if p := e.pingStatus(id); p != ssmtypes.PingStatusConnectionLost {
			t.Errorf("PingStatus = %s, want ConnectionLost", p)
		}
		out, err := e.ssm.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(e.document(60, "apiclient get os")), InstanceIds: []string{id}, TimeoutSeconds: aws.Int32(30)})
		if err != nil {
			t.Fatal(err)
		}
		if inv := e.finish(*out.Command.CommandId, id); aws.ToString(inv.StatusDetails) != "DeliveryTimedOut" {
			t.Errorf("command to an offline SSM agent = %s/%s, want DeliveryTimedOut", inv.Status, aws.ToString(inv.StatusDetails))
		}
	})
	t.Run("tasks never start on version", func(t *testing.T) {
		// Instance 0 is updated and rebooted by hand while ACTIVE; its daemon task comes back and
		// stays PENDING on 1.20.3, and starts again once the host is back on 1.19.5.
		e := start(t, fleet(2, "    daemonServices:\n      - {name: agent}\nfaults:\n  hosts:\n    - faults: {tasksNeverStartOnVersion: \"1.20.3\"}\n"))
		id := e.instance("c", 0).EC2InstanceID
		daemon := func() (running, pending int) {
			for _, task := range e.instance("c", 0).Tasks {
				if task.Group != "service:agent" {
					continue
				}
				switch task.LastStatus {
				case "RUNNING":
					running++
				case "PENDING":
					pending++
				}
			}
			return running, pending
		}
		if r, p := daemon(); r != 1 || p != 0 {
			t.Fatalf("daemon tasks on 1.19.5 = %d running, %d pending; want 1 running: the fault is for 1.20.3", r, p)
		}
		e.run(id, "apiclient update check", "apiclient update apply")
		e.rebootAndWaitDown(0)
		e.waitFor("daemon task placed after the reboot", 10*time.Second, func() bool { _, p := daemon(); return p == 1 })
		before := e.report().Now
		e.waitFor("10 minutes of virtual time", 10*time.Second, func() bool { return e.report().Now.Sub(before) > 10*time.Minute })
		if r, p := daemon(); r != 0 || p != 1 || e.instance("c", 0).Version != "1.20.3" {
			t.Fatalf("daemon tasks 10 minutes after the reboot onto %s = %d running, %d pending; want the task stuck PENDING",
				e.instance("c", 0).Version, r, p)
		}
		if r, _ := e.ecs.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String("c"), ContainerInstance: aws.String(e.instance("c", 1).ContainerInstanceArn), DesiredStatus: types.DesiredStatusRunning}); len(r.TaskArns) == 0 {
			t.Error("instance 1 (on 1.19.5) lists no task")
		}
		for _, s := range e.state().Clusters[0].Services {
			if s.Name == "agent" && s.Pending != 1 {
				t.Errorf("service agent = %+v, want 1 pending", s)
			}
		}
		// The rollback: lock the old version, apply it, reboot.
		if out := e.run(id, "apiclient set updates.version-lock=1.19.5", "apiclient update check", "apiclient update apply"); out.Status != ssmtypes.CommandInvocationStatusSuccess {
			t.Fatalf("rollback apply = %s %q", out.Status, aws.ToString(out.StandardErrorContent))
		}
		e.rebootAndWaitDown(0)
		e.waitFor("daemon task running on the old version", 10*time.Second, func() bool { r, p := daemon(); return r == 1 && p == 0 })
		if v := e.instance("c", 0).Version; v != "1.19.5" {
			t.Errorf("version after the rollback = %s, want 1.19.5", v)
		}
	})
	t.Run("tasks start once the fault is cleared", func(t *testing.T) {
		e := start(t, fleet(1, "faults:\n  hosts:\n    - faults: {tasksNeverStartOnVersion: \"1.19.5\"}\n"))
		for _, s := range e.state().Clusters[0].Services {
			if s.Name == "web" && (s.Running != 0 || s.Pending != 4) {
				t.Fatalf("service web on a host whose version has the fault = %+v, want 4 pending", s)
			}
		}
		if err := e.admin.ClearFaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.waitFor("web running once the fault is cleared", 10*time.Second, func() bool {
			for _, s := range e.state().Clusters[0].Services {
				if s.Name == "web" {
					return s.Running == 4 && s.Pending == 0
				}
			}
			return false
		})
	})
	t.Run("standalone task never ends", func(t *testing.T) {
		e := start(t, fleet(2, ""))
		in := e.instance("c", 1)
		if _, err := e.ecs.UpdateContainerInstancesState(context.Background(), &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"), ContainerInstances: []string{in.ContainerInstanceArn}, Status: types.ContainerInstanceStatusDraining}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("service tasks gone", 10*time.Second, func() bool { return len(e.instance("c", 1).Tasks) == 1 })
		before := e.report().Now
		e.waitFor("20 minutes of virtual time", 20*time.Second, func() bool { return e.report().Now.Sub(before) > 20*time.Minute })
		if tasks := e.instance("c", 1).Tasks; len(tasks) != 1 || tasks[0].LastStatus != "RUNNING" {
			t.Errorf("tasks 20 minutes into the drain = %+v, want the standalone task RUNNING", tasks)
		}
	})
}

func TestAPIFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("throttling", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(admin.Faults{API: []admin.APIFault{{Operation: "ecs:ListClusters", ThrottleRate: 1}}})
		_, err := e.ecs.ListClusters(ctx, &ecs.ListClustersInput{})
		if errorCode(err) != "ThrottlingException" {
			t.Errorf("ListClusters = %v, want ThrottlingException", err)
		}
		if _, err := e.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"c"}}); err != nil {
			t.Errorf("DescribeClusters (not faulted) = %v, want nil", err)
		}
		rep, err := e.admin.Report(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.APIFaults["ecs:ListClusters"] == 0 || rep.APIFaults["ecs:ListClusters"] != rep.APICalls["ecs:ListClusters"] || rep.APIFaults["ecs:DescribeClusters"] != 0 {
			t.Errorf("report apiFaults = %v with apiCalls %v, want every ListClusters call and no DescribeClusters call faulted", rep.APIFaults, rep.APICalls)
		}
	})
	t.Run("server errors", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(admin.Faults{API: []admin.APIFault{{Operation: "ssm:*", ErrorRate: 1}}})
		_, err := e.ssm.ListCommands(ctx, &ssm.ListCommandsInput{})
		if errorCode(err) != "InternalServerError" {
			t.Errorf("ListCommands = %v, want InternalServerError", err)
		}
		var se *types.ServerException
		e.inject(admin.Faults{API: []admin.APIFault{{Operation: "ecs:*", ErrorRate: 1}}})
		if _, err := e.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); !errors.As(err, &se) {
			t.Errorf("ListClusters = %v, want ServerException", err)
		}
		if err := e.admin.ClearFaults(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
			t.Errorf("ListClusters after ClearFaults = %v, want nil", err)
		}
	})
	t.Run("latency", func(t *testing.T) {
		e := start(t, fleet(1, ""))
		e.inject(admin.Faults{API: []admin.APIFault{{Operation: "*", Latency: admin.Duration(80 * time.Second)}}}) // 0.2 s at scale 400
		begin := time.Now()
		if _, err := e.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begin); d < 200*time.Millisecond {
			t.Errorf("ListClusters took %v, want at least 200ms", d)
		}
	})
}
