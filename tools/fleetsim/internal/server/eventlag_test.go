package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/events"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// slowBridge is an EventBridge that takes latency of real time to answer each PutEvents call,
// as an emulator does, and can answer several calls at once.
type slowBridge struct {
	latency time.Duration
	calls   atomic.Int64
	entries atomic.Int64
}

func (b *slowBridge) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	b.calls.Add(1)
	b.entries.Add(int64(len(in.Entries)))
	t := time.NewTimer(b.latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}, nil
}

// fleetScenario is clusters of hosts each, with two services of two tasks per host and a
// daemon, at ×scale.
func fleetScenario(clusters, hosts, scale int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "timeScale: %d\nseed: 11\nrepository:\n  aws-ecs-2: [\"1.20.3\", \"1.19.5\"]\nclusters:\n", scale)
	for c := range clusters {
		fmt.Fprintf(&b, "  - name: c%d\n    instances:\n      - {count: %d, version: 1.19.5, cpu: 4096, memory: 8192}\n", c, hosts)
		fmt.Fprintf(&b, "    services:\n      - {name: web, desired: %d, minimumHealthyPercent: 50, maximumPercent: 200, cpu: 256, memory: 512}\n", hosts)
		fmt.Fprintf(&b, "      - {name: api, desired: %d, minimumHealthyPercent: 50, maximumPercent: 200, cpu: 256, memory: 512}\n", hosts)
		b.WriteString("    daemonServices:\n      - {name: log-router, cpu: 64, memory: 64}\n")
	}
	return b.String()
}

// At 1,000 hosts and ×20, with an EventBridge that takes 10 ms of real time (0.2 virtual
// seconds) per PutEvents call, the publisher keeps every event within a virtual second of its
// time, through the burst of the scenario's load (3,000 tasks placed at once) and ten waves of
// 100 drains and re-activations: the report's events.maxLagSeconds, in virtual time, says so.
// The test runs in a synctest bubble, so neither the figure nor the verdict depends on the
// machine's speed.
func TestEventsKeepUpWithAThousandHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			scale    = 20
			clusters = 2
			hosts    = 500
			wave     = 50 // hosts drained at once in each cluster
		)
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		bridge := &slowBridge{latency: 10 * time.Millisecond}
		counters := &sim.EventCounters{}
		pub := events.NewPublisher(bridge, "default", log, counters)
		world := sim.New(sim.Options{Log: log, Emit: pub.Enqueue})
		pub.MeasureLag(world.Clock().Now)
		ctx, stop := context.WithCancel(context.Background())
		published := make(chan struct{})
		go func() { pub.Run(ctx); close(published) }()
		defer func() { stop(); <-published; world.Close() }()

		const base = "http://fleetsim.invalid"
		hc := &http.Client{Transport: InProcess{New(world, counters, log, nil)}}
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			RetryMaxAttempts: 1, HTTPClient: hc}
		ecsc := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(base) })
		adm := admin.NewWithHTTPClient(base, hc)
		if _, err := adm.LoadScenario(ctx, []byte(fleetScenario(clusters, hosts, scale))); err != nil {
			t.Fatalf("LoadScenario: %v", err)
		}
		pub.MeasureLag(world.Clock().Now) // the loaded world's clock
		sleep := func(d time.Duration) { time.Sleep(d / scale) }
		sleep(30 * time.Second) // every task started

		arns := map[string][]string{}
		for c := range clusters {
			name := fmt.Sprint("c", c)
			in := &ecs.ListContainerInstancesInput{Cluster: aws.String(name)}
			for {
				out, err := ecsc.ListContainerInstances(ctx, in)
				if err != nil {
					t.Fatalf("ListContainerInstances(%s) = %v", name, err)
				}
				arns[name] = append(arns[name], out.ContainerInstanceArns...)
				if out.NextToken == nil {
					break
				}
				in.NextToken = out.NextToken
			}
			if len(arns[name]) != hosts {
				t.Fatalf("cluster %s has %d instances, want %d", name, len(arns[name]), hosts)
			}
		}
		setStatus := func(cluster string, ids []string, s types.ContainerInstanceStatus) {
			for len(ids) > 0 {
				n := min(10, len(ids))
				out, err := ecsc.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String(cluster),
					ContainerInstances: ids[:n], Status: s})
				if err != nil || len(out.Failures) > 0 {
					t.Fatalf("UpdateContainerInstancesState(%s) = %+v, %v", s, out, err)
				}
				ids = ids[n:]
			}
		}
		// Waves of drains, each re-activated once its tasks have moved: every host once.
		for start := 0; start < hosts; start += wave {
			for name, ids := range arns {
				setStatus(name, ids[start:start+wave], types.ContainerInstanceStatusDraining)
			}
			sleep(40 * time.Second)
			for name, ids := range arns {
				setStatus(name, ids[start:start+wave], types.ContainerInstanceStatusActive)
			}
			sleep(20 * time.Second)
		}
		sleep(30 * time.Second)

		rep, err := adm.Report(ctx)
		if err != nil {
			t.Fatalf("Report: %v", err)
		}
		t.Logf("%d events emitted, %d published in %d PutEvents calls, max lag %.2fs virtual",
			rep.Events.Emitted, rep.Events.Published, bridge.calls.Load(), rep.Events.MaxLagSeconds)
		if rep.Events.Published != rep.Events.Emitted || rep.Events.Pending != 0 || rep.Events.Failed != 0 {
			t.Errorf("events emitted %d, published %d, pending %d, failed %d; want every one published",
				rep.Events.Emitted, rep.Events.Published, rep.Events.Pending, rep.Events.Failed)
		}
		if rep.Events.MaxLagSeconds > 1 {
			t.Errorf("events.maxLagSeconds = %.2f, want at most 1 (virtual)", rep.Events.MaxLagSeconds)
		}
	})
}
