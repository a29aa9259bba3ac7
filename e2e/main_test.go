package e2e_test

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// parallelTests is how many tests run at once when -test.parallel does not say (go test's default
// is the number of cores). Each test starts its own moto, fleetsim and workers and spends most of
// its time waiting for the simulated fleet, not computing: on 2 cores the suite took 409 s two
// at a time and 232 s four at a time, with a load average below 2.
const parallelTests = 4

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(parallelTests)); err != nil {
			panic(err) // the testing package always defines the flag
		}
	}
	os.Exit(m.Run())
}
