package harness

import (
	"flag"
	"strconv"
)

// SetParallel makes n tests of the package run at once (-test.parallel) unless the command line
// says how many; call it from TestMain after flag.Parse. It is for packages whose tests each
// start their own processes (fleetsim, workers) and mostly wait for the simulated fleet rather
// than compute, so that more of them than the machine has cores can run at once; go test's
// default is the number of cores.
func SetParallel(n int) {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if given {
		return
	}
	if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
		panic(err) // the testing package defines the flag before TestMain runs
	}
}
