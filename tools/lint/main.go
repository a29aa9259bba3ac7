// Command lint is the repository's linter: go vet's own analyzers and a few more, run by
// `go vet -vettool` so that Go's build cache holds both the packages it reads and its findings.
// `make lint` runs it over every module of go.work; docs/decisions/linting.md says why it is
// this binary and not golangci-lint, and CONTRIBUTING.md what each analyzer is for.
//
// A finding is fixed. Where an analyzer is wrong about one line, that line (or the line above
// it) carries `//nolint:NAME // reason`, NAME being the analyzer's group below (govet,
// staticcheck, unused, errcheck, errorlint, bodyclose, noctx, ineffassign, boundary): the same
// directive golangci-lint reads.
package main

import (
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/unitchecker"
)

func main() {
	unitchecker.Main(analyzers()...)
}

// analyzers returns every analyzer the linter runs, each wrapped so that a //nolint directive
// naming its group silences it on that line.
func analyzers() []*analysis.Analyzer {
	var all []*analysis.Analyzer
	for _, g := range groups() {
		for _, a := range g.analyzers {
			all = append(all, honourNolint(g.name, a))
		}
	}
	return all
}
