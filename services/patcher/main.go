// Command patcher stages Bottlerocket updates while an instance still serves traffic (`apiclient
// update apply`, no reboot) and, once the drainer has drained the instance, reboots it exactly once
// (`apiclient reboot`). It is the intake of every job: the scanner's and a person's.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "patcher:", err)
		os.Exit(1)
	}
}
