package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/tools/harness"
)

// rolloutCase is one fleet the rollout benchmark rolls out.
type rolloutCase struct {
	name      string
	scenario  string // a file under tools/fleetsim/scenarios, or "" for fleet
	fleet     []int  // hosts per generated cluster
	timeScale float64
	replicas  int
	deadline  time.Duration
}

// rolloutCases are BenchmarkRollout's fleets, each at 20 % out of service. make bench runs the
// first four; the 1,000-host one is selected with -bench 'Rollout/^1000-hosts'.
var rolloutCases = []rolloutCase{
	{name: "8-hosts-x60", scenario: "default.yaml", timeScale: 60, replicas: 1, deadline: 3 * time.Minute},
	{name: "8-hosts-x10", scenario: "default.yaml", timeScale: 10, replicas: 1, deadline: 6 * time.Minute},
	{name: "50-hosts-x20", fleet: []int{30, 20}, timeScale: 20, replicas: 1, deadline: 10 * time.Minute},
	{name: "200-hosts-x20-2-replicas", fleet: []int{100, 60, 40}, timeScale: 20, replicas: 2, deadline: 15 * time.Minute},
	{name: "1000-hosts-x20-2-replicas", fleet: []int{600, 250, 150}, timeScale: 20, replicas: 2, deadline: 30 * time.Minute},
}

// rolloutLimit is the benchmark's ROLLWAVE_MAX_OUT_OF_SERVICE.
const rolloutLimit = "20%"

// BenchmarkRollout rolls out each fleet of rolloutCases end to end as `make demo` does (moto,
// fleetsim, the counting proxy and the worker binaries as processes), b.N times, and reports per
// rollout (the mean over the runs; ns/op adds the start and stop of every process):
//
//   - rollout-s: wall seconds from the scan request until every job had ended;
//   - makespan/bound: the simulated time from the first drain to the last instance back in
//     service, divided by its lower bound (lowerBound: per cluster ⌈N / limit⌉ waves of the
//     cluster's mean drain + reboot; the largest cluster's bound);
//   - beyond-{median,p99,max}-s: an updated instance's time out of service beyond its drain and
//     reboot, simulated seconds (divide by the time scale for real ones);
//   - ecs+ssm+ec2/updated, sqs+events+cw/updated: the workers' calls per updated instance;
//   - <worker>-peak-MB, <process>-cpu-s: peak RSS of each worker and CPU seconds of each worker,
//     moto and fleetsim, summed over replicas;
//   - over-limit, below-floor, left-draining: the safety figures, zero in a safe rollout;
//   - event-lag-s: fleetsim's events.maxLagSeconds.
//
// It prints a table of the same figures. It needs moto in .venv (make deps) and runs only with
// -bench (make bench). Its moto is the quick one (benchMotoEnv) unless ROLLWAVE_BENCH_MOTO=released.
func BenchmarkRollout(b *testing.B) {
	root, bin := benchSetup(b)
	var rows []string
	for _, tc := range rolloutCases {
		b.Run(tc.name, func(b *testing.B) {
			scenario := filepath.Join(root, "tools", "fleetsim", "scenarios", tc.scenario)
			if tc.scenario == "" {
				scenario = writeScenario(b, fleetScenario(tc.fleet, true))
			}
			o := options{root: root, bin: bin, scenario: scenario, timeScale: tc.timeScale, deadline: tc.deadline,
				limit: rolloutLimit, replicas: tc.replicas, emulator: os.Getenv(harness.EmulatorEnv), quickMoto: quickMoto(b)}
			var runs []rolloutFigures
			for b.Loop() {
				o.logDir = logDir(b)
				res, err := rollout(b.Context(), o, os.Environ(), io.Discard)
				if err != nil {
					b.Fatalf("rollout: %v (logs kept in %s)", err, o.logDir)
				}
				if !res.Summary.OK() {
					b.Fatalf("rollout did not succeed: %s (logs kept in %s)", strings.Join(res.Summary.Problems, "; "), o.logDir)
				}
				runs = append(runs, figuresOf(res, tc.timeScale))
				printNotUpdated(tc.name, res.Summary)
			}
			f := meanFigures(runs)
			f.report(b)
			rows = append(rows, f.row(tc))
		})
	}
	if len(rows) > 0 {
		// Printed, not logged: a benchmark's log shows only with -v.
		fmt.Printf("rollout at %s out of service, %s, the mean of each case's runs:\n%s\n%s\n", rolloutLimit, emulatorName(b), rolloutHeader, strings.Join(rows, "\n"))
	}
}

// logDir is a new directory for one run's logs, removed when the benchmark passes and kept when
// it fails, for the failure's message to point at (b.TempDir would remove it either way).
func logDir(b *testing.B) string {
	dir, err := os.MkdirTemp("", "rollwave-bench-logs-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if !b.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

// printNotUpdated prints the headline and the line of each instance that a successful rollout
// did not update (skipped with its reason): a benchmark keeps no logs, and a skip is the one
// outcome other than updated that does not fail it.
func printNotUpdated(name string, s Summary) {
	if s.Updated == len(s.Instances) {
		return
	}
	fmt.Printf("%s: %s\n", name, s.Headline)
	for _, in := range s.Instances {
		if !strings.HasPrefix(in.Result, "updated ") {
			fmt.Printf("  %s/%s: %s\n", in.Cluster, in.Instance, in.Result)
		}
	}
}

// rolloutFigures are one rollout's measures.
type rolloutFigures struct {
	rolloutS, makespanS, boundS, ratio  float64
	medianS, p99S, maxS                 float64
	calls, queueCalls                   float64
	overLimit, belowFloor, leftDraining float64
	eventLagS, updated                  float64
	peakMB, cpuS                        map[string]float64
	scale                               float64
}

func figuresOf(res result, scale float64) rolloutFigures {
	s := res.Summary
	f := rolloutFigures{
		rolloutS: res.Rollout.Seconds(), makespanS: s.Makespan.Seconds(), boundS: s.LowerBound.Seconds(),
		medianS: s.MedianBeyond.Seconds(), p99S: s.P99Beyond.Seconds(), maxS: s.MaxBeyond.Seconds(),
		calls: s.CallsPerUpdated, queueCalls: s.QueueCallsPerUpdated,
		overLimit: float64(s.OverLimit), belowFloor: float64(s.BelowFloor), leftDraining: float64(s.LeftDraining),
		eventLagS: res.Outcome.Report.Events.MaxLagSeconds, updated: float64(s.Updated),
		peakMB: map[string]float64{}, cpuS: res.CPU, scale: scale,
	}
	if s.LowerBound > 0 {
		f.ratio = s.Makespan.Seconds() / s.LowerBound.Seconds()
	}
	for w, n := range res.PeakRSS {
		f.peakMB[w] = float64(n) / 1e6
	}
	return f
}

// meanFigures is the mean of each figure over runs; the safety figures and maxima are the most
// of any run.
func meanFigures(runs []rolloutFigures) rolloutFigures {
	m := rolloutFigures{peakMB: map[string]float64{}, cpuS: map[string]float64{}}
	n := float64(len(runs))
	for _, r := range runs {
		m.rolloutS += r.rolloutS / n
		m.makespanS += r.makespanS / n
		m.boundS += r.boundS / n
		m.ratio += r.ratio / n
		m.medianS += r.medianS / n
		m.p99S += r.p99S / n
		m.maxS = max(m.maxS, r.maxS)
		m.calls += r.calls / n
		m.queueCalls += r.queueCalls / n
		m.overLimit = max(m.overLimit, r.overLimit)
		m.belowFloor = max(m.belowFloor, r.belowFloor)
		m.leftDraining = max(m.leftDraining, r.leftDraining)
		m.eventLagS = max(m.eventLagS, r.eventLagS)
		m.updated += r.updated / n
		m.scale = r.scale
		for k, v := range r.peakMB {
			m.peakMB[k] = max(m.peakMB[k], v)
		}
		for k, v := range r.cpuS {
			m.cpuS[k] += v / n
		}
	}
	return m
}

func (f rolloutFigures) report(b *testing.B) {
	b.ReportMetric(f.rolloutS, "rollout-s")
	b.ReportMetric(f.ratio, "makespan/bound")
	b.ReportMetric(f.medianS, "beyond-median-s")
	b.ReportMetric(f.p99S, "beyond-p99-s")
	b.ReportMetric(f.maxS, "beyond-max-s")
	b.ReportMetric(f.calls, "ecs+ssm+ec2/updated")
	b.ReportMetric(f.queueCalls, "sqs+events+cw/updated")
	b.ReportMetric(f.overLimit, "over-limit")
	b.ReportMetric(f.belowFloor, "below-floor")
	b.ReportMetric(f.leftDraining, "left-draining")
	b.ReportMetric(f.eventLagS, "event-lag-s")
	for w, mb := range f.peakMB {
		b.ReportMetric(mb, w+"-peak-MB")
	}
	for p, s := range f.cpuS {
		b.ReportMetric(s, p+"-cpu-s")
	}
}

const rolloutHeader = "| case | updated | rollout (real) | makespan ÷ lower bound (simulated) | beyond drain+reboot median / p99 / max, simulated (real) | ECS+SSM+EC2 / updated | SQS+EventBridge+CloudWatch / updated | peak RSS MB scanner / patcher / drainer / verifier | CPU s scanner / patcher / drainer / verifier / moto / fleetsim | over limit / below floor / left DRAINING | event lag |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|"

// row is the figures as a line of rolloutHeader's table.
func (f rolloutFigures) row(tc rolloutCase) string {
	return fmt.Sprintf("| %s | %.0f | %.0f s | %.0f s ÷ %.0f s = %.2f | %.0f / %.0f / %.0f s (%.1f / %.1f / %.1f s) | %.0f | %.0f | %.1f / %.1f / %.1f / %.1f | %.1f / %.1f / %.1f / %.1f / %.1f / %.1f | %.0f / %.0f / %.0f | %.1f s |",
		tc.name, f.updated, f.rolloutS, f.makespanS, f.boundS, f.ratio,
		f.medianS, f.p99S, f.maxS, f.medianS/f.scale, f.p99S/f.scale, f.maxS/f.scale,
		f.calls, f.queueCalls,
		f.peakMB["scanner"], f.peakMB["patcher"], f.peakMB["drainer"], f.peakMB["verifier"],
		f.cpuS["scanner"], f.cpuS["patcher"], f.cpuS["drainer"], f.cpuS["verifier"], f.cpuS["moto"], f.cpuS["fleetsim"],
		f.overLimit, f.belowFloor, f.leftDraining, f.eventLagS)
}

// scanCases are BenchmarkScan's fleets; make bench runs the first, -bench 'Scan/^10000-' the other.
var scanCases = []struct {
	name  string
	fleet []int
}{
	{"1000-instances", []int{600, 400}},
	{"10000-instances", []int{6000, 4000}},
}

// BenchmarkScan sends one scan request to the scanner alone (moto, fleetsim at ×20 and one
// scanner process; with no patcher, the jobs stay on the patcher's queue) over fleets of 1,000
// and 10,000 instances, every one with an update, and reports per scan:
//
//   - scan-s: wall seconds from the request until the scanner logs that the scan finished;
//   - jobs: the jobs it sent;
//   - ecs+ssm+ec2-calls, sqs+events+cw-calls: the scanner's calls for the whole scan;
//   - scanner-peak-MB, scanner-cpu-s, moto-cpu-s, fleetsim-cpu-s.
func BenchmarkScan(b *testing.B) {
	root, bin := benchSetup(b)
	for _, tc := range scanCases {
		b.Run(tc.name, func(b *testing.B) {
			o := options{root: root, bin: bin, scenario: writeScenario(b, fleetScenario(tc.fleet, false)),
				timeScale: 20, deadline: 10 * time.Minute, limit: "1", replicas: 1, only: []string{"scanner"}, emulator: os.Getenv(harness.EmulatorEnv), quickMoto: quickMoto(b)}
			var last scanFigures
			for b.Loop() {
				o.logDir = logDir(b)
				f, err := scanOnly(b.Context(), o)
				if err != nil {
					b.Fatalf("scan: %v (logs kept in %s)", err, o.logDir)
				}
				last = f
			}
			b.ReportMetric(last.elapsed.Seconds(), "scan-s")
			b.ReportMetric(float64(last.jobs), "jobs")
			b.ReportMetric(float64(last.calls), "ecs+ssm+ec2-calls")
			b.ReportMetric(float64(last.queueCalls), "sqs+events+cw-calls")
			b.ReportMetric(last.peakMB, "scanner-peak-MB")
			for p, s := range last.cpuS {
				b.ReportMetric(s, p+"-cpu-s")
			}
			fmt.Printf("scan of %s: %d jobs in %.1f s; %d ECS+SSM+EC2 calls %v; %d SQS+EventBridge+CloudWatch calls %v\n",
				tc.name, last.jobs, last.elapsed.Seconds(), last.calls, last.byOp, last.queueCalls, last.queueByOp)
		})
	}
}

type scanFigures struct {
	elapsed                 time.Duration
	jobs, calls, queueCalls int
	byOp, queueByOp         map[string]int
	peakMB                  float64
	cpuS                    map[string]float64
}

// scanOnly starts moto, fleetsim and the scanner, sends one scan request and waits until the
// scanner logs "scan finished".
func scanOnly(ctx context.Context, o options) (f scanFigures, err error) {
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return f, err
	}
	d := &demo{o: o, out: io.Discard, environ: os.Environ()}
	defer func() {
		if d.stopProxy != nil {
			d.stopProxy()
		}
	}()
	defer d.procs.stopAll(stopGrace)
	if err := d.startMoto(ctx); err != nil {
		return f, err
	}
	if err := d.startCallCounter(); err != nil {
		return f, err
	}
	if err := d.startFleetsim(ctx); err != nil {
		return f, err
	}
	d.cfg = awsConfig(d.motoURL, d.fleetsimURL)
	if err := d.bootstrap(ctx); err != nil {
		return f, err
	}
	st, err := d.fleet.State(ctx)
	if err != nil {
		return f, fmt.Errorf("read fleet state: %w", err)
	}
	var clusters []string
	for _, c := range st.Clusters {
		clusters = append(clusters, c.Name)
	}
	if err := d.startWorkers(clusters); err != nil {
		return f, err
	}
	start := time.Now()
	if err := d.scan(ctx); err != nil {
		return f, err
	}
	wctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	log := filepath.Join(o.logDir, "scanner.log")
	err = waitUntil(wctx, "the scan to finish", 50*time.Millisecond, d.procs, func(context.Context) bool {
		n, ok := scanFinished(log)
		f.jobs = n
		return ok
	})
	if err != nil {
		return f, err
	}
	f.elapsed = time.Since(start)
	rss, cpu := d.usage()
	f.peakMB, f.cpuS = float64(rss["scanner"])/1e6, cpu
	rep, err := d.fleet.Report(ctx)
	if err != nil {
		return f, fmt.Errorf("read fleet report: %w", err)
	}
	f.byOp = rep.APICallsByCaller["scanner"]
	for _, n := range f.byOp {
		f.calls += n
	}
	f.queueByOp = d.calls.Counts()["scanner"]
	for _, n := range f.queueByOp {
		f.queueCalls += n
	}
	return f, nil
}

// scanFinished reads the scanner's log for its "scan finished" line and the jobs it names.
func scanFinished(path string) (jobs int, ok bool) {
	file, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			Jobs    int    `json:"jobs"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "scan finished" {
			return line.Jobs, true
		}
	}
	return 0, false
}

// benchSetup builds the binaries and returns the repository root and their directory.
func benchSetup(b *testing.B) (root, bin string) {
	root = harness.RepoRoot(b)
	if _, err := os.Stat(filepath.Join(root, ".venv", "bin", "moto_server")); err != nil {
		b.Fatalf("moto is not installed in %s/.venv: run make deps", root)
	}
	bin = b.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier"} {
		if err := os.Symlink(harness.BuildBinary(b, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			b.Fatal(err)
		}
	}
	return root, bin
}

// benchMotoEnv chooses the benchmarks' moto: "quick" (the default) or "released". Under a fleet of
// hundreds of hosts, the released moto spends most of its CPU reading its clock and building
// JSONPath parsers and falls minutes behind the fleet, so that the figures measured it rather than
// rollwave; the quick one answers the same (quickmoto/moto_quick.py). Tests use the released one.
const benchMotoEnv = "ROLLWAVE_BENCH_MOTO"

func quickMoto(b *testing.B) bool {
	switch v := os.Getenv(benchMotoEnv); v {
	case "", "quick":
		return true
	case "released":
		return false
	default:
		b.Fatalf("%s=%q: want quick or released", benchMotoEnv, v)
		return false
	}
}

// emulatorName says which emulator the figures were measured on.
func emulatorName(b *testing.B) string {
	switch {
	case os.Getenv(harness.EmulatorEnv) != "":
		return "emulator " + os.Getenv(harness.EmulatorEnv)
	case quickMoto(b):
		return "quick moto (" + benchMotoEnv + "=quick)"
	default:
		return "moto as released (" + benchMotoEnv + "=released)"
	}
}

func writeScenario(b *testing.B, scenario string) string {
	path := filepath.Join(b.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(scenario), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}
