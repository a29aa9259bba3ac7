// Command rollwave is the operators' tool for a rollwave deployment: see a rollout, force an
// update of one instance, inspect and redrive the dead-letter queues, pause and resume, trigger a
// scan. `rollwave help` lists the verbs; docs/operations.md shows each with the aws CLI too.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
