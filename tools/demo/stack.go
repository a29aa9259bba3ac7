package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The files of a stack's state directory (make up).
const (
	pidsFile = "pids" // one line per process: pid, role, binary
	envFile  = "env"  // the environment for the rollwave CLI, to source
	awsFile  = "aws"  // the aws CLI with the stack's endpoints
	logsDir  = "logs" // every process's log
)

// up starts moto (or uses -emulator), fleetsim, the bootstrap and the four workers as processes
// that outlive it, records their pids in o.stateDir, writes the environment for the rollwave
// CLI and a wrapper of the aws CLI there, prints how to use them and returns. down stops them.
// The workers reach moto directly: there is no counting proxy, which would die with up.
func up(ctx context.Context, o options, environ []string, stdout io.Writer) error {
	if pids, err := readPids(o.stateDir); err == nil && len(alive(pids)) > 0 {
		return fmt.Errorf("a stack is already up (%d processes in %s): make down first", len(alive(pids)), filepath.Join(o.stateDir, pidsFile))
	}
	o.logDir = filepath.Join(o.stateDir, logsDir)
	o.detached = true
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return fmt.Errorf("create the stack's directory: %w", err)
	}
	d := &demo{o: o, out: stdout, environ: environ}
	started := false
	defer func() {
		if !started { // a stack half up is stopped whole
			d.procs.stopAll(stopGrace)
		}
	}()
	if err := d.startMoto(ctx); err != nil {
		return err
	}
	d.proxyURL = d.motoURL
	if err := d.startFleetsim(ctx); err != nil {
		return err
	}
	d.cfg = awsConfig(d.motoURL, d.fleetsimURL)
	if err := d.bootstrap(ctx); err != nil {
		return err
	}
	st, err := d.fleet.State(ctx)
	if err != nil {
		return fmt.Errorf("read fleet state: %w", err)
	}
	var clusters []string
	for _, c := range st.Clusters {
		clusters = append(clusters, c.Name)
	}
	if err := d.startWorkers(clusters); err != nil {
		return err
	}
	if err := writePids(o.stateDir, d.procs); err != nil {
		return err
	}
	env := []string{
		"AWS_REGION=" + region, "AWS_DEFAULT_REGION=" + region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=" + d.motoURL,
		"AWS_ENDPOINT_URL_ECS=" + d.fleetsimURL, "AWS_ENDPOINT_URL_SSM=" + d.fleetsimURL, "AWS_ENDPOINT_URL_EC2=" + d.fleetsimURL,
		"ROLLWAVE_PREFIX=" + prefix,
		"ROLLWAVE_CLUSTERS=" + strings.Join(clusters, ","),
		"ROLLWAVE_MAX_OUT_OF_SERVICE=" + o.limit,
		"ROLLWAVE_FLEETSIM_URL=" + d.fleetsimURL,
	}
	if err := writeStackEnv(o.stateDir, env, d.motoURL, d.fleetsimURL); err != nil {
		return err
	}
	started = true
	envPath, awsPath := filepath.Join(o.stateDir, envFile), filepath.Join(o.stateDir, awsFile)
	fmt.Fprintf(stdout, `rollwave stack up: %d processes (pids in %s), logs in %s
  AWS emulator (SQS, EventBridge, CloudWatch): %s
  fleetsim (ECS, SSM, EC2; clusters %s at time scale ×%g): %s

For the rollwave CLI, in this shell:
  . %s
  bin/rollwave status
  bin/rollwave scan
  bin/rollwave report --fleetsim "$ROLLWAVE_FLEETSIM_URL" --history --out rollout.html

For the aws CLI (Debian's aws CLI 2.9 ignores AWS_ENDPOINT_URL), the wrapper %s
gives --endpoint-url by service:
  %s sqs list-queues
  %s ecs list-container-instances --cluster %s
or by hand: aws --endpoint-url %s sqs list-queues; aws --endpoint-url %s ecs list-clusters

Go tests refuse AWS_ENDPOINT_URL in their environment: run them in another shell.
make down stops the stack.
`, len(d.procs), filepath.Join(o.stateDir, pidsFile), o.logDir, d.motoURL, strings.Join(clusters, ", "), o.timeScale, d.fleetsimURL,
		envPath, awsPath, awsPath, awsPath, clusters[0], d.motoURL, d.fleetsimURL)
	return nil
}

// down stops the processes of the stack in o.stateDir (SIGTERM to each process group, SIGKILL
// after stopGrace), newest first, and removes its pid file. A stack that is not up is no error.
func down(o options, stdout io.Writer) error {
	pids, err := readPids(o.stateDir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "rollwave stack: nothing is up (no %s)\n", filepath.Join(o.stateDir, pidsFile))
		return nil
	}
	if err != nil {
		return err
	}
	var left []string
	for i := len(pids) - 1; i >= 0; i-- {
		p := pids[i]
		if !p.running() {
			continue
		}
		if !p.stop(stopGrace) {
			left = append(left, fmt.Sprintf("%s (pid %d)", p.role, p.pid))
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("still running after SIGKILL: %s", strings.Join(left, ", "))
	}
	if err := os.Remove(filepath.Join(o.stateDir, pidsFile)); err != nil {
		return fmt.Errorf("remove the pid file: %w", err)
	}
	fmt.Fprintf(stdout, "rollwave stack down: %d processes stopped; logs kept in %s\n", len(pids), filepath.Join(o.stateDir, logsDir))
	return nil
}

// stackProcess is one line of the pid file.
type stackProcess struct {
	pid       int
	role, bin string
}

func writePids(dir string, procs children) error {
	var b strings.Builder
	for _, c := range procs {
		if c.exited() != nil {
			continue // a server start that lost its port
		}
		fmt.Fprintf(&b, "%d %s %s\n", c.cmd.Process.Pid, c.role, c.cmd.Path)
	}
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write the pid file: %w", err)
	}
	return nil
}

func readPids(dir string) ([]stackProcess, error) {
	f, err := os.Open(filepath.Join(dir, pidsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ps []stackProcess
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 3)
		if len(fields) != 3 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || pid <= 1 {
			continue
		}
		ps = append(ps, stackProcess{pid: pid, role: fields[1], bin: fields[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the pid file: %w", err)
	}
	return ps, nil
}

func alive(ps []stackProcess) []stackProcess {
	var out []stackProcess
	for _, p := range ps {
		if p.running() {
			out = append(out, p)
		}
	}
	return out
}

// running reports whether the process still runs the binary it was started from: a pid that
// ended and was reused by another program is not ours to stop. A zombie does not run.
func (p stackProcess) running() bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
	if err != nil || !strings.Contains(string(cmdline), p.bin) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndex(string(stat), ")"); i >= 0 && strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z") {
		return false
	}
	return true
}

// stop sends SIGTERM to the process's group, then SIGKILL after grace, and reports whether it
// ended. It looks every stopPoll; the look is the condition, the grace only its bound.
func (p stackProcess) stop(grace time.Duration) bool {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	if p.waitGone(grace) {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL) // whatever it left in its group
		return true
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	return p.waitGone(grace)
}

// stopPoll is how often down looks whether a process has ended.
const stopPoll = 50 * time.Millisecond

func (p stackProcess) waitGone(within time.Duration) bool {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(stopPoll)
	defer tick.Stop()
	for p.running() {
		select {
		case <-deadline.C:
			return !p.running()
		case <-tick.C:
		}
	}
	return true
}

// writeStackEnv writes the environment file, to source in a shell, and the aws CLI wrapper.
func writeStackEnv(dir string, env []string, moto, fleetsim string) error {
	var b strings.Builder
	b.WriteString("# The environment of the local rollwave stack (make up), for the rollwave CLI and AWS SDKs.\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%q\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(dir, envFile), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write the stack's environment: %w", err)
	}
	wrapper := fmt.Sprintf(`#!/bin/sh
# The aws CLI against the local rollwave stack (make up). Debian's aws CLI 2.9 ignores
# AWS_ENDPOINT_URL, so this gives --endpoint-url by service: fleetsim for ECS, SSM and EC2, the
# emulator for the rest.
. "$(dirname "$0")/%s"
case "$1" in
ecs | ssm | ec2) endpoint=%q ;;
*) endpoint=%q ;;
esac
exec aws --endpoint-url "$endpoint" "$@"
`, envFile, fleetsim, moto)
	if err := os.WriteFile(filepath.Join(dir, awsFile), []byte(wrapper), 0o755); err != nil {
		return fmt.Errorf("write the aws wrapper: %w", err)
	}
	return nil
}
