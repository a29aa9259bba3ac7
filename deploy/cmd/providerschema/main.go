// Command providerschema derives a Terraform provider's schema from the jsii assembly of its CDK
// for Terraform bindings and caches it where deploy's tests read it, so that the tests, which run
// with -race, do not decode the 120 MB assembly themselves. scripts/deps.sh runs it:
//
//	go run ./cmd/providerschema -jsii ../.cache/aws-provider/provider-aws-19.65.1.jsii -out ../.cache/aws-provider/schema-19.65.1.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rollwave/rollwave/deploy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "providerschema:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("providerschema", flag.ContinueOnError)
	jsii := fs.String("jsii", "", "the .jsii assembly of the provider's CDK for Terraform bindings")
	out := fs.String("out", "", "the schema cache to write (read again when it matches the assembly)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jsii == "" || *out == "" {
		return errors.New("both -jsii and -out are required")
	}
	s, err := deploy.CachedProviderSchema(*jsii, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provider %s: %d resources, %d data sources in %s\n", s.Version, len(s.Resources), len(s.DataSources), *out)
	return nil
}
