package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a child may take to exit after SIGTERM before it is killed.
const stopGrace = 10 * time.Second

// child is a process the demo started, in its own process group so that stopping it stops
// whatever it started (moto's Python workers, for instance).
type child struct {
	// name names the log; role is what the process is ("drainer" for each replica of it).
	name, role, log string
	cmd             *exec.Cmd
	done            chan struct{}
	err             error
}

// startChild starts bin with args and env as role, its stdout and stderr appended to
// logDir/name.log. A detached child outlives the demo; any other is killed when the demo dies.
func startChild(name, role, logDir, bin string, detached bool, env []string, args ...string) (*child, error) {
	path := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	cmd.SysProcAttr = sysProcAttr()
	if detached {
		cmd.SysProcAttr = detachedProcAttr()
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, role: role, log: path, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// exited returns an error when the child has exited, nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%w); log: %s", c.name, c.err, c.log)
	default:
		return nil
	}
}

// stop sends SIGTERM to the child's process group and SIGKILL when it has not exited after
// grace. It returns once the child has exited.
func (c *child) stop(grace time.Duration) {
	if c.exited() != nil {
		return
	}
	pgid := -c.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-c.done
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL) // anything the child left behind in its group
}

// children stops in reverse order of start.
type children []*child

func (cs children) stopAll(grace time.Duration) {
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].stop(grace)
	}
}

// firstExited returns the first child that exited, as an error.
func (cs children) firstExited() error {
	var errs []error
	for _, c := range cs {
		if err := c.exited(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitUntil polls cond every interval until it returns true, ctx ends or a child exits.
func waitUntil(ctx context.Context, what string, interval time.Duration, watched children, cond func(context.Context) bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond(ctx) {
			return nil
		}
		if err := watched.firstExited(); err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100 on every Linux ABI.
const userHZ = 100

// parseCPUSeconds reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat line. The
// command name (field 2) is in parentheses and may hold spaces, so fields are counted after it.
func parseCPUSeconds(stat string) (float64, bool) {
	i := strings.LastIndex(stat, ")")
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(utime+stime) / userHZ, true
}
