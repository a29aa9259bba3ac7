package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// sysProcAttr puts a child in its own process group and kills it if the demo dies without
// stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// detachedProcAttr puts a child in its own process group, to live on after the demo exits.
func detachedProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// peakRSS returns the process's peak resident set size in bytes: VmHWM of /proc/<pid>/status.
func peakRSS(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kB int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kB); err != nil {
				return 0, false
			}
			return kB * 1024, true
		}
	}
	return 0, false
}

// cpuSeconds returns the CPU time the process has used so far, user and system: utime + stime of
// /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	return parseCPUSeconds(string(b))
}
