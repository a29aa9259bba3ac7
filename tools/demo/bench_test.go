package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollwave/rollwave/tools/harness"
)

// BenchmarkRollout runs the default scenario's rollout end to end as `make demo` does (moto,
// fleetsim at ×60 and the four worker binaries as processes, one limit per cluster), b.N times,
// and reports per rollout:
//
//   - rollout-s: wall seconds from the scan request until every job had ended (ns/op adds the
//     start of moto, fleetsim and the workers, and their stop);
//   - calls/updated: the workers' AWS API calls (ECS, SSM, EC2) per updated instance;
//   - beyond-mean-s, beyond-max-s: an updated instance's time out of service beyond its drain
//     and reboot, in simulated seconds (fleetsim's report; one real second is 60 of them);
//   - <worker>-peak-MB: each worker's peak resident set size (VmHWM, Linux), the most of any run.
//
// It needs moto in .venv (make deps) and runs only with -bench (make bench).
func BenchmarkRollout(b *testing.B) {
	root := harness.RepoRoot(b)
	if _, err := os.Stat(filepath.Join(root, ".venv", "bin", "moto_server")); err != nil {
		b.Fatalf("moto is not installed in %s/.venv: run make deps", root)
	}
	bin := b.TempDir()
	for _, dir := range []string{"tools/fleetsim", "services/scanner", "services/patcher", "services/drainer", "services/verifier"} {
		if err := os.Symlink(harness.BuildBinary(b, dir), filepath.Join(bin, filepath.Base(dir))); err != nil {
			b.Fatal(err)
		}
	}
	o := options{root: root, bin: bin, scenario: filepath.Join(root, "tools", "fleetsim", "scenarios", "default.yaml"),
		timeScale: 60, deadline: 3 * time.Minute, limit: 1}

	var wall, beyondMean, beyondMax time.Duration
	var calls float64
	peak := map[string]int64{}
	runs := 0
	for b.Loop() {
		o.logDir = b.TempDir()
		res, err := rollout(b.Context(), o, os.Environ(), io.Discard)
		if err != nil {
			b.Fatalf("rollout: %v (logs in %s)", err, o.logDir)
		}
		if !res.Summary.OK() {
			b.Fatalf("rollout did not succeed: %s (logs in %s)", strings.Join(res.Summary.Problems, "; "), o.logDir)
		}
		runs++
		wall += res.Rollout
		calls += res.Summary.CallsPerUpdated
		beyondMean += res.Summary.MeanBeyond
		beyondMax = max(beyondMax, res.Summary.MaxBeyond)
		for w, n := range res.PeakRSS {
			peak[w] = max(peak[w], n)
		}
	}
	n := float64(runs)
	b.ReportMetric(wall.Seconds()/n, "rollout-s")
	b.ReportMetric(calls/n, "calls/updated")
	b.ReportMetric(beyondMean.Seconds()/n, "beyond-mean-s")
	b.ReportMetric(beyondMax.Seconds(), "beyond-max-s")
	for w, bytes := range peak {
		b.ReportMetric(float64(bytes)/1e6, w+"-peak-MB")
	}
}
