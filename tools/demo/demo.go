package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rollwave/rollwave/shared/bootstrap"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
)

const (
	region = "us-east-1"
	prefix = "rollwave"
	// resultsQueue is the logical name of the queue that receives the pipeline events.
	resultsQueue = "demo-results"
	// readyTimeout bounds how long moto and fleetsim may take to answer.
	readyTimeout = 30 * time.Second
	// pollInterval is how often the live view looks at the fleet. It is display only: the times
	// out of service come from fleetsim's report, exact in simulated time.
	pollInterval = 100 * time.Millisecond
	// receiveEvery is how many polls of the fleet pass between receives from the results queue.
	receiveEvery = 2
)

// workers are the pipeline's binaries, started in this order.
var workers = []string{"verifier", "drainer", "patcher", "scanner"}

type demo struct {
	o       options
	out     io.Writer
	environ []string
	procs   children

	// calls counts the workers' calls to moto; proxyURL is where they send them.
	calls     *callCounter
	proxyURL  string
	stopProxy func()

	motoURL, fleetsimURL string
	cfg                  aws.Config
	queues               topology.Resolved
	fleet                *admin.Client
}

// result is one run of the demo: the outcome, its verdict and what the rollout cost.
type result struct {
	Outcome Outcome
	Summary Summary
	// Rollout is the wall time from the scan request until every job had ended.
	Rollout time.Duration
	// PeakRSS is each worker's peak resident set size in bytes (VmHWM), summed over its
	// replicas, read just before the workers stop; empty where /proc does not give it.
	PeakRSS map[string]int64
	// CPU is the CPU seconds (user + system) used by each worker, summed over its replicas, and
	// by moto and fleetsim, read at the same time.
	CPU map[string]float64
}

func (d *demo) run(ctx context.Context) (result, error) {
	var res result
	start := time.Now()
	if err := d.startMoto(ctx); err != nil {
		return res, err
	}
	if err := d.startCallCounter(); err != nil {
		return res, err
	}
	if err := d.startFleetsim(ctx); err != nil {
		return res, err
	}
	d.cfg = awsConfig(d.motoURL, d.fleetsimURL)
	if err := d.bootstrap(ctx); err != nil {
		return res, err
	}
	st, err := d.fleet.State(ctx)
	if err != nil {
		return res, fmt.Errorf("read fleet state: %w", err)
	}
	var clusters []string
	for _, c := range st.Clusters {
		clusters = append(clusters, c.Name)
	}
	if err := d.startWorkers(clusters); err != nil {
		return res, err
	}
	before, err := d.fleet.State(ctx)
	if err != nil {
		return res, fmt.Errorf("read fleet state: %w", err)
	}
	scanned := time.Now()
	if err := d.scan(ctx); err != nil {
		return res, err
	}
	fmt.Fprintf(d.out, "rollwave demo: scan requested for %s at time scale ×%g; waiting for every job to end (deadline %s)\n",
		strings.Join(clusters, ", "), d.o.timeScale, d.o.deadline)

	ended, timedOut, err := d.watch(ctx, start)
	if err != nil {
		return res, err
	}
	res.Rollout = time.Since(scanned)
	res.PeakRSS, res.CPU = d.usage()
	rep, err := d.fleet.Report(ctx)
	if err != nil {
		return res, fmt.Errorf("read fleet report: %w", err)
	}
	res.Outcome = Outcome{Report: rep, Ended: ended, Limit: d.o.limit, TimedOut: timedOut,
		ScanRequested: before.Now, QueueCalls: d.calls.Counts()}
	if b, err := json.MarshalIndent(res.Outcome, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(d.o.logDir, "outcome.json"), b, 0o644)
	}
	page := filepath.Join(d.o.logDir, "rollout.html")
	pageErr := writeRolloutPage(page, res.Outcome)
	res.Summary = Summarize(res.Outcome)
	fmt.Fprintf(d.out, "\nSummary (wall time %s, rollout %s from the scan request, %s simulated at ×%g; report: %s):\n",
		time.Since(start).Round(100*time.Millisecond), res.Rollout.Round(100*time.Millisecond), rep.Now.Sub(st.Now).Round(time.Second),
		d.o.timeScale, filepath.Join(d.o.logDir, "outcome.json"))
	res.Summary.Write(d.out)
	res.writeUsage(d.out, d.o.replicas)
	if pageErr != nil {
		fmt.Fprintf(d.out, "the rollout's page could not be drawn: %v\n", pageErr)
	} else {
		fmt.Fprintf(d.out, "the rollout as a picture (open it in a browser): %s\n", page)
	}
	return res, nil
}

// writeUsage prints the peak RSS and CPU seconds of the processes.
func (res result) writeUsage(w io.Writer, replicas int) {
	if len(res.PeakRSS) > 0 {
		var parts []string
		for _, name := range workers {
			if n, ok := res.PeakRSS[name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.1f MB", name, float64(n)/1e6))
			}
		}
		of := ""
		if replicas > 1 {
			of = fmt.Sprintf(" (the sum of %d replicas each)", replicas)
		}
		fmt.Fprintf(w, "peak RSS of the workers%s: %s\n", of, strings.Join(parts, ", "))
	}
	if len(res.CPU) > 0 {
		var parts []string
		for _, name := range append(slices.Clone(workers), "moto", "fleetsim") {
			if s, ok := res.CPU[name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.1f s", name, s))
			}
		}
		fmt.Fprintf(w, "CPU time (user + system): %s\n", strings.Join(parts, ", "))
	}
}

// usage reads the peak resident set size of each running worker and the CPU seconds of each
// running worker, moto and fleetsim, summed by role; it must run before they stop.
func (d *demo) usage() (map[string]int64, map[string]float64) {
	rss, cpu := map[string]int64{}, map[string]float64{}
	for _, c := range d.procs {
		if c.exited() != nil {
			continue
		}
		if n, ok := peakRSS(c.cmd.Process.Pid); ok && slices.Contains(workers, c.role) {
			rss[c.role] += n
		}
		if s, ok := cpuSeconds(c.cmd.Process.Pid); ok {
			cpu[c.role] += s
		}
	}
	return rss, cpu
}

// startMoto starts moto server from the repository's .venv on a free loopback port, retrying
// on a fresh port when it loses the port to another process; with -emulator it uses that one.
func (d *demo) startMoto(ctx context.Context) error {
	if d.o.emulator != "" {
		return d.useEmulator(ctx)
	}
	bin := filepath.Join(d.o.root, ".venv", "bin", "moto_server")
	var args []string
	if d.o.quickMoto {
		bin, args = filepath.Join(d.o.root, ".venv", "bin", "python"), []string{filepath.Join(d.o.root, "tools", "demo", "quickmoto", "moto_quick.py")}
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s is missing: run make deps", bin)
	}
	return d.startServer(ctx, "moto", "/moto-api/data.json", func(addr string) (string, []string, []string) {
		host, port, _ := net.SplitHostPort(addr)
		return bin, d.baseEnv(), append(args, "-H", host, "-p", port)
	}, &d.motoURL)
}

// useEmulator takes the emulator of -emulator, after checking that it answers HTTP at all: an
// emulator that is not up is one clear error, not a bootstrap that fails call by call.
func (d *demo) useEmulator(ctx context.Context) error {
	u := strings.TrimRight(d.o.emulator, "/")
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(wctx, http.MethodGet, u+"/", nil)
	if err != nil {
		return fmt.Errorf("-emulator %q: %w", d.o.emulator, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the emulator at %s (-emulator, $ROLLWAVE_TEST_EMULATOR): %w; start it, or leave both unset to start moto", u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d.motoURL = u
	return nil
}

// startCallCounter starts the counting proxy in front of moto that the workers send their SQS,
// EventBridge and CloudWatch calls through.
func (d *demo) startCallCounter() error {
	target, err := url.Parse(d.motoURL)
	if err != nil {
		return fmt.Errorf("parse moto's address: %w", err)
	}
	d.calls = newCallCounter(target)
	addr, stop, err := d.calls.serve()
	if err != nil {
		return fmt.Errorf("start the call counter: %w", err)
	}
	d.proxyURL, d.stopProxy = addr, stop
	return nil
}

func (d *demo) startFleetsim(ctx context.Context) error {
	env := append(d.baseEnv(), "AWS_ENDPOINT_URL_EVENTBRIDGE="+d.motoURL, "AWS_REGION="+region,
		"AWS_ACCESS_KEY_ID=fleetsim", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true")
	err := d.startServer(ctx, "fleetsim", "/fleetsim/healthz", func(addr string) (string, []string, []string) {
		return filepath.Join(d.o.bin, "fleetsim"), env, []string{"-listen", addr, "-scenario", d.o.scenario,
			"-time-scale", strconv.FormatFloat(d.o.timeScale, 'g', -1, 64)}
	}, &d.fleetsimURL)
	d.fleet = admin.New(d.fleetsimURL)
	return err
}

// startServer starts an HTTP server process on a free port and waits until probe answers 200.
func (d *demo) startServer(ctx context.Context, name, probe string, cmd func(addr string) (bin string, env, args []string), url *string) error {
	var lastErr error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		bin, env, args := cmd(addr)
		c, err := startChild(fmt.Sprintf("%s-%d", name, attempt), name, d.o.logDir, bin, d.o.detached, env, args...)
		if err != nil {
			return err
		}
		d.procs = append(d.procs, c)
		u := "http://" + addr
		wctx, cancel := context.WithTimeout(ctx, readyTimeout)
		lastErr = waitUntil(wctx, name+" at "+u, 50*time.Millisecond, children{c}, func(ctx context.Context) bool { return httpOK(ctx, u+probe) })
		cancel()
		if lastErr == nil {
			*url = u
			return nil
		}
		if c.exited() == nil || ctx.Err() != nil { // up but never ready, or interrupted: not a lost port
			break
		}
	}
	return fmt.Errorf("start %s: %w", name, lastErr)
}

func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// demoTopology is the default topology plus a queue that receives every pipeline event.
func demoTopology() topology.Topology {
	t := topology.Default(prefix)
	q := t.Queues[0]
	q.Logical, q.Name = resultsQueue, prefix+"-"+resultsQueue
	q.DeadLetter.Name = q.Name + topology.DeadLetterSuffix
	q.ReceiveWait = 0
	t.Queues = append(t.Queues, q)
	t.Rules = append(t.Rules, topology.Rule{Name: t.PipelineRuleName(), Description: "rollwave pipeline events for make demo",
		EventPattern: topology.PipelineEventPattern(prefix), Target: resultsQueue, TargetID: "sqs-" + q.Name})
	return t
}

func (d *demo) bootstrap(ctx context.Context) error {
	r, err := bootstrap.Run(ctx, d.cfg, demoTopology())
	if err != nil {
		return err
	}
	d.queues = r
	if d.o.emulator == "" {
		return nil
	}
	// An emulator of one's own outlives the demo: messages an earlier run left in its queues
	// (pipeline events of the same instance IDs, jobs) would be taken for this run's.
	client := sqs.NewFromConfig(d.cfg)
	for _, q := range r.Queues {
		for _, url := range []string{q.URL, q.DeadLetterURL} {
			if url == "" {
				continue
			}
			if _, err := client.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
				return fmt.Errorf("empty %s left by an earlier run: %w", url, err)
			}
		}
	}
	return nil
}

// baseEnv is the demo's environment without AWS settings, so that a developer's profile or
// endpoint never reaches a child.
func (d *demo) baseEnv() []string {
	var env []string
	for _, kv := range d.environ {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ROLLWAVE_") {
			env = append(env, kv)
		}
	}
	return env
}

// workerEnv is a worker's environment: the counting proxy in front of moto for SQS, EventBridge
// and CloudWatch, fleetsim for ECS, SSM and EC2, its own access key ID (both count API calls per
// key), its intervals and timeouts scaled from simulated time (settings), so that a run costs the
// same calls at any time scale, and last the -env settings, which win.
func (d *demo) workerEnv(name string, clusters []string) []string {
	env := append(d.baseEnv(),
		"AWS_ENDPOINT_URL="+d.proxyURL,
		"AWS_ENDPOINT_URL_ECS="+d.fleetsimURL, "AWS_ENDPOINT_URL_SSM="+d.fleetsimURL, "AWS_ENDPOINT_URL_EC2="+d.fleetsimURL,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_ACCESS_KEY_ID="+name, "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"ROLLWAVE_PREFIX="+prefix,
		"ROLLWAVE_LOG_LEVEL=debug",
		// Every worker refuses jobs of clusters it does not manage.
		"ROLLWAVE_CLUSTERS="+strings.Join(clusters, ","),
	)
	env = append(env, scaledEnv(name, d.o.timeScale)...)
	if name == "drainer" || name == "patcher" {
		// The drainer's limit, and the patcher's look-ahead of staged instances.
		env = append(env, "ROLLWAVE_MAX_OUT_OF_SERVICE="+d.o.limit)
	}
	return append(env, d.o.env...)
}

// startWorkers starts d.o.only (every worker when empty), d.o.replicas processes of each.
func (d *demo) startWorkers(clusters []string) error {
	for _, w := range workers {
		if len(d.o.only) > 0 && !slices.Contains(d.o.only, w) {
			continue
		}
		for i := range d.o.replicas {
			name := w
			if d.o.replicas > 1 {
				name = fmt.Sprintf("%s-%d", w, i+1)
			}
			c, err := startChild(name, w, d.o.logDir, filepath.Join(d.o.bin, w), d.o.detached, d.workerEnv(w, clusters))
			if err != nil {
				return err
			}
			d.procs = append(d.procs, c)
		}
	}
	return nil
}

func (d *demo) scan(ctx context.Context) error {
	q, err := d.queues.Queue(topology.Scanner)
	if err != nil {
		return err
	}
	_, err = sqs.NewFromConfig(d.cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL),
		MessageBody: aws.String(`{"schema":"rollwave.scan/v1","requestedBy":"make demo","reason":"demo"}`)})
	if err != nil {
		return fmt.Errorf("send scan request: %w", err)
	}
	return nil
}

// watch shows the fleet until every job has ended or the deadline passes. A job has ended when
// its pipeline event arrived; the rollout is over when at least one job ended, no instance holds
// a job that has not ended (rollwave.job set, stage not failed), every instance seen with a job
// has its event, and the work queues are empty.
func (d *demo) watch(ctx context.Context, start time.Time) (map[string]Ended, bool, error) {
	obs := newObserver()
	ended := map[string]Ended{}
	limit, _ := update.ParseLimit(d.o.limit) // parseFlags checked it
	v := &view{w: d.out, terminal: d.o.terminal, limit: limit}
	client := sqs.NewFromConfig(d.cfg)
	results, err := d.queues.Queue(resultsQueue)
	if err != nil {
		return nil, false, err
	}
	deadline := time.NewTimer(d.o.deadline)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for n := 0; ; n++ {
		st, err := d.fleet.State(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("read fleet state: %w", err)
		}
		obs.Observe(st)
		if n%receiveEvery != 0 {
			select {
			case <-ctx.Done():
				return nil, false, fmt.Errorf("watch the rollout: %w", context.Cause(ctx))
			case <-tick.C:
			}
			continue
		}
		if err := receiveEnded(ctx, client, results.URL, ended); err != nil {
			return nil, false, err
		}
		v.render(obs, ended, time.Since(start))
		if err := d.procs.firstExited(); err != nil {
			return nil, false, err
		}
		if done, err := d.finished(ctx, client, obs, ended); err != nil {
			return nil, false, err
		} else if done {
			return ended, false, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("watch the rollout: %w", context.Cause(ctx))
		case <-deadline.C:
			return ended, true, nil
		case <-tick.C:
		}
	}
}

func (d *demo) finished(ctx context.Context, client *sqs.Client, obs *observer, ended map[string]Ended) (bool, error) {
	if len(ended) == 0 || len(obs.Busy()) > 0 {
		return false, nil
	}
	for id := range obs.jobs {
		if _, ok := ended[id]; !ok {
			return false, nil
		}
	}
	for _, logical := range []string{topology.Scanner, topology.Patcher, topology.Reboot, topology.Drainer, topology.Verifier} {
		q, err := d.queues.Queue(logical)
		if err != nil {
			return false, err
		}
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return false, fmt.Errorf("count messages of %s: %w", q.Name, err)
		}
		for _, n := range out.Attributes {
			if n != "0" {
				return false, nil
			}
		}
	}
	return true, nil
}

// receiveEnded moves the pipeline events from the results queue into ended, by EC2 instance ID.
func receiveEnded(ctx context.Context, client *sqs.Client, url string, ended map[string]Ended) error {
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil {
		return fmt.Errorf("receive pipeline events: %w", err)
	}
	for _, m := range out.Messages {
		var ev struct {
			DetailType string           `json:"detail-type"`
			Detail     notify.JobDetail `json:"detail"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err == nil {
			switch ev.DetailType {
			case notify.InstanceUpdateSucceeded, notify.InstanceUpdateFailed, notify.InstanceUpdateSkipped:
				id := ev.Detail.EC2InstanceID
				if id == "" {
					id = ev.Detail.Instance
				}
				ended[id] = Ended{DetailType: ev.DetailType, Detail: ev.Detail}
			}
		}
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return fmt.Errorf("delete pipeline event: %w", err)
		}
	}
	return nil
}

// awsConfig routes ECS, SSM and EC2 clients to fleetsim and every other client to moto.
func awsConfig(moto, fleetsim string) aws.Config {
	return aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("demo", "test", "")),
		BaseEndpoint:  aws.String(moto),
		ConfigSources: []any{endpointSource{moto: moto, fleetsim: fleetsim}},
	}
}

// endpointSource is an aws.Config source that gives each service client its base endpoint.
type endpointSource struct{ moto, fleetsim string }

func (e endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	switch strings.ToUpper(sdkID) {
	case "ECS", "SSM", "EC2":
		return e.fleetsim, true, nil
	}
	return e.moto, true, nil
}
