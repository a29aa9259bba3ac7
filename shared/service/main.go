package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rollwave/rollwave/shared/envconfig"
)

// Run is a worker's work: it reads its settings through getenv, logs to stdout, and returns when
// ctx is cancelled (nil) or when it cannot go on (the error says why).
type Run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error

// Main is the main function of every worker, so that the four behave the same as processes:
// --version prints the release and exits 0 (Args); a misspelt ROLLWAVE_ setting, which would be
// ignored and leave its default in force, stops the worker before run (envconfig.CheckNames);
// SIGINT and SIGTERM cancel run's context, and a run that then returns nil exits 0; any other
// argument, a misspelt setting or an error from run is printed to stderr as "<name>: <error>" and
// exits 1.
func Main(name string, run Run) {
	os.Exit(main(name, os.Args[1:], os.Environ(), run, os.Getenv, os.Stdout, os.Stderr))
}

// main is Main with the process's parts as parameters, and the exit code as its result.
func main(name string, args, environ []string, run Run, getenv func(string) string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done, err := Args(name, args, stdout)
	if err == nil && !done {
		err = envconfig.CheckNames(environ)
		if err == nil {
			err = run(ctx, getenv, stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
