// Command bootstrap prepares the docker compose stack's deployment. With -mode create (the
// default) it creates the queues and rules of the topology and registers the SSM documents with
// shared/bootstrap.Run, the code make demo uses. With -mode check, for a deployment that
// Terraform made (terraform/examples/localstack), it changes nothing and verifies that the
// queues, rules and documents are those the workers need, naming every difference. Either way it
// retries until the emulators answer or -wait runs out. With -scan it then sends a scan request to
// the scanner's queue, which is how docker compose starts the first rollout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/shared/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
		os.Exit(1)
	}
}

type options struct {
	mode     string // create or check
	prefix   string
	clusters []string
	wait     time.Duration
	retry    time.Duration
	scan     bool
	version  bool
}

func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	prefix := getenv("ROLLWAVE_PREFIX")
	if prefix == "" {
		prefix = topology.DefaultPrefix
	}
	var o options
	var clusters string
	mode := getenv("ROLLWAVE_BOOTSTRAP")
	if mode == "" {
		mode = "create"
	}
	fs.StringVar(&o.mode, "mode", mode, "create the topology and documents, or check that they exist as the workers need them, changing nothing (default $ROLLWAVE_BOOTSTRAP, else create)")
	fs.StringVar(&o.prefix, "prefix", prefix, "prefix of queue, rule and document names (default $ROLLWAVE_PREFIX, else rollwave)")
	fs.StringVar(&clusters, "clusters", getenv("ROLLWAVE_CLUSTERS"), "comma-separated cluster ARNs the ECS rules match (empty: every cluster)")
	fs.DurationVar(&o.wait, "wait", time.Minute, "how long to retry while the emulators are not up yet")
	fs.DurationVar(&o.retry, "retry", 2*time.Second, "pause between attempts")
	fs.BoolVar(&o.scan, "scan", false, "send a scan request to the scanner's queue after bootstrapping")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, c := range strings.Split(clusters, ",") {
		if c = strings.TrimSpace(c); strings.HasPrefix(c, "arn:") {
			o.clusters = append(o.clusters, c)
		}
	}
	var errs []error
	if o.mode != "create" && o.mode != "check" {
		errs = append(errs, fmt.Errorf("-mode %q: want create or check", o.mode))
	}
	if o.wait <= 0 || o.retry <= 0 {
		errs = append(errs, errors.New("-wait and -retry must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	if o.version {
		_, err := fmt.Fprintln(stdout, version.Get().Line("bootstrap"))
		return err
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	topo := topology.Default(o.prefix).RestrictToClusters(o.clusters)
	var res topology.Resolved
	err = retry(ctx, o.wait, o.retry, func() error {
		if o.mode == "check" {
			res, err = check(ctx, newCheckClients(cfg), topo)
			return err
		}
		res, err = bootstrap.Run(ctx, cfg, topo)
		return err
	})
	if err != nil {
		return err
	}
	for _, c := range res.Changes {
		fmt.Fprintln(stdout, c)
	}
	if o.mode == "check" {
		fmt.Fprintf(stdout, "topology %s checked: %d queues, %d rules and %d documents as the workers need them\n", o.prefix, len(res.Queues), len(topo.Rules), len(ssmdoc.Kinds))
	} else {
		fmt.Fprintf(stdout, "topology %s ready: %d queues, %d rules\n", o.prefix, len(res.Queues), len(res.RuleARNs))
	}
	if !o.scan {
		return nil
	}
	q, err := res.Queue(topology.Scanner)
	if err != nil {
		return err
	}
	body, err := json.Marshal(update.ScanRequest{Schema: update.ScanSchema, RequestedBy: "docker-compose", Reason: "first scan of the local stack"})
	if err != nil {
		return fmt.Errorf("encode scan request: %w", err)
	}
	if _, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("send scan request: %w", err)
	}
	fmt.Fprintf(stdout, "scan request sent to %s\n", q.Name)
	return nil
}

// retry calls f until it succeeds, ctx ends or wait has passed, pausing every between attempts;
// it returns f's last error.
func retry(ctx context.Context, wait, every time.Duration, f func() error) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-deadline.C:
			return fmt.Errorf("gave up after %s: %w", wait, err)
		case <-tick.C:
		}
	}
}
