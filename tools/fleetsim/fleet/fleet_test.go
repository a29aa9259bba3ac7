package fleet_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/clock/clocktest"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/fleet"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

// received is one event the sink got, with the virtual time it arrived at.
type received struct {
	entry ebtypes.PutEventsRequestEntry
	at    time.Time
}

// sink is an EventBridge that keeps every event and says when more arrived.
type sink struct {
	clock   clock.Clock
	mu      sync.Mutex
	events  []received
	arrived chan struct{}
}

func newSink(c clock.Clock) *sink { return &sink{clock: c, arrived: make(chan struct{}, 1)} }

func (s *sink) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	now := s.clock.Now()
	s.mu.Lock()
	for _, e := range in.Entries {
		s.events = append(s.events, received{entry: e, at: now})
	}
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	return &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}, nil
}

// waitFor returns the first event that matches, once it has arrived; it fails the test when none
// has within a minute of real time.
func (s *sink) waitFor(t *testing.T, what string, match func(received) bool) received {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.events, match)
		var e received
		if i >= 0 {
			e = s.events[i]
		}
		s.mu.Unlock()
		if i >= 0 {
			return e
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("no event of %s arrived within a minute", what)
		}
	}
}

// detail is what the test reads of an event's detail: a container instance's or a task's.
type detail struct {
	ContainerInstanceArn string `json:"containerInstanceArn"`
	Status               string `json:"status"`
	RunningTasksCount    int    `json:"runningTasksCount"`
	PendingTasksCount    int    `json:"pendingTasksCount"`
	TaskArn              string `json:"taskArn"`
	LastStatus           string `json:"lastStatus"`
	StopCode             string `json:"stopCode"`
}

func detailOf(t *testing.T, e received) detail {
	t.Helper()
	var d detail
	if err := json.Unmarshal([]byte(aws.ToString(e.entry.Detail)), &d); err != nil {
		t.Fatalf("decode detail of %s: %v", aws.ToString(e.entry.DetailType), err)
	}
	return d
}

// defaultScenario is fleetsim's default scenario.
func defaultScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	b, err := os.ReadFile("../scenarios/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// The default fleet on a virtual clock, reached by an SDK client in process: a host set DRAINING
// has its service tasks replaced within seconds and is drained when its standalone task ends, two
// hours after the load, and the events of each step reach the sink at the virtual time it
// happened. Two hours pass in the time the work takes.
func TestDrainRunsInVirtualTime(t *testing.T) {
	sc := defaultScenario(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	events := newSink(v)
	f, err := fleet.New(sc, fleet.Options{Clock: v, Events: events,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer f.Close()
	if !f.Now().Equal(start) {
		t.Fatalf("the world starts at %s, want the virtual clock's %s", f.Now(), start)
	}
	clocktest.Run(t, v)
	ctx := t.Context()
	realStart := time.Now()

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient: f.HTTPClient()}
	client := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(fleet.Endpoint) })
	cluster := aws.String("prod")

	listed, err := client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: cluster})
	if err != nil {
		t.Fatalf("ListContainerInstances: %v", err)
	}
	// The host that runs the nightly report, a standalone task that ends 2h after the load.
	nightly, err := client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: cluster, Family: aws.String("nightly-report")})
	if err != nil || len(nightly.TaskArns) != 1 {
		t.Fatalf("ListTasks(nightly-report) = %v, %v; want one task", nightly, err)
	}
	described, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: nightly.TaskArns})
	if err != nil || len(described.Tasks) != 1 {
		t.Fatalf("DescribeTasks = %v, %v", described, err)
	}
	host := aws.ToString(described.Tasks[0].ContainerInstanceArn)
	if !slices.Contains(listed.ContainerInstanceArns, host) {
		t.Fatalf("the nightly report runs on %s, not among the listed instances %v", host, listed.ContainerInstanceArns)
	}
	onHost, err := client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: cluster, ContainerInstance: aws.String(host)})
	if err != nil || len(onHost.TaskArns) < 2 {
		t.Fatalf("ListTasks(%s) = %v, %v; want the nightly report and service tasks", host, onHost, err)
	}

	updated, err := client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: cluster,
		ContainerInstances: []string{host}, Status: types.ContainerInstanceStatusDraining})
	if err != nil || len(updated.Failures) > 0 {
		t.Fatalf("UpdateContainerInstancesState = %v, %v", updated, err)
	}

	isHost := func(status string, drained bool) func(received) bool {
		return func(e received) bool {
			if aws.ToString(e.entry.DetailType) != "ECS Container Instance State Change" {
				return false
			}
			d := detailOf(t, e)
			return d.ContainerInstanceArn == host && d.Status == status &&
				(!drained || d.RunningTasksCount+d.PendingTasksCount == 0)
		}
	}
	draining := events.waitFor(t, "the host DRAINING", isHost("DRAINING", false))
	t0 := aws.ToTime(draining.entry.Time)
	stopped := map[string]received{}
	for _, arn := range onHost.TaskArns {
		stopped[arn] = events.waitFor(t, "task "+arn+" STOPPED", func(e received) bool {
			d := detailOf(t, e)
			return aws.ToString(e.entry.DetailType) == "ECS Task State Change" && d.TaskArn == arn && d.LastStatus == "STOPPED"
		})
	}
	drained := events.waitFor(t, "the host drained", isHost("DRAINING", true))
	t.Logf("%s of virtual time in %s of real time", clock.Since(v, start), time.Since(realStart).Round(time.Millisecond))

	// Every event arrived at the virtual time it happened, give or take the publisher's linger.
	events.mu.Lock()
	for _, e := range events.events {
		happened := aws.ToTime(e.entry.Time)
		if lag := e.at.Sub(happened); lag < 0 || lag > time.Second {
			t.Errorf("%s of %v at %s arrived at %s", aws.ToString(e.entry.DetailType), e.entry.Resources, happened, e.at)
		}
	}
	events.mu.Unlock()

	if t0.After(start.Add(time.Hour)) {
		t.Fatalf("the host was set DRAINING at %s, long after the load at %s: the clock ran ahead of the test", t0, start)
	}
	taskStop := sc.Timings.TaskStop.D()
	for arn, e := range stopped {
		at := aws.ToTime(e.entry.Time)
		if arn == nightly.TaskArns[0] {
			if want := start.Add(2 * time.Hour); !at.Equal(want) || detailOf(t, e).StopCode != "EssentialContainerExited" {
				t.Errorf("the nightly report stopped at %s (%s), want at %s, its 2h after the load (EssentialContainerExited)",
					at, detailOf(t, e).StopCode, want)
			}
			continue
		}
		// A service task stops on DRAINING (or once its replacement started): taskStop later at least.
		if d := at.Sub(t0); d < taskStop || d > time.Minute {
			t.Errorf("service task %s stopped %s after DRAINING, want between taskStop (%s) and a minute", arn, d, taskStop)
		}
	}
	if got, want := aws.ToTime(drained.entry.Time), start.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("the host was drained at %s, want %s, when its last task ended", got, want)
	}

	// The services run their desired count again, on the other hosts, and never fell below
	// their floor.
	services, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: cluster, Services: []string{"web", "api"}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	for _, s := range services.Services {
		if s.RunningCount != s.DesiredCount {
			t.Errorf("service %s runs %d tasks, want %d", aws.ToString(s.ServiceName), s.RunningCount, s.DesiredCount)
		}
	}
	rep := f.Report()
	for _, s := range rep.Services {
		if s.Cluster == "prod" && !s.Daemon && (s.BelowFloor || s.MinRunning < s.Floor) {
			t.Errorf("service %s: lowest running %d, floor %d", s.Service, s.MinRunning, s.Floor)
		}
	}
	i := slices.IndexFunc(rep.Instances, func(in admin.InstanceReport) bool { return in.ContainerInstanceArn == host })
	if i < 0 {
		t.Fatalf("the report has no instance %s", host)
	}
	in := rep.Instances[i]
	want := []admin.InstanceEvent{{T: t0, Event: admin.EventDraining}, {T: start.Add(2 * time.Hour), Event: admin.EventDrained}}
	if !slices.EqualFunc(in.Timeline, want, func(a, b admin.InstanceEvent) bool { return a.T.Equal(b.T) && a.Event == b.Event }) {
		t.Errorf("timeline = %v, want %v", in.Timeline, want)
	}
	if !slices.Contains(rep.LeftDraining, in.EC2InstanceID) {
		t.Errorf("leftDraining = %v, want %s in it", rep.LeftDraining, in.EC2InstanceID)
	}
	if rep.Events.Failed != 0 {
		t.Errorf("events: %+v, want none failed", rep.Events)
	}
}

// TestEventTypesLimitWhatIsSent: a subscriber that wants only instance changes gets those, and
// no task event, while the report still counts every event the world emitted.
func TestEventTypesLimitWhatIsSent(t *testing.T) {
	sc := defaultScenario(t)
	v := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	events := newSink(v)
	f, err := fleet.New(sc, fleet.Options{Clock: v, Events: events, EventTypes: []string{"ECS Container Instance State Change"},
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer f.Close()
	clocktest.Run(t, v)
	ctx := t.Context()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient: f.HTTPClient()}
	client := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(fleet.Endpoint) })
	listed, err := client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("prod")})
	if err != nil || len(listed.ContainerInstanceArns) == 0 {
		t.Fatalf("ListContainerInstances = %v, %v", listed, err)
	}
	host := listed.ContainerInstanceArns[0]
	if _, err := client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("prod"),
		ContainerInstances: []string{host}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	// The host's tasks stop (task events, not sent) and each stop changes the host (sent).
	events.waitFor(t, "the host drained", func(e received) bool {
		d := detailOf(t, e)
		return d.ContainerInstanceArn == host && d.Status == "DRAINING" && d.RunningTasksCount+d.PendingTasksCount == 0
	})
	events.mu.Lock()
	defer events.mu.Unlock()
	for _, e := range events.events {
		if dt := aws.ToString(e.entry.DetailType); dt != "ECS Container Instance State Change" {
			t.Errorf("an event of %s was sent, want only instance changes", dt)
		}
	}
	if rep := f.Report(); rep.Events.Emitted <= len(events.events) {
		t.Errorf("the report counts %d events emitted, %d sent: want the task events among the emitted", rep.Events.Emitted, len(events.events))
	}
}
