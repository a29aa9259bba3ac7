package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/update"
	"github.com/rollwave/rollwave/tools/fleetsim/admin"
	"github.com/rollwave/rollwave/tools/harness"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	s := func(n ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range n {
			ds = append(ds, time.Duration(v)*time.Second)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 … 1, unsorted
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"no values give zero", nil, 50, 0},
		{"the median of an odd count is the middle value", s(9, 1, 5), 50, 5 * time.Second},
		{"the median of an even count is the lower middle value", s(4, 1, 3, 2), 50, 2 * time.Second},
		{"p99 of 100 values is the 99th", s(hundred...), 99, 99 * time.Second},
		{"p99 of 10 values is the largest", s(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Second},
		{"p100 is the largest", s(3, 7, 1), 100, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %g) = %s, want %s", tt.ds, tt.p, got, tt.want)
			}
		})
	}
}

func TestLowerBoundIsTheSlowestClusterWaves(t *testing.T) {
	inst := func(cluster string, drain, reboot time.Duration) admin.InstanceReport {
		return admin.InstanceReport{Cluster: cluster, Drain: admin.Duration(drain), Reboot: admin.Duration(reboot)}
	}
	many := func(n int, cluster string, drain, reboot time.Duration) []admin.InstanceReport {
		var out []admin.InstanceReport
		for range n {
			out = append(out, inst(cluster, drain, reboot))
		}
		return out
	}
	limit := func(s string) update.Limit {
		l, err := update.ParseLimit(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name    string
		updated []admin.InstanceReport
		size    map[string]int
		limit   update.Limit
		want    time.Duration
	}{
		{"one at a time: a wave per instance of the mean drain + reboot",
			[]admin.InstanceReport{inst("a", 10*time.Second, 60*time.Second), inst("a", 20*time.Second, 70*time.Second)},
			map[string]int{"a": 2}, limit("1"), 2 * 80 * time.Second},
		{"20 % of 100 hosts: 5 waves", many(100, "a", 15*time.Second, 60*time.Second), map[string]int{"a": 100}, limit("20%"), 5 * 75 * time.Second},
		{"a partial last wave counts whole: 7 of 3 at a time are 3 waves", many(7, "a", 0, 10*time.Second), map[string]int{"a": 7}, limit("3"), 30 * time.Second},
		{"20 % of 3 hosts is 1 at a time", many(3, "a", 0, 10*time.Second), map[string]int{"a": 3}, limit("20%"), 30 * time.Second},
		{"clusters roll in parallel: the largest bound",
			append(many(10, "big", 0, 10*time.Second), many(2, "small", 0, 100*time.Second)...),
			map[string]int{"big": 10, "small": 2}, limit("1"), 200 * time.Second},
		{"nothing updated: zero", nil, nil, limit("1"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lowerBound(tt.updated, tt.size, tt.limit); got != tt.want {
				t.Errorf("lowerBound = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCallOfNamesTheCallerAndTheOperation(t *testing.T) {
	auth := func(key, service string) string {
		return "AWS4-HMAC-SHA256 Credential=" + key + "/20261205/us-east-1/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
	}
	tests := []struct {
		name               string
		method, url, body  string
		header             map[string]string
		wantCaller, wantOp string
	}{
		{"JSON protocol: X-Amz-Target", "POST", "http://moto/", "{}",
			map[string]string{"Authorization": auth("drainer", "sqs"), "X-Amz-Target": "AmazonSQS.SendMessageBatch", "Content-Type": "application/x-amz-json-1.0"},
			"drainer", "sqs:SendMessageBatch"},
		{"EventBridge", "POST", "http://moto/", "{}",
			map[string]string{"Authorization": auth("fleetsim", "events"), "X-Amz-Target": "AWSEvents.PutEvents"},
			"fleetsim", "events:PutEvents"},
		{"query protocol: Action in the form body", "POST", "http://moto/", "Action=PutMetricData&Version=2010-08-01",
			map[string]string{"Authorization": auth("verifier", "monitoring"), "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
			"verifier", "monitoring:PutMetricData"},
		{"query protocol: Action in the URL", "GET", "http://moto/?Action=ListQueues", "",
			map[string]string{"Authorization": auth("scanner", "sqs")}, "scanner", "sqs:ListQueues"},
		{"Smithy RPC v2: the operation in the path", "POST", "http://moto/service/GraniteServiceVersion20100801/operation/PutMetricData", "",
			map[string]string{"Authorization": auth("patcher", "monitoring"), "Smithy-Protocol": "rpc-v2-cbor"}, "patcher", "monitoring:PutMetricData"},
		{"unsigned, unknown", "GET", "http://moto/moto-api/data.json", "", nil, "-", "?:?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			caller, op := callOf(r)
			if caller != tt.wantCaller || op != tt.wantOp {
				t.Errorf("callOf = %q, %q, want %q, %q", caller, op, tt.wantCaller, tt.wantOp)
			}
			// The body reaches moto whole.
			rest := make([]byte, len(tt.body)+1)
			n, _ := r.Body.Read(rest)
			if got := string(rest[:n]); got != tt.body {
				t.Errorf("body after callOf = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestScaledEnvCostsTheSameSimulatedTimeAtEveryScale(t *testing.T) {
	tests := []struct {
		name   string
		worker string
		scale  float64
		want   []string
	}{
		{"the verifier at ×60", "verifier", 60, []string{
			"ROLLWAVE_SSM_POLL_INTERVAL=33ms", "ROLLWAVE_SSM_EXPECTED=50ms", "ROLLWAVE_METRICS_INTERVAL=1s", "ROLLWAVE_RECHECK_INTERVAL=500ms",
			"ROLLWAVE_REBOOT_GRACE=1s", "ROLLWAVE_REBOOT_TIMEOUT=1m0s", "ROLLWAVE_SSM_TIMEOUT=3s"}},
		{"the verifier at ×10: six times as long, timeouts above their floor", "verifier", 10, []string{
			"ROLLWAVE_SSM_POLL_INTERVAL=200ms", "ROLLWAVE_SSM_EXPECTED=300ms", "ROLLWAVE_METRICS_INTERVAL=6s", "ROLLWAVE_RECHECK_INTERVAL=3s",
			"ROLLWAVE_REBOOT_GRACE=6s", "ROLLWAVE_REBOOT_TIMEOUT=1m30s", "ROLLWAVE_SSM_TIMEOUT=12s"}},
		{"the drainer at ×1: the production defaults", "drainer", 1, []string{
			"ROLLWAVE_SSM_POLL_INTERVAL=2s", "ROLLWAVE_SSM_EXPECTED=3s", "ROLLWAVE_METRICS_INTERVAL=1m0s", "ROLLWAVE_RECHECK_INTERVAL=30s",
			"ROLLWAVE_ADMISSION_RETRY=30s", "ROLLWAVE_ADMISSION_BACKSTOP=30s", "ROLLWAVE_PAUSE_REFRESH=5s", "ROLLWAVE_WAITING_THRESHOLD=15m0s", "ROLLWAVE_DRAIN_TIMEOUT=25m0s"}},
		{"the scanner at ×100000: never below a millisecond", "scanner", 100000, []string{
			"ROLLWAVE_SSM_POLL_INTERVAL=1ms", "ROLLWAVE_SSM_EXPECTED=1ms", "ROLLWAVE_METRICS_INTERVAL=1ms", "ROLLWAVE_SSM_TIMEOUT=1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scaledEnv(tt.worker, tt.scale)); diff != "" {
				t.Errorf("scaledEnv(%s, %g) (-want +got):\n%s", tt.worker, tt.scale, diff)
			}
		})
	}
}

func TestRebootGraceOutlastsTheSimulatedShutdown(t *testing.T) {
	// fleetsim's defaults: SSM delivery 1 s, then the shutdown 5 s before the host is down.
	const hostDown = 6 * time.Second
	for _, scale := range []float64{1, 10, 20, 60} {
		for _, s := range settings {
			if s.Env == "ROLLWAVE_REBOOT_GRACE" {
				if got := realDuration(s.Virtual, scale, s.Floor); float64(got)*scale <= float64(hostDown) {
					t.Errorf("at ×%g the reboot grace is %s, %s simulated, want more than %s", scale, got, time.Duration(float64(got)*scale), hostDown)
				}
			}
		}
	}
}

func TestEnvFlagAcceptsWorkerSettingsOnly(t *testing.T) {
	tests := []struct {
		kv      string
		wantErr string
	}{
		{"ROLLWAVE_HEALTH_GATE=false", ""},
		{"ROLLWAVE_CLUSTER_POLICIES={\"prod\":{\"maxOutOfService\":\"2\"}}", ""},
		{"ROLLWAVE_HEALTH_GATE", "want KEY=VALUE"},
		{"=x", "want KEY=VALUE"},
		{"AWS_REGION=eu-west-1", "only worker settings"},
		{"ROLLWAVE_PREFIX=other", "the demo names the queues"},
		{"ROLLWAVE_MAX_OUT_OF_SERVICE=2", "use -max-out-of-service"},
	}
	for _, tt := range tests {
		t.Run(tt.kv, func(t *testing.T) {
			var e envFlag
			err := e.Set(tt.kv)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Set(%q) = %v, want nil", tt.kv, err)
			case tt.wantErr == "" && !cmp.Equal([]string(e), []string{tt.kv}):
				t.Errorf("after Set(%q) env = %q, want it", tt.kv, e)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Set(%q) = %v, want an error saying %q", tt.kv, err, tt.wantErr)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	t.Run("-h prints the usage and asks for exit 0", func(t *testing.T) {
		var out strings.Builder
		_, err := parseFlags([]string{"-h"}, &out)
		if err == nil || !strings.Contains(err.Error(), "help requested") {
			t.Fatalf("parseFlags(-h) = %v, want flag.ErrHelp", err)
		}
		for _, f := range []string{"--env KEY=VALUE", "--replicas N", "--max-out-of-service LIMIT", "--time-scale FACTOR", "--quick-moto"} {
			if !strings.Contains(out.String(), f) {
				t.Errorf("usage does not list %s:\n%s", f, out.String())
			}
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
				t.Errorf("usage line %q shows a flag as -name; the README and the rollwave CLI write --name", line)
			}
			if n := strings.Count(line, "(default"); n > 1 {
				t.Errorf("usage line %q gives its default %d times", line, n)
			}
		}
	})
	t.Run("the emulator defaults to the environment's, shown once", func(t *testing.T) {
		t.Setenv(harness.EmulatorEnv, "http://127.0.0.1:4566")
		var out strings.Builder
		if _, err := parseFlags([]string{"-h"}, &out); err == nil {
			t.Fatal("parseFlags(-h) = nil, want flag.ErrHelp")
		}
		if strings.Contains(out.String(), "4566 (default") || strings.Contains(out.String(), "(default http://127.0.0.1:4566") {
			t.Errorf("usage prints the environment's emulator as a second default:\n%s", out.String())
		}
		o, err := parseFlags([]string{"--root", "."}, new(strings.Builder))
		if err != nil || o.emulator != "http://127.0.0.1:4566" {
			t.Errorf("parseFlags with %s set: emulator %q, %v; want the environment's", harness.EmulatorEnv, o.emulator, err)
		}
		o, err = parseFlags([]string{"--root", ".", "--emulator", "http://localhost:5000"}, new(strings.Builder))
		if err != nil || o.emulator != "http://localhost:5000" {
			t.Errorf("parseFlags --emulator: emulator %q, %v; want the flag's over the environment's", o.emulator, err)
		}
	})
	t.Run("every bad flag is reported at once", func(t *testing.T) {
		_, err := parseFlags([]string{"-root", ".", "-time-scale", "0", "-max-out-of-service", "0%", "-replicas", "0"}, new(strings.Builder))
		for _, want := range []string{"--time-scale", "--max-out-of-service", "--replicas"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("parseFlags = %v, want it to name %s", err, want)
			}
		}
	})
	t.Run("settings and replicas are kept", func(t *testing.T) {
		o, err := parseFlags([]string{"-root", ".", "-max-out-of-service", "20%", "-replicas", "2",
			"-env", "ROLLWAVE_HEALTH_GATE=false", "-env", "ROLLWAVE_CONCURRENCY=8"}, new(strings.Builder))
		if err != nil {
			t.Fatal(err)
		}
		got := []any{o.limit, o.replicas, []string(o.env)}
		want := []any{"20%", 2, []string{"ROLLWAVE_HEALTH_GATE=false", "ROLLWAVE_CONCURRENCY=8"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parseFlags (-want +got):\n%s", diff)
		}
	})
}

func TestParseCPUSeconds(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50 ticks.
	stat := "4242 (moto (server) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 100 1000000 500 18446744073709551615"
	if got, ok := parseCPUSeconds(stat); !ok || got != 3 {
		t.Errorf("parseCPUSeconds = %g, %v, want 3, true", got, ok)
	}
	if _, ok := parseCPUSeconds("4242 (short) S 1"); ok {
		t.Errorf("parseCPUSeconds of a short line = ok, want not ok")
	}
}
