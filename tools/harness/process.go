package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// logTailLines is how many lines of each log a failed test prints.
const logTailLines = 100

// Process is a program started by the harness in its own process group, with stdout and stderr
// appended to LogPath. It is stopped when the test that started it ends; if that test failed, the
// log's path and its last lines are written to the test log.
type Process struct {
	Name    string
	LogPath string

	t    testing.TB
	bin  string
	env  []string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	err  error         // the current run's exit error, valid once done is closed
}

// StartProcess starts binPath with args. The environment is the test process's environment
// without its AWS_* variables (so a developer's profile cannot leak in), followed by env. It fails
// the test if the program cannot be started.
func StartProcess(t testing.TB, name, binPath string, env []string, args ...string) *Process {
	t.Helper()
	p, err := startProcess(t, logDir(t), name, binPath, env, args...)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.Stop() // stopped at the test's end: how it exited is in its log, reported on failure
		if t.Failed() {
			p.reportLog(t)
		}
	})
	return p
}

func startProcess(t testing.TB, dir, name, binPath string, env []string, args ...string) (*Process, error) {
	p := &Process{
		Name:    name,
		LogPath: filepath.Join(dir, name+".log"),
		t:       t,
		bin:     binPath,
		env:     append(processEnv(), env...),
		args:    args,
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Process) start() error {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "--- harness: %s %s %s\n", time.Now().Format(time.RFC3339Nano), p.bin, strings.Join(p.args, " "))

	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so that stopping reaches the children too; SIGKILL when the test
	// binary dies, so that a panicking test leaves nothing behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if p.done == done {
			p.err = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// spawn starts cmd from one OS thread that never exits: Pdeathsig fires when the thread that
// started the child exits, not the process, and Go may retire threads.
func spawn(cmd *exec.Cmd) error {
	spawnerOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the test binary
			for req := range spawnCh {
				req.result <- req.cmd.Start()
			}
		}()
	})
	result := make(chan error, 1)
	spawnCh <- spawnReq{cmd: cmd, result: result}
	return <-result
}

type spawnReq struct {
	cmd    *exec.Cmd
	result chan error
}

var (
	spawnerOnce sync.Once
	spawnCh     chan spawnReq
)

// processEnv is the environment of the test binary without AWS settings.
func processEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *Process) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	_, done := p.current()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the process group and waits until the process has exited: a crash,
// as far as the program can tell.
func (p *Process) Kill() {
	cmd, done := p.current()
	select {
	case <-done:
		return
	default:
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Stop sends SIGTERM to the process group, waits up to 5 s for the process to exit and then
// sends SIGKILL. It returns the exit error of the process (nil after a clean exit, or when the
// process had already exited cleanly).
func (p *Process) Stop() error {
	cmd, done := p.current()
	select {
	case <-done:
		return p.exitErr()
	default:
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// Children left in the group (if any) do not outlive the test.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return p.exitErr()
}

// Restart kills the process if it still runs (SIGKILL) and starts it again with the same
// binary, environment and arguments, appending to the same log.
func (p *Process) Restart() {
	p.t.Helper()
	if p.Running() {
		p.Kill()
	}
	if err := p.start(); err != nil {
		p.t.Fatalf("restart %s: %v", p.Name, err)
	}
}

// Wait blocks until the process exits or ctx is done. It returns the process's exit error
// (nil for exit status 0) or ctx's error.
func (p *Process) Wait(ctx context.Context) error {
	_, done := p.current()
	select {
	case <-done:
		return p.exitErr()
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", p.Name, ctx.Err())
	}
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Log returns the content of the process's log so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.LogPath, err)
	}
	return string(b)
}

func (p *Process) reportLog(t testing.TB) {
	t.Logf("%s log: %s\n%s", p.Name, p.LogPath, tail(p.LogPath, logTailLines))
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(open %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	logDirsMu sync.Mutex
	logDirs   = map[testing.TB]string{}
)

// logDir returns the directory that holds the logs of t's processes. It is removed when t
// passes and kept when t fails, so that the paths printed by the cleanup stay readable.
func logDir(t testing.TB) string {
	t.Helper()
	logDirsMu.Lock()
	defer logDirsMu.Unlock()
	if dir, ok := logDirs[t]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "rollwave-"+safeName(t.Name())+"-")
	if err != nil {
		t.Fatalf("create log dir: %v", err)
	}
	logDirs[t] = dir
	t.Cleanup(func() { // registered first, so it runs after the processes' cleanups
		logDirsMu.Lock()
		delete(logDirs, t)
		logDirsMu.Unlock()
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("remove log dir: %v", err)
		}
	})
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
