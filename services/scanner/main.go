// Command scanner finds the Bottlerocket container instances of the configured ECS clusters that
// have an update, and sends one job per instance to the patcher's queue. It runs when a scan
// request arrives on its queue: from a schedule in AWS, from a person (`rollwave scan`), or from
// `make demo` locally.
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
		fmt.Fprintln(os.Stderr, "scanner:", err)
		os.Exit(1)
	}
}
