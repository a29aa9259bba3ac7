package main

import (
	"testing"

	"github.com/rollwave/rollwave/tools/harness"
)

// TestMain runs four tests at a time unless -test.parallel says otherwise (go test's default is
// the number of cores): the tests that start a stack (moto, fleetsim, the workers) mostly wait
// for it. 138 s instead of about 200 s on 2 cores.
func TestMain(m *testing.M) { harness.RunParallel(m, 4) }
