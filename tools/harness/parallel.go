package harness

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// RunParallel is a TestMain that runs the package's tests n at a time (-test.parallel) unless the
// command line says how many, then exits with their result. It is for packages whose tests each
// start their own processes (fleetsim, workers) and mostly wait for the simulated fleet rather
// than compute, so that more of them than the machine has cores can run at once; go test's
// default is the number of cores.
func RunParallel(m *testing.M, n int) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic(err) // the testing package defines the flag before TestMain runs
		}
	}
	os.Exit(m.Run())
}
