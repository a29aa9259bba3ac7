// Command fleetsim simulates a fleet of Bottlerocket container instances behind the real ECS,
// SSM and EC2 wire protocols, and publishes the ECS events to EventBridge. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/version"
	"github.com/rollwave/rollwave/tools/fleetsim/fleet"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/events"
	"github.com/rollwave/rollwave/tools/fleetsim/scenario"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		stop()
		os.Exit(1)
	}
}

type options struct {
	listen, scenario, eventBus, account, region string
	ec2Forward                                  *url.URL
	timeScale                                   float64
	eventSenders                                int
	version                                     bool
}

func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.listen, "listen", "127.0.0.1:4599", "address to serve the AWS and admin APIs on")
	fs.StringVar(&o.scenario, "scenario", "", "scenario file to load at start (empty: start empty)")
	fs.Float64Var(&o.timeScale, "time-scale", 0, "virtual seconds per real second; overrides the scenario's when > 0")
	fs.StringVar(&o.eventBus, "event-bus", "default", "EventBridge event bus for the ECS events")
	fs.IntVar(&o.eventSenders, "event-senders", events.DefaultSenders, "PutEvents calls in flight at most")
	fs.StringVar(&o.account, "account", "", "AWS account ID (default: the scenario's, else 123456789012)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	forward := fs.String("ec2-forward", "", "endpoint (an emulator such as moto) that serves the EC2 actions fleetsim does not simulate, such as the launch templates (empty: they are refused)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *forward != "" {
		u, err := url.Parse(*forward)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return o, fmt.Errorf("-ec2-forward %q: want an endpoint URL such as http://127.0.0.1:5000", *forward)
		}
		o.ec2Forward = u
	}
	o.region = getenv("AWS_REGION")
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.timeScale < 0 {
		return o, errors.New("-time-scale must not be negative")
	}
	if o.eventSenders < 1 {
		return o, errors.New("-event-senders must be at least 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	if o.version {
		_, err := fmt.Fprintln(stdout, version.Get().Line("fleetsim"))
		return err
	}
	level := zerolog.InfoLevel
	if l, err := zerolog.ParseLevel(getenv("FLEETSIM_LOG_LEVEL")); err == nil && getenv("FLEETSIM_LOG_LEVEL") != "" {
		level = l
	}
	log := zerolog.New(stderr).Level(level).With().Timestamp().Str("app", "fleetsim").Logger()

	var bridge fleet.PutEventsAPI
	if getenv("AWS_ENDPOINT_URL_EVENTBRIDGE") != "" || getenv("AWS_ENDPOINT_URL") != "" {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(o.region))
		if err != nil {
			return fmt.Errorf("load aws config: %w", err)
		}
		bridge = eventbridge.NewFromConfig(cfg)
	} else {
		log.Warn().Msg("neither AWS_ENDPOINT_URL_EVENTBRIDGE nor AWS_ENDPOINT_URL is set: ECS events are not published")
	}
	var sc *scenario.Scenario
	if o.scenario != "" {
		b, err := os.ReadFile(o.scenario)
		if err != nil {
			return fmt.Errorf("read scenario: %w", err)
		}
		if sc, err = scenario.Parse(b); err != nil {
			return fmt.Errorf("load scenario %s: %w", o.scenario, err)
		}
	}
	f, err := fleet.New(sc, fleet.Options{TimeScale: o.timeScale, Account: o.account, Region: o.region,
		Events: bridge, Bus: o.eventBus, EventSenders: o.eventSenders, EC2Forward: o.ec2Forward, Log: log})
	if err != nil {
		return fmt.Errorf("start fleet: %w", err)
	}
	defer f.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("scenario", o.scenario).Str("region", o.region).Msg("fleetsim serving")

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info().Msg("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	f.Close() // flushes the queued events, for up to 5 s
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
