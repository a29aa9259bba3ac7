package main

import (
	"fmt"
	"strings"
	"time"
)

// setting is one worker setting the demo gives a duration in simulated time. Virtual is the
// production default (docs/configuration.md): the demo runs the workers with the intervals a real
// deployment would have, so the calls they make per instance do not depend on the time scale.
// Floor, when set, is the least real time a timeout gets: a timeout also covers the workers' own
// latency, which is real time on a loaded machine and does not shrink with the time scale.
type setting struct {
	Env     string
	Workers []string
	Virtual time.Duration
	Floor   time.Duration
}

// settings are the worker settings that the demo scales by the time scale.
var settings = []setting{
	{Env: "ROLLWAVE_SSM_POLL_INTERVAL", Workers: workers, Virtual: 2 * time.Second},
	{Env: "ROLLWAVE_SSM_EXPECTED", Workers: workers, Virtual: 3 * time.Second},
	{Env: "ROLLWAVE_APPLY_EXPECTED", Workers: []string{"patcher"}, Virtual: time.Minute},
	{Env: "ROLLWAVE_METRICS_INTERVAL", Workers: workers, Virtual: time.Minute},
	{Env: "ROLLWAVE_RECHECK_INTERVAL", Workers: []string{"drainer", "verifier"}, Virtual: 30 * time.Second},
	{Env: "ROLLWAVE_ADMISSION_RETRY", Workers: []string{"drainer"}, Virtual: 30 * time.Second},
	{Env: "ROLLWAVE_ADMISSION_BACKSTOP", Workers: []string{"drainer"}, Virtual: 30 * time.Second}, // the drainer's default
	{Env: "ROLLWAVE_STAGE_RECHECK", Workers: []string{"patcher"}, Virtual: time.Minute},
	{Env: "ROLLWAVE_PAUSE_REFRESH", Workers: []string{"drainer"}, Virtual: 5 * time.Second},
	{Env: "ROLLWAVE_WAITING_THRESHOLD", Workers: []string{"drainer"}, Virtual: 15 * time.Minute, Floor: time.Second},
	// The grace is the time the verifier gives a host to go down after its reboot was sent; the
	// simulated host needs its SSM delivery and shutdown (1 s + 5 s by default) first.
	{Env: "ROLLWAVE_REBOOT_GRACE", Workers: []string{"verifier"}, Virtual: time.Minute},
	{Env: "ROLLWAVE_DRAIN_TIMEOUT", Workers: []string{"drainer"}, Virtual: 25 * time.Minute, Floor: time.Minute},
	{Env: "ROLLWAVE_REBOOT_TIMEOUT", Workers: []string{"verifier"}, Virtual: 15 * time.Minute, Floor: time.Minute},
	{Env: "ROLLWAVE_SSM_TIMEOUT", Workers: []string{"verifier"}, Virtual: 2 * time.Minute, Floor: 3 * time.Second},
	{Env: "ROLLWAVE_SSM_TIMEOUT", Workers: []string{"patcher"}, Virtual: 2 * time.Minute, Floor: 3 * time.Second},
	{Env: "ROLLWAVE_APPLY_TIMEOUT", Workers: []string{"patcher"}, Virtual: 15 * time.Minute, Floor: time.Minute},
	{Env: "ROLLWAVE_SSM_TIMEOUT", Workers: []string{"scanner"}, Virtual: 5 * time.Minute, Floor: time.Minute},
}

// realDuration is virtual simulated time as real time at timeScale (simulated seconds per real
// second), never below floor and never below a millisecond (the workers refuse zero durations).
func realDuration(virtual time.Duration, timeScale float64, floor time.Duration) time.Duration {
	d := time.Duration(float64(virtual) / timeScale).Round(time.Millisecond)
	return max(d, floor, time.Millisecond)
}

// scaledEnv returns worker's settings of settings at timeScale as KEY=VALUE.
func scaledEnv(worker string, timeScale float64) []string {
	var env []string
	for _, s := range settings {
		for _, w := range s.Workers {
			if w == worker {
				env = append(env, s.Env+"="+realDuration(s.Virtual, timeScale, s.Floor).String())
			}
		}
	}
	return env
}

// reservedEnv are the worker settings the demo owns: the names it gives its queues, and the limit
// that its verdict checks the rollout against (-max-out-of-service).
var reservedEnv = map[string]string{
	"ROLLWAVE_PREFIX":             "the demo names the queues",
	"ROLLWAVE_MAX_OUT_OF_SERVICE": "use -max-out-of-service, which the summary checks the rollout against",
	"ROLLWAVE_CLUSTERS":           "the demo passes the scenario's clusters to every worker",
}

// envFlag is the repeatable -env KEY=VALUE: worker settings passed to every worker after the
// demo's own, so that they win.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

// Set accepts one ROLLWAVE_ setting that the demo does not own.
func (e *envFlag) Set(kv string) error {
	key, _, ok := strings.Cut(kv, "=")
	switch {
	case !ok || key == "":
		return fmt.Errorf("%q: want KEY=VALUE", kv)
	case !strings.HasPrefix(key, "ROLLWAVE_"):
		return fmt.Errorf("%q: only worker settings (ROLLWAVE_*) can be passed; the demo sets the AWS ones", kv)
	case reservedEnv[key] != "":
		return fmt.Errorf("%q: %s", kv, reservedEnv[key])
	}
	*e = append(*e, kv)
	return nil
}
