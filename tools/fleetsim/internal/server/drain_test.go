package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// threeClusters is 3 clusters of 10 hosts with services and a standalone task each.
func threeClusters() string {
	var b strings.Builder
	b.WriteString("timeScale: 400\nseed: 3\nrepository:\n  aws-ecs-2: [\"1.20.3\", \"1.19.5\"]\ntimings: {taskStart: 20s, taskStop: 30s}\nclusters:\n")
	for _, c := range []string{"alpha", "beta", "gamma"} {
		fmt.Fprintf(&b, `  - name: %s
    instances:
      - {count: 10, version: 1.19.5, cpu: 2048, memory: 4096}
    services:
      - {name: web, desired: 10, minimumHealthyPercent: 100, maximumPercent: 200, cpu: 256, memory: 512}
      - {name: api, desired: 6, minimumHealthyPercent: 50, maximumPercent: 100, cpu: 512, memory: 512}
      - {name: worker, desired: 4, minimumHealthyPercent: 75, maximumPercent: 125, cpu: 128, memory: 256}
    daemonServices:
      - {name: agent, cpu: 32, memory: 32}
    tasks:
      - {family: cron, instance: "0", duration: never}
`, c)
	}
	return b.String()
}

func TestDrainReplacesServiceTasksWithinMinimumHealthyPercent(t *testing.T) {
	e := start(t, threeClusters())
	ctx := context.Background()
	target := e.instance("beta", 0)
	if len(target.Tasks) < 3 {
		t.Fatalf("instance has %d tasks before the drain, want services and the standalone task", len(target.Tasks))
	}
	if _, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("beta"),
		ContainerInstances: []string{target.ContainerInstanceArn}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("only the standalone task left on the drained instance", 20*time.Second, func() bool {
		out, err := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("beta"), ContainerInstance: aws.String(target.ContainerInstanceArn)})
		return err == nil && len(out.TaskArns) == 1
	})
	out, _ := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("beta"), ContainerInstance: aws.String(target.ContainerInstanceArn)})
	d, err := e.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("beta"), Tasks: out.TaskArns})
	if err != nil || aws.ToString(d.Tasks[0].Group) != "family:cron" || aws.ToString(d.Tasks[0].LastStatus) != "RUNNING" {
		t.Fatalf("task left on the drained instance = %+v, %v, want the RUNNING standalone task", d, err)
	}
	e.waitFor("services back at their desired count", 20*time.Second, func() bool {
		for _, s := range e.report().Services {
			if s.Running != s.Desired && !s.Daemon {
				return false
			}
		}
		return true
	})
	rep := e.report()
	moved := 0
	for _, s := range rep.Services {
		if s.Daemon {
			continue
		}
		if s.BelowFloor || s.MinRunning < s.Floor {
			t.Errorf("%s/%s: min running %d below its floor %d (%d%% of %d)", s.Cluster, s.Service, s.MinRunning, s.Floor, s.MinimumHealthyPercent, s.Desired)
		}
		if s.Cluster == "beta" && len(s.Samples) > 1 {
			moved++
		}
	}
	if moved == 0 {
		t.Errorf("no service of beta shows the drain in its samples")
	}
	if len(rep.LeftDraining) != 1 || rep.LeftDraining[0] != target.EC2InstanceID {
		t.Errorf("report leftDraining = %v, want [%s]", rep.LeftDraining, target.EC2InstanceID)
	}
	for _, c := range rep.Clusters {
		want := 0
		if c.Cluster == "beta" {
			want = 1
		}
		if c.MaxOutOfService != want {
			t.Errorf("cluster %s max out of service = %d, want %d", c.Cluster, c.MaxOutOfService, want)
		}
	}
	if rep.APICalls["ecs:UpdateContainerInstancesState"] != 1 || rep.APICallsByCaller["AKIDTEST"]["ecs:ListTasks"] == 0 {
		t.Errorf("report apiCalls = %v, want the drain and the ListTasks counted", rep.APICalls)
	}
}

func TestDrainStallsWithoutCapacity(t *testing.T) {
	e := start(t, `
timeScale: 400
clusters:
  - name: tight
    instances:
      - {count: 2, version: 1.19.5, cpu: 512, memory: 1024}
    services:
      - {name: big, desired: 2, minimumHealthyPercent: 100, maximumPercent: 200, cpu: 512, memory: 512}
`)
	ctx := context.Background()
	arn := e.instance("tight", 0).ContainerInstanceArn
	if _, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("tight"),
		ContainerInstances: []string{arn}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	e.waitFor("unable to place event", 10*time.Second, func() bool {
		out, err := e.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("tight"), Services: []string{"big"}})
		if err != nil {
			return false
		}
		msgs = msgs[:0]
		for _, ev := range out.Services[0].Events {
			msgs = append(msgs, aws.ToString(ev.Message))
			if strings.Contains(aws.ToString(ev.Message), "unable to place a task") {
				return true
			}
		}
		return false
	})
	if n := len(e.instance("tight", 0).Tasks); n != 1 {
		t.Errorf("tasks on the drained instance without capacity elsewhere = %d, want 1 (the drain stalls)", n)
	}
}

// An instance made ACTIVE again while its tasks were being replaced leaves a service with more
// tasks than desired; like ECS, the scheduler scales it back in.
func TestReactivatedInstanceScalesServiceBackIn(t *testing.T) {
	e := start(t, `
timeScale: 400
timings: {taskStart: 20s, taskStop: 30s}
clusters:
  - name: small
    instances:
      - {count: 3, version: 1.19.5, cpu: 2048, memory: 4096}
    services:
      - {name: web, desired: 2, minimumHealthyPercent: 100, maximumPercent: 200, cpu: 256, memory: 512}
`)
	ctx := context.Background()
	var arn string
	for i := range 3 {
		if in := e.instance("small", i); len(in.Tasks) > 0 {
			arn = in.ContainerInstanceArn
			break
		}
	}
	set := func(status types.ContainerInstanceStatus) {
		t.Helper()
		if _, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("small"),
			ContainerInstances: []string{arn}, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	web := func() types.Service {
		out, err := e.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("small"), Services: []string{"web"}})
		if err != nil || len(out.Services) != 1 {
			t.Fatalf("DescribeServices(web) = %+v, %v", out, err)
		}
		return out.Services[0]
	}
	set(types.ContainerInstanceStatusDraining)
	e.waitFor("a replacement task placed", 10*time.Second, func() bool { return web().PendingCount > 0 })
	set(types.ContainerInstanceStatusActive)
	e.waitFor("web back at its desired count", 20*time.Second, func() bool {
		s := web()
		return s.RunningCount == s.DesiredCount && s.PendingCount == 0
	})
}
