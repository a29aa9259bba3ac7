package main

import (
	"flag"
	"os"
	"testing"

	"github.com/rollwave/rollwave/tools/harness"
)

// TestMain runs four tests at a time unless -test.parallel says otherwise (go test's default is
// the number of cores): the tests that start a stack (moto, fleetsim, the workers) mostly wait
// for it.
func TestMain(m *testing.M) {
	flag.Parse()
	harness.SetParallel(4)
	os.Exit(m.Run())
}
