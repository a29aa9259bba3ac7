package server

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// startInProcess is start without a listening server: the SDK clients and the admin client reach
// the handler through InProcess. Inside synctest.Test, the virtual clock is exact: a virtual
// duration d passes during time.Sleep(d / timeScale).
func startInProcess(t *testing.T, scenarioYAML string) *env {
	t.Helper()
	e := &env{t: t}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	e.world = sim.New(sim.Options{Log: log})
	t.Cleanup(e.world.Close)
	const base = "http://fleetsim.invalid"
	hc := &http.Client{Transport: InProcess{New(e.world, &sim.EventCounters{}, log, nil)}}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1, HTTPClient: hc}
	e.url = base
	e.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(base) })
	e.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(base) })
	e.admin = admin.NewWithHTTPClient(base, hc)
	if _, err := e.admin.LoadScenario(context.Background(), []byte(scenarioYAML)); err != nil {
		t.Fatalf("LoadScenario: %v", err)
	}
	return e
}

// timelineScenario is two hosts with a service whose one task per host may stop before its
// replacement starts (minimumHealthyPercent 50, maximumPercent 100) and a daemon, at ×100.
const timelineScenario = `
timeScale: 100
seed: 5
timings: {taskStart: 5s, taskStop: 10s, updateCheck: 2s, apply: 60s, activate: 2s, shutdown: 5s, reboot: 45s, agentReconnect: 15s, ssmDelivery: 1s}
repository:
  aws-ecs-2: ["1.20.3", "1.19.5"]
clusters:
  - name: c
    instances:
      - {count: 2, version: 1.19.5}
    services:
      - {name: web, desired: 2, minimumHealthyPercent: 50, maximumPercent: 100}
    daemonServices:
      - {name: log-router}
`

// TestReportTimesAnInstanceOutOfService drains a host and reboots it by hand over the ECS and SSM
// APIs, at known virtual instants, and expects the report to give its timeline and its time out
// of service split exactly into the drain, the reboot and what lies beyond.
func TestReportTimesAnInstanceOutOfService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const scale = 100
		e := startInProcess(t, timelineScenario)
		ctx := context.Background()
		target := e.instance("c", 0)
		id := target.EC2InstanceID
		// sleep lets the virtual duration d pass.
		sleep := func(d time.Duration) { time.Sleep(d / scale) }
		setStatus := func(s types.ContainerInstanceStatus) {
			t.Helper()
			out, err := e.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("c"),
				ContainerInstances: []string{target.ContainerInstanceArn}, Status: s})
			if err != nil || len(out.Failures) > 0 {
				t.Fatalf("UpdateContainerInstancesState(%s) = %+v, %v", s, out, err)
			}
		}

		// Staged while serving: none of it counts.
		if out := e.run(id, "apiclient update check", "apiclient update apply"); out.Status != "Success" {
			t.Fatalf("update apply ended %s: %s", out.Status, aws.ToString(out.StandardErrorContent))
		}
		sleep(30 * time.Second)

		drainAt := e.state().Now
		setStatus(types.ContainerInstanceStatusDraining)
		// Both tasks (web's and the daemon's) stop after taskStop; an interval still open counts
		// up to the report's now.
		sleep(4 * time.Second)
		for _, in := range e.report().Instances {
			if in.EC2InstanceID == id && (in.OutOfService.D() != 4*time.Second || in.Drain.D() != 4*time.Second || in.Beyond != 0) {
				t.Errorf("mid-drain report of %s: out of service %s, drain %s, beyond %s, want 4s, 4s, 0s", id, in.OutOfService.D(), in.Drain.D(), in.Beyond.D())
			}
		}
		// Then the host waits 20 s after drained.
		sleep(26 * time.Second)
		rebootAt := e.state().Now
		e.send(e.document(600, "apiclient reboot"), id)
		// SSM delivers after 1 s, the host shuts down 5 s later, boots in 45 s, and its agent
		// reconnects after 15 s; the instance stays DRAINING 34 s more.
		sleep(100 * time.Second)
		activeAt := e.state().Now
		setStatus(types.ContainerInstanceStatusActive)
		sleep(10 * time.Second)

		var got admin.InstanceReport
		for _, in := range e.report().Instances {
			if in.EC2InstanceID == id {
				got = in
			}
		}
		down := rebootAt.Add(6 * time.Second)
		want := []admin.InstanceEvent{
			{T: drainAt, Event: admin.EventDraining},
			{T: drainAt.Add(10 * time.Second), Event: admin.EventDrained},
			{T: down, Event: admin.EventHostDown},
			{T: down, Event: admin.EventAgentDisconnected},
			{T: down.Add(45 * time.Second), Event: admin.EventHostUp},
			{T: down.Add(60 * time.Second), Event: admin.EventAgentConnected},
			{T: activeAt, Event: admin.EventActive},
		}
		if diff := cmp.Diff(want, got.Timeline); diff != "" {
			t.Errorf("Report().Instances[%s].Timeline: (-want +got)\n%s", id, diff)
		}
		type durations struct{ OutOfService, Drain, Reboot, Beyond time.Duration }
		// Out of service from the drain to ACTIVE, 130 s: the drain 10 s, the reboot 60 s, and
		// beyond: 20 s between drained and the reboot command, 6 s until the host went down and
		// 34 s between the agent's return and ACTIVE.
		wantD := durations{OutOfService: 130 * time.Second, Drain: 10 * time.Second, Reboot: 60 * time.Second, Beyond: 60 * time.Second}
		gotD := durations{got.OutOfService.D(), got.Drain.D(), got.Reboot.D(), got.Beyond.D()}
		if gotD != wantD {
			t.Errorf("Report().Instances[%s] durations = %+v, want %+v", id, gotD, wantD)
		}
		if got.Version != "1.20.3" || got.Reboots != 1 {
			t.Errorf("Report().Instances[%s] = %s after %d reboot(s), want 1.20.3 after 1", id, got.Version, got.Reboots)
		}
		for _, in := range e.report().Instances {
			if in.EC2InstanceID != id && (len(in.Timeline) != 0 || in.OutOfService != 0) {
				t.Errorf("untouched instance %s: timeline %+v, out of service %s, want none", in.EC2InstanceID, in.Timeline, in.OutOfService.D())
			}
		}
	})
}
