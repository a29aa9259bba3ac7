//go:build !linux

package main

import "syscall"

// sysProcAttr puts a child in its own process group.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// detachedProcAttr puts a child in its own process group.
func detachedProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// peakRSS is only known on Linux.
func peakRSS(int) (int64, bool) { return 0, false }

// cpuSeconds is only known on Linux.
func cpuSeconds(int) (float64, bool) { return 0, false }
