package boundary_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/rollwave/rollwave/tools/lint/boundary"
)

// TestBoundary runs the analyzer over a tree laid out like the repository (testdata/src), each of
// whose imports is marked with the rule that must refuse it (`// want`); an unmarked import must
// pass. A rule that stops matching its packages, or refuses too much, fails here.
func TestBoundary(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), boundary.Analyzer,
		"github.com/rollwave/rollwave/shared/update",
		"github.com/rollwave/rollwave/shared/cluster",
		"github.com/rollwave/rollwave/services/drainer",
		"github.com/rollwave/rollwave/services/verifier",
		"github.com/rollwave/rollwave/services/scanner/lib",
		"github.com/rollwave/rollwave/cmd/rollwave",
		"github.com/rollwave/rollwave/tools/demo",
		"github.com/rollwave/rollwave/tools/fleetsim/admin",
	)
}
