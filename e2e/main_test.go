package e2e_test

import (
	"testing"

	"github.com/rollwave/rollwave/tools/harness"
)

// TestMain runs four tests at a time unless -test.parallel says otherwise (go test's default is
// the number of cores). Each test starts its own fleetsim and workers and spends most of its time
// waiting for the simulated fleet: on 2 cores the suite took 409 s two at a time and 234 s four
// at a time, with a load average below 2.
func TestMain(m *testing.M) { harness.RunParallel(m, 4) }
