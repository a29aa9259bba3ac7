// Package fleet runs fleetsim's simulated fleet inside the caller's process: a world built from a
// scenario, the ECS, SSM, EC2 and admin APIs the fleetsim command serves, reached through an
// HTTP client that serves every request in process, and the world's ECS events handed to an
// EventBridge PutEvents API. The fleetsim command is this package behind a listener.
//
// On a virtual clock (shared/clock's Virtual) every simulated duration passes in the clock's
// time, and nothing of the fleet waits on real time: a process that runs real workers, in-memory
// queues and a Fleet on one virtual clock simulates hours of a rollout in the time its work takes
// (rollwave plan).
package fleet

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/events"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/server"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

// Endpoint is a base endpoint for the SDK clients and admin.Client that use HTTPClient: the
// in-process client answers any endpoint, and this one reaches nothing else.
const Endpoint = "http://fleetsim.invalid"

// PutEventsAPI is the EventBridge call the fleet publishes its ECS events with;
// *eventbridge.Client has it.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Options configure a Fleet. The zero value runs the scenario as it says, on real time, and
// drops the ECS events.
type Options struct {
	// Clock is the base clock the world's time runs on; nil is clock.Real.
	Clock clock.Clock
	// TimeScale is the world's seconds per second of Clock; above zero it overrides the
	// scenario's. Zero is the scenario's on the real clock, and 1 on any other clock, so that the
	// world's time is that clock's.
	TimeScale float64
	// Account and Region override the scenario's when set.
	Account, Region string
	// Events receives the world's ECS events ("ECS Container Instance State Change", "ECS Task
	// State Change"), at most 10 per call, each resource's in order; nil drops them (the report
	// still counts them as emitted).
	Events PutEventsAPI
	// EventTypes, when set, are the only detail types sent to Events (a subscriber that
	// wants only instance changes saves the fleet building the others); the report counts every
	// event as emitted all the same.
	EventTypes []string
	// Bus is the event bus the events name; "" is "default".
	Bus string
	// EventSenders is how many PutEvents calls are in flight at most; 0 is 512.
	EventSenders int
	// EC2Forward, when set, is the endpoint (an emulator such as moto) that serves the EC2
	// actions fleetsim does not simulate; without it they are refused.
	EC2Forward *url.URL
	Log        zerolog.Logger
}

// Fleet is a simulated fleet served in process. Its methods are safe for concurrent use.
type Fleet struct {
	world    *sim.World
	counters *sim.EventCounters
	handler  http.Handler
	client   *http.Client

	stopEvents context.CancelFunc
	eventsDone chan struct{}
	closeOnce  sync.Once
}

// New builds the world of sc (nil: an empty world, until a scenario is PUT to the admin API)
// and starts it: its time runs from now on opts.Clock. It fills sc's defaults (Normalize) and
// refuses a scenario that does not validate. Close stops it.
func New(sc *scenario.Scenario, opts Options) (*Fleet, error) {
	if opts.TimeScale < 0 {
		return nil, fmt.Errorf("time scale %g: must not be negative", opts.TimeScale)
	}
	if opts.EventSenders < 0 {
		return nil, fmt.Errorf("event senders %d: must not be negative", opts.EventSenders)
	}
	if sc != nil {
		sc.Normalize()
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("validate scenario: %w", err)
		}
	}
	scale := opts.TimeScale
	if scale == 0 && opts.Clock != nil && opts.Clock != clock.Real {
		scale = 1
	}
	f := &Fleet{counters: &sim.EventCounters{}, eventsDone: make(chan struct{})}
	simOpts := sim.Options{Log: opts.Log, Clock: opts.Clock, TimeScale: scale, Account: opts.Account, Region: opts.Region}
	var pub *events.Publisher
	if opts.Events != nil {
		bus := opts.Bus
		if bus == "" {
			bus = "default"
		}
		pub = events.NewPublisher(opts.Events, bus, opts.Log, f.counters)
		if opts.EventSenders > 0 {
			pub.SetSenders(opts.EventSenders)
		}
		pub.SetClock(opts.Clock)
		simOpts.Emit, simOpts.EmitTypes = pub.Enqueue, opts.EventTypes
	}
	f.world = sim.New(simOpts)
	if sc != nil {
		f.world.Load(sc)
	}
	f.handler = server.New(f.world, f.counters, opts.Log, opts.EC2Forward)
	f.client = &http.Client{Transport: server.InProcess{Handler: f.handler}}

	ctx, stop := context.WithCancel(context.Background())
	f.stopEvents = stop
	if pub == nil {
		close(f.eventsDone)
		return f, nil
	}
	pub.MeasureLag(f.world.Now)
	go func() {
		defer close(f.eventsDone)
		pub.Run(ctx)
	}()
	return f, nil
}

// Handler serves the AWS APIs (ECS, SSM, EC2) and the admin API under /fleetsim/, as the
// fleetsim command does.
func (f *Fleet) Handler() http.Handler { return f.handler }

// HTTPClient serves each request with Handler in the calling goroutine, without a socket: set it
// as aws.Config.HTTPClient (with a BaseEndpoint such as Endpoint), or hand it to
// admin.NewWithHTTPClient.
func (f *Fleet) HTTPClient() *http.Client { return f.client }

// Now is the world's virtual time.
func (f *Fleet) Now() time.Time { return f.world.Now() }

// Report is what happened since the scenario was loaded, as GET /fleetsim/report answers it.
func (f *Fleet) Report() admin.Report { return f.world.Report(f.counters) }

// State is the world now, as GET /fleetsim/state answers it.
func (f *Fleet) State() admin.State { return f.world.State() }

// Close stops the world (nothing simulated happens afterwards) and then the events: those still
// queued are sent, for up to 5 s of real time. Later calls do nothing.
func (f *Fleet) Close() {
	f.closeOnce.Do(func() {
		f.world.Close()
		f.stopEvents()
		<-f.eventsDone
	})
}
