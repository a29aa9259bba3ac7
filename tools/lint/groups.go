package main

import (
	"fmt"
	"regexp"
	"strings"

	"codeberg.org/polyfloyd/go-errorlint/errorlint"
	"github.com/gordonklaus/ineffassign/pkg/ineffassign"
	"github.com/kisielk/errcheck/errcheck"
	"github.com/sonatard/noctx"
	"github.com/timakin/bodyclose/passes/bodyclose"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/appends"
	"golang.org/x/tools/go/analysis/passes/asmdecl"
	"golang.org/x/tools/go/analysis/passes/assign"
	"golang.org/x/tools/go/analysis/passes/atomic"
	"golang.org/x/tools/go/analysis/passes/bools"
	"golang.org/x/tools/go/analysis/passes/buildtag"
	"golang.org/x/tools/go/analysis/passes/cgocall"
	"golang.org/x/tools/go/analysis/passes/composite"
	"golang.org/x/tools/go/analysis/passes/copylock"
	"golang.org/x/tools/go/analysis/passes/defers"
	"golang.org/x/tools/go/analysis/passes/directive"
	"golang.org/x/tools/go/analysis/passes/errorsas"
	"golang.org/x/tools/go/analysis/passes/framepointer"
	"golang.org/x/tools/go/analysis/passes/hostport"
	"golang.org/x/tools/go/analysis/passes/httpresponse"
	"golang.org/x/tools/go/analysis/passes/ifaceassert"
	"golang.org/x/tools/go/analysis/passes/loopclosure"
	"golang.org/x/tools/go/analysis/passes/lostcancel"
	"golang.org/x/tools/go/analysis/passes/nilfunc"
	"golang.org/x/tools/go/analysis/passes/printf"
	"golang.org/x/tools/go/analysis/passes/shift"
	"golang.org/x/tools/go/analysis/passes/sigchanyzer"
	"golang.org/x/tools/go/analysis/passes/slog"
	"golang.org/x/tools/go/analysis/passes/stdmethods"
	"golang.org/x/tools/go/analysis/passes/stdversion"
	"golang.org/x/tools/go/analysis/passes/stringintconv"
	"golang.org/x/tools/go/analysis/passes/structtag"
	"golang.org/x/tools/go/analysis/passes/testinggoroutine"
	"golang.org/x/tools/go/analysis/passes/tests"
	"golang.org/x/tools/go/analysis/passes/timeformat"
	"golang.org/x/tools/go/analysis/passes/unmarshal"
	"golang.org/x/tools/go/analysis/passes/unreachable"
	"golang.org/x/tools/go/analysis/passes/unsafeptr"
	"golang.org/x/tools/go/analysis/passes/unusedresult"
	"golang.org/x/tools/go/analysis/passes/waitgroup"
	"honnef.co/go/tools/analysis/lint"
	"honnef.co/go/tools/simple"
	"honnef.co/go/tools/staticcheck"
	"honnef.co/go/tools/stylecheck"
	"honnef.co/go/tools/unused"

	"github.com/rollwave/rollwave/tools/lint/boundary"
)

// group is a set of analyzers that one //nolint name silences, with the reason it is enabled.
type group struct {
	name      string
	why       string
	analyzers []*analysis.Analyzer
}

// groups is the deliberate set: each finds a kind of bug this code can have, none is about taste.
// The names are golangci-lint's, so a //nolint directive reads the same to both.
func groups() []group {
	return []group{
		{"govet", "the compiler's own suspicious-construct checks: go vet's analyzers, all of them, as go vet runs them", []*analysis.Analyzer{
			appends.Analyzer, asmdecl.Analyzer, assign.Analyzer, atomic.Analyzer, bools.Analyzer,
			buildtag.Analyzer, cgocall.Analyzer, composite.Analyzer, copylock.Analyzer, defers.Analyzer,
			directive.Analyzer, errorsas.Analyzer, framepointer.Analyzer, hostport.Analyzer,
			httpresponse.Analyzer, ifaceassert.Analyzer, loopclosure.Analyzer, lostcancel.Analyzer,
			nilfunc.Analyzer, printf.Analyzer, shift.Analyzer, sigchanyzer.Analyzer, slog.Analyzer,
			stdmethods.Analyzer, stdversion.Analyzer, stringintconv.Analyzer, structtag.Analyzer,
			testinggoroutine.Analyzer, tests.Analyzer, timeformat.Analyzer, unmarshal.Analyzer,
			unreachable.Analyzer, unsafeptr.Analyzer, unusedresult.Analyzer, waitgroup.Analyzer,
		}},
		{"staticcheck", "bugs, deprecated APIs and simplifications the compiler does not report", staticcheckAnalyzers()},
		{"unused", "dead code misleads the reader about what the program does", []*analysis.Analyzer{unusedAnalyzer}},
		{"errcheck", "an error dropped on the floor is a failure nobody hears about", []*analysis.Analyzer{errcheckAnalyzer}},
		{"ineffassign", "an assignment never read is usually a check that was meant to use it", []*analysis.Analyzer{ineffassign.Analyzer}},
		{"errorlint", "errors are compared with errors.Is/As and wrapped with %w, so wrapping never breaks a check", []*analysis.Analyzer{errorlint.NewAnalyzer()}},
		{"bodyclose", "an HTTP response body left open leaks a connection", []*analysis.Analyzer{bodyclose.Analyzer}},
		{"noctx", "an HTTP request without a context cannot be cancelled by SIGTERM", []*analysis.Analyzer{noctxAnalyzer}},
		{"boundary", "the architecture's import boundaries: the pure domain, services apart, tools out of what ships", []*analysis.Analyzer{boundary.Analyzer}},
	}
}

// staticcheckOff are the staticcheck checks left out: the quick fixes (QF*), which rewrite working
// code into an equivalent form, and the style checks staticcheck itself leaves off by default.
var staticcheckOff = map[string]bool{"ST1000": true, "ST1003": true, "ST1016": true, "ST1020": true, "ST1021": true, "ST1022": true}

// staticcheckAnalyzers returns staticcheck's checks (SA), its simplifications (S) and its style
// checks (ST) less staticcheckOff: golangci-lint's "staticcheck" with the same checks.
func staticcheckAnalyzers() []*analysis.Analyzer {
	var as []*analysis.Analyzer
	for _, set := range [][]*lint.Analyzer{staticcheck.Analyzers, simple.Analyzers, stylecheck.Analyzers} {
		for _, a := range set {
			if !staticcheckOff[a.Analyzer.Name] {
				as = append(as, a.Analyzer)
			}
		}
	}
	return as
}

// unusedAnalyzer reports what staticcheck's unused finds never used in a package and its tests.
// Exported identifiers count as used (another module may use them), as in golangci-lint.
var unusedAnalyzer = &analysis.Analyzer{
	Name:     "unused",
	Doc:      "report unused constants, variables, functions and types",
	Requires: []*analysis.Analyzer{unused.Analyzer.Analyzer},
	Run: func(pass *analysis.Pass) (any, error) {
		res := pass.ResultOf[unused.Analyzer.Analyzer].(unused.Result)
		used := map[string]bool{}
		for _, o := range res.Used {
			used[fmt.Sprintf("%s %d %s", o.Position.Filename, o.Position.Line, o.Name)] = true
		}
		for _, o := range res.Unused {
			if o.Kind == "type param" || used[fmt.Sprintf("%s %d %s", o.Position.Filename, o.Position.Line, o.Name)] {
				continue
			}
			pos, ok := posOf(pass, o.Position.Filename, o.Position.Offset)
			if !ok {
				continue // not in this package's files (a cgo or generated file)
			}
			pass.Reportf(pos, "%s %s is unused", o.Kind, o.Name)
		}
		return nil, nil
	},
}

// noctxAnalyzer is noctx less its checks of processes and listeners: ours (the test harness, the
// demo, fleetsim) live as long as their owner and are stopped explicitly, where a context would
// kill them when it ends. Its HTTP request checks stay.
var noctxAnalyzer = &analysis.Analyzer{
	Name:     "noctx",
	Doc:      noctx.Analyzer.Doc,
	Requires: noctx.Analyzer.Requires,
	Run: func(pass *analysis.Pass) (any, error) {
		p := *pass
		p.Report = func(d analysis.Diagnostic) {
			if !noctxProcessOrListener.MatchString(d.Message) {
				pass.Report(d)
			}
		}
		return noctx.Analyzer.Run(&p)
	},
}

var noctxProcessOrListener = regexp.MustCompile(`^(os/exec\.Command|net\.Listen) must not be called`)

// errcheckAnalyzer reports errors dropped without a word, less errcheck's own defaults and the
// calls whose error the caller has nothing better to do with: printing, closing, flushing,
// removing a file, setting the environment (golangci-lint's std-error-handling exclusions).
var errcheckAnalyzer = &analysis.Analyzer{
	Name:     "errcheck",
	Doc:      "report errors that are returned and then dropped",
	Requires: []*analysis.Analyzer{errcheck.Analyzer},
	Run: func(pass *analysis.Pass) (any, error) {
		res := pass.ResultOf[errcheck.Analyzer].(errcheck.Result)
		for _, e := range res.UncheckedErrors {
			if stdErrorHandling.MatchString(e.FuncName) || stdErrorHandling.MatchString(e.SelectorName) {
				continue
			}
			pos, ok := posOf(pass, e.Pos.Filename, e.Pos.Offset)
			if !ok {
				continue
			}
			name := e.SelectorName
			if name == "" {
				name = e.FuncName
			}
			pass.Reportf(pos, "error return value of %s is not checked", strings.TrimSpace(name))
		}
		return nil, nil
	},
}

var stdErrorHandling = regexp.MustCompile(`^((os\.)?std(out|err)\..*|.*Close|.*Flush|os\.Remove(All)?|.*print(f|ln)?|os\.(Un)?Setenv)$`)
