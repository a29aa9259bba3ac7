// Package harness runs rollwave's tests against real wire protocols: an AWS emulator (moto
// server from the repository's .venv, or any emulator given by endpoint, such as LocalStack)
// for SQS and EventBridge, and the fleet simulator tools/fleetsim for ECS, SSM and EC2.
//
// A test calls Start and gets a Stack: the endpoints, an aws.Config whose SDK clients reach the
// right server, the environment for worker processes, and unique resource names. Everything
// started is stopped when the test ends; when it failed, the processes' logs are kept and their
// last lines are written to the test log.
//
// Typical use, from a module that requires github.com/rollwave/rollwave/tools/harness with a
// replace directive to its relative path:
//
//	s := harness.Start(t, harness.WithScenario("testdata/fleet.yaml"), harness.WithTimeScale(20))
//	cfg := s.AWSConfig(t.Context())        // sqs/eventbridge -> emulator, ecs/ssm/ec2 -> fleetsim
//	queue := s.Name("rollwave-jobs")       // unique per Stack
//	bin := harness.BuildBinary(t, "services/drainer")
//	w := harness.StartProcess(t, "drainer", bin, append(s.Env(), "QUEUE="+queue))
//	w.Kill(); w.Restart()                  // crash and resume
//	harness.Eventually(t, 30*time.Second, func() (bool, string) { ... })
//
// moto is started once per test binary and reset (POST /moto-api/reset) at the start of a test
// when no other Stack is using it. Tests that run in parallel, or against an external emulator
// that is never reset, must name their resources with Stack.Name.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EmulatorEnv names the environment variable that points a whole test run at an already
// running emulator (e.g. LocalStack in host mode at http://127.0.0.1:4566) instead of moto.
const EmulatorEnv = "ROLLWAVE_TEST_EMULATOR"

// Region is the AWS region every Stack uses.
const Region = "us-east-1"

// readyTimeout bounds how long a started server may take to answer its readiness probe.
const readyTimeout = 30 * time.Second

// startAttempts is how often a server is started on a fresh port when it exits before it is
// ready (another process may have taken the port between our probe and its bind).
const startAttempts = 3

// Stack is the set of servers one test talks to.
type Stack struct {
	// EmulatorURL is the base URL of the AWS emulator (SQS, EventBridge and every service that
	// fleetsim does not simulate).
	EmulatorURL string
	// FleetsimURL is the base URL of fleetsim (ECS, SSM, EC2 and the admin API under
	// /fleetsim/), or "" when the Stack was started WithoutFleetsim.
	FleetsimURL string
	// Region is the AWS region of all clients and resources.
	Region string
	// Fleetsim is the fleetsim process, or nil when the Stack was started WithoutFleetsim.
	Fleetsim *Process

	t  testing.TB
	id string
}

type options struct {
	scenario    string
	timeScale   float64
	noFleetsim  bool
	emulatorURL string
}

// Option configures Start.
type Option func(*options)

// WithScenario starts fleetsim with the scenario file at path (-scenario), relative to the
// test's working directory (its package directory).
func WithScenario(path string) Option { return func(o *options) { o.scenario = path } }

// WithTimeScale makes fleetsim's simulated time run n times faster than real time (-time-scale).
func WithTimeScale(n float64) Option { return func(o *options) { o.timeScale = n } }

// WithoutFleetsim starts only the emulator.
func WithoutFleetsim() Option { return func(o *options) { o.noFleetsim = true } }

// WithEmulatorEndpoint uses the emulator already running at url instead of starting moto. The
// harness never resets an emulator it does not own. It overrides ROLLWAVE_TEST_EMULATOR.
func WithEmulatorEndpoint(url string) Option { return func(o *options) { o.emulatorURL = url } }

// Start starts (or reuses) the emulator and starts fleetsim, waits until both answer, and
// registers their shutdown with t.Cleanup. It fails the test when anything is missing: run
// `make deps` to install moto.
func Start(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		// The SDK's service clients skip every per-service endpoint source when this is set in
		// the process environment, which would send ECS and SSM calls to the emulator.
		t.Fatalf("AWS_ENDPOINT_URL=%s is set in the test environment: unset it (use %s to choose the emulator)", v, EmulatorEnv)
	}
	if o.emulatorURL == "" {
		o.emulatorURL = os.Getenv(EmulatorEnv)
	}

	s := &Stack{Region: Region, t: t, id: randomID()}
	if o.emulatorURL != "" {
		s.EmulatorURL = strings.TrimRight(o.emulatorURL, "/")
		if err := checkReachable(t.Context(), s.EmulatorURL); err != nil {
			t.Fatalf("emulator from %s or WithEmulatorEndpoint: %v", EmulatorEnv, err)
		}
	} else {
		s.EmulatorURL = acquireMoto(t)
	}
	if !o.noFleetsim {
		s.startFleetsim(o)
	}
	return s
}

// Name returns base followed by a suffix unique to this Stack ("rollwave-jobs-1a2b3c4d"), for
// resource names and name prefixes that must not collide with other tests' on a shared
// emulator. The suffix is 9 characters; SQS allows 80 in a queue name, EventBridge 64 in a rule.
func (s *Stack) Name(base string) string { return base + "-" + s.id }

// AWSConfig returns the configuration for aws-sdk-go-v2 clients: static credentials test/test,
// Region, and base endpoints such that ecs, ssm and ec2 clients reach fleetsim and every other
// client reaches the emulator, whatever AWS_* variables or shared config files the developer
// has. Clients need no options of their own.
//
// The config is built here rather than by config.LoadDefaultConfig, which would read the
// developer's AWS_PROFILE and shared files (and fail on a profile that does not exist). ctx is
// for symmetry with LoadDefaultConfig; nothing here blocks.
func (s *Stack) AWSConfig(ctx context.Context) aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", "")),
		BaseEndpoint: aws.String(s.EmulatorURL),
		// Service clients take BaseEndpoint, then the first config source that names an endpoint
		// for their service ID; ours answers for every service.
		ConfigSources: []any{endpointSource{emulator: s.EmulatorURL, fleetsim: s.FleetsimURL}},
	}
}

// Env returns the environment that makes an AWS SDK (or the aws CLI) in a child process use
// this Stack: the same endpoints, region and credentials as AWSConfig, and no instance metadata.
// Pass it to StartProcess.
func (s *Stack) Env() []string {
	env := []string{
		"AWS_ENDPOINT_URL=" + s.EmulatorURL,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if s.FleetsimURL != "" {
		for _, id := range fleetsimServices {
			env = append(env, "AWS_ENDPOINT_URL_"+id+"="+s.FleetsimURL)
		}
	}
	return env
}

// fleetsimServices are the SDK service IDs (upper-cased, as in AWS_ENDPOINT_URL_<ID>) that
// fleetsim serves.
var fleetsimServices = []string{"ECS", "SSM", "EC2"}

// endpointSource is an aws.Config source (see aws-sdk-go-v2/internal/configsources) that maps
// service IDs to base endpoints.
type endpointSource struct{ emulator, fleetsim string }

func (e endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	id := strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	for _, f := range fleetsimServices {
		if id == f && e.fleetsim != "" {
			return e.fleetsim, true, nil
		}
	}
	return e.emulator, true, nil
}

// GetIgnoreConfiguredEndpoints keeps AWS_IGNORE_CONFIGURED_ENDPOINT_URLS from switching the
// source above off.
func (endpointSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return false, true, nil
}

func (s *Stack) startFleetsim(o options) {
	t := s.t
	t.Helper()
	bin := BuildBinary(t, filepath.Join("tools", "fleetsim"))
	env := []string{
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + s.EmulatorURL,
		"AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var lastErr error
	for range startAttempts {
		addr := freeAddr(t)
		// The EC2 actions fleetsim does not simulate (launch templates) reach the emulator, as
		// the rest of the account's resources do.
		args := []string{"-listen", addr, "-ec2-forward", s.EmulatorURL}
		if o.scenario != "" {
			path, err := filepath.Abs(o.scenario)
			if err != nil {
				t.Fatalf("scenario: %v", err)
			}
			args = append(args, "-scenario", path)
		}
		if o.timeScale != 0 {
			args = append(args, "-time-scale", strconv.FormatFloat(o.timeScale, 'g', -1, 64))
		}
		p := StartProcess(t, "fleetsim", bin, env, args...)
		url := "http://" + addr
		ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
		lastErr = waitHTTP(ctx, url+"/fleetsim/healthz", p)
		cancel()
		if lastErr == nil {
			s.Fleetsim, s.FleetsimURL = p, url
			return
		}
		if p.Running() { // not a lost port race: it is up but never got ready
			break
		}
	}
	t.Fatalf("start fleetsim: %v", lastErr)
}

// The moto server shared by the tests of one binary. It is killed when the binary exits
// (Pdeathsig); its log is in .cache/harness/moto-<pid> (see motoLogDir).
var (
	motoMu     sync.Mutex
	motoProc   *Process
	motoURL    string
	motoActive int // Stacks using moto right now
)

// acquireMoto returns the URL of the shared moto server, starting it if needed and resetting it
// if no other test uses it, and releases it when t ends.
func acquireMoto(t testing.TB) string {
	t.Helper()
	motoMu.Lock()
	defer motoMu.Unlock()
	if motoProc == nil || !motoProc.Running() {
		if err := startMoto(t); err != nil {
			t.Fatalf("start moto: %v", err)
		}
	} else if motoActive == 0 {
		if err := resetMoto(t.Context(), motoURL); err != nil {
			t.Fatalf("reset moto: %v", err)
		}
	}
	motoActive++
	proc := motoProc
	t.Cleanup(func() {
		motoMu.Lock()
		motoActive--
		motoMu.Unlock()
		if t.Failed() {
			proc.reportLog(t)
		}
	})
	return motoURL
}

func startMoto(t testing.TB) error {
	root, err := FindRepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, ".venv", "bin", "moto_server")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s is missing: run make deps", bin)
	}
	dir, err := motoLogDir(root)
	if err != nil {
		return err
	}
	var lastErr error
	for range startAttempts {
		addr := freeAddr(t)
		host, port, _ := net.SplitHostPort(addr)
		p, err := startProcess(t, dir, "moto", bin, nil, "-H", host, "-p", port)
		if err != nil {
			return err
		}
		url := "http://" + addr
		ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
		lastErr = waitHTTP(ctx, url+"/moto-api/data.json", p)
		cancel()
		if lastErr == nil {
			motoProc, motoURL = p, url
			return nil
		}
		_ = p.Stop() // this attempt failed already, and lastErr says why
		if !strings.Contains(lastErr.Error(), "exited") {
			break
		}
	}
	return fmt.Errorf("%w (log: %s)", lastErr, filepath.Join(dir, "moto.log"))
}

// motoLogDir returns .cache/harness/moto-<pid> in the repository root for this test binary's
// moto log, after removing the directories of test binaries that are gone: moto outlives every
// test, so no test can remove its log, and a failed run's log stays until the next run.
func motoLogDir(root string) (string, error) {
	base := filepath.Join(root, ".cache", "harness")
	old, _ := filepath.Glob(filepath.Join(base, "moto-*"))
	for _, dir := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "moto-"))
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(dir)
		}
	}
	dir := filepath.Join(base, "moto-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create moto log dir: %w", err)
	}
	return dir, nil
}

func resetMoto(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /moto-api/reset: %s", resp.Status)
	}
	return nil
}

// checkReachable waits until something answers HTTP at url, whatever the status.
func checkReachable(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	reason, ok := poll(ctx, func() (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
	if !ok {
		return fmt.Errorf("reach %s: %s", url, reason)
	}
	return nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
