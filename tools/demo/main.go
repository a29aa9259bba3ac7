// Command demo runs the whole rollwave pipeline on one machine and shows a rollout live: moto
// (SQS, EventBridge) from the repository's .venv, fleetsim with a scenario (ECS, SSM, EC2) and the
// four workers as child processes. It sends one scan request, shows every instance moving
// through its stages, and ends with a summary; it exits 0 when the rollout succeeded. `make demo`
// builds the binaries into ./bin and runs it.
//
// `demo up` starts the same stack and leaves it running (make up), printing the environment for
// the rollwave CLI and the aws CLI; `demo down` stops it (make down).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := run(ctx, os.Args[1:], os.Environ(), os.Stdout)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case interrupted:
		fmt.Fprintln(os.Stderr, "demo: interrupted; every process it started is stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	case !ok:
		os.Exit(1)
	}
}

type options struct {
	root, bin, scenario, logDir string
	timeScale                   float64
	deadline                    time.Duration
	// limit is ROLLWAVE_MAX_OUT_OF_SERVICE: a count or a percentage.
	limit string
	// replicas is the number of processes of each worker.
	replicas int
	// env are worker settings (KEY=VALUE) given to every worker after the demo's own.
	env envFlag
	// only, when set, names the workers to start (the scan benchmark starts the scanner alone).
	only     []string
	terminal bool
	// emulator is the base URL of an AWS emulator already running (LocalStack, a moto of one's
	// own) to use instead of starting moto.
	emulator string
	// quickMoto starts moto with its clock and JSONPath parser made cheap and its SQS calls taking
	// turns (quickmoto/moto_quick.py): the same answers for a fraction of the CPU, and none lost
	// under concurrent calls, for the benchmarks of large fleets.
	quickMoto bool
	// detached children outlive the demo (make up): they are not killed when it exits.
	detached bool
	// stateDir is where make up keeps the stack's pids, environment and logs.
	stateDir string
}

func parseFlags(args []string, stdout io.Writer) (options, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.root, "root", "", "repository root `DIR` (default: the directory holding go.work above the working directory)")
	fs.StringVar(&o.bin, "bin", "", "directory `DIR` of the fleetsim, scanner, patcher, drainer and verifier binaries (default: <root>/bin)")
	fs.StringVar(&o.scenario, "scenario", "", "fleetsim scenario `FILE` (default: <root>/tools/fleetsim/scenarios/default.yaml)")
	fs.StringVar(&o.logDir, "logs", "", "directory `DIR` for the logs of the child processes (default: a new temporary directory)")
	fs.Float64Var(&o.timeScale, "time-scale", 60, "the `FACTOR` of simulated seconds per real second")
	fs.DurationVar(&o.deadline, "deadline", 3*time.Minute, "how long the rollout may take, in real time")
	fs.StringVar(&o.limit, "max-out-of-service", "1", "instances of a cluster that may be out of service at once, a `LIMIT`: a count (2) or a percentage (20%)")
	fs.IntVar(&o.replicas, "replicas", 1, "`N` processes of each worker")
	fs.Var(&o.env, "env", "a worker setting `KEY=VALUE` (ROLLWAVE_*, docs/configuration.md) given to every worker after the demo's own; repeatable")
	fs.StringVar(&o.emulator, "emulator", "", "base `URL` of an AWS emulator already running (LocalStack: http://127.0.0.1:4566) to use for SQS, EventBridge and CloudWatch instead of starting moto (default: $"+harness.EmulatorEnv+", else moto)")
	fs.BoolVar(&o.quickMoto, "quick-moto", false, "start moto with its clock and JSONPath parser made cheap and its SQS calls taking turns (tools/demo/quickmoto/moto_quick.py says how and why): the same answers, a fraction of the CPU, none lost under load; for fleets of hundreds of hosts")
	fs.StringVar(&o.stateDir, "state", "", "up and down: directory `DIR` of the stack's pids, environment and logs (default: <root>/.cache/stack)")
	fs.SetOutput(stdout)
	fs.Usage = func() { usage(stdout, fs) }
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.emulator == "" {
		o.emulator = os.Getenv(harness.EmulatorEnv)
	}
	var problems []error
	if o.timeScale <= 0 || o.deadline <= 0 {
		problems = append(problems, errors.New("--time-scale and --deadline must be positive"))
	}
	if _, err := update.ParseLimit(o.limit); err != nil {
		problems = append(problems, fmt.Errorf("--max-out-of-service: %w", err))
	}
	if o.replicas < 1 {
		problems = append(problems, errors.New("--replicas must be at least 1"))
	}
	if err := errors.Join(problems...); err != nil {
		return o, err
	}
	if o.root == "" {
		root, err := harness.FindRepoRoot()
		if err != nil {
			return o, fmt.Errorf("%w (use --root)", err)
		}
		o.root = root
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.root, "bin")
	}
	if o.scenario == "" {
		o.scenario = filepath.Join(o.root, "tools", "fleetsim", "scenarios", "default.yaml")
	}
	if o.stateDir == "" {
		o.stateDir = filepath.Join(o.root, ".cache", "stack")
	}
	if f, ok := stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			o.terminal = true
		}
	}
	return o, nil
}

// usage prints the demo's usage with its flags as --name, the form the README and the rollwave
// CLI use (Go's flag package takes both), each default once.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: demo [up|down] [flags]

Runs a rollout of the local stack (moto, fleetsim, the four workers) and prints its summary;
"up" starts the stack and leaves it running, "down" stops it.

Flags:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if d := f.DefValue; d != "" && !strings.Contains(text, "(default") {
			text += " (default " + d + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, text)
	})
	tw.Flush()
}

// run runs the demo; environ is passed on to the child processes without its AWS_ and ROLLWAVE_
// variables. ok reports whether the rollout succeeded; err is a demo that could not run.
func run(ctx context.Context, args []string, environ []string, stdout io.Writer) (ok bool, err error) {
	verb := ""
	if len(args) > 0 && (args[0] == "up" || args[0] == "down") {
		verb, args = args[0], args[1:]
	}
	o, err := parseFlags(args, stdout)
	if err != nil {
		return false, err // flag.ErrHelp after -h, which printed the usage
	}
	switch verb {
	case "up":
		return true, up(ctx, o, environ, stdout)
	case "down":
		return true, down(o, stdout)
	}
	res, err := rollout(ctx, o, environ, stdout)
	return err == nil && res.Summary.OK(), err
}

// rollout runs the demo with o and returns once every process it started has stopped.
func rollout(ctx context.Context, o options, environ []string, stdout io.Writer) (res result, err error) {
	if o.logDir == "" {
		if o.logDir, err = os.MkdirTemp("", "rollwave-demo-"); err != nil {
			return res, fmt.Errorf("create log directory: %w", err)
		}
	} else if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return res, fmt.Errorf("create log directory: %w", err)
	}
	fmt.Fprintf(stdout, "rollwave demo: logs of every process in %s\n", o.logDir)
	d := &demo{o: o, out: stdout, environ: environ}
	defer func() {
		if d.stopProxy != nil {
			d.stopProxy()
		}
	}()
	// Every exit, an interrupt included, stops the children: SIGTERM to each process group,
	// SIGKILL after stopGrace.
	defer d.procs.stopAll(stopGrace)
	return d.run(ctx)
}
