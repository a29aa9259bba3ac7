// Package boundary holds the architecture's import boundaries as an analyzer: the domain
// (shared/update) imports no AWS SDK and no I/O package, no service imports another, nothing
// shipped (services/, shared/) imports tools/, and the CLI (cmd/) reaches tools/ only through
// fleetsim's client, scenario format and in-process simulator.
package boundary

import (
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Analyzer reports each import that a rule refuses, naming the rule and why.
var Analyzer = &analysis.Analyzer{
	Name: "boundary",
	Doc:  "report imports that cross the architecture's boundaries (the pure domain, services apart, tools out of what ships)",
	Run:  run,
}

const repo = "github.com/rollwave/rollwave/"

// A rule refuses the imports under deny (a package or any below it) to the packages under from,
// except those under allow; tests are exempt unless inTests is set.
type rule struct {
	name    string
	from    []string
	deny    []string
	allow   []string
	inTests bool
	why     string
}

var services = []string{"drainer", "patcher", "scanner", "verifier"}

// Rules are the boundaries, checked in order; an import gets the first rule that refuses it.
var Rules = buildRules()

func buildRules() []rule {
	rs := []rule{{
		name: "domain-is-pure",
		from: []string{repo + "shared/update"},
		deny: []string{"github.com/aws", "net", "os", "io/ioutil", "syscall"},
		why:  "shared/update is the pure domain: AWS calls, network, files, processes and the environment belong in an adapter or the caller",
	}}
	for _, s := range services {
		r := rule{
			name: s + "-imports-no-other-service",
			from: []string{repo + "services/" + s},
			why:  "a service never imports another: move what both need into shared/",
		}
		for _, o := range services {
			if o != s {
				r.deny = append(r.deny, repo+"services/"+o)
			}
		}
		rs = append(rs, r)
	}
	return append(rs,
		rule{
			name: "tools-stay-out-of-binaries",
			from: []string{repo + "services", repo + "shared"},
			deny: []string{repo + "tools"},
			why:  "tools/ is for tests and people: a shipped binary never imports it (tests may)",
		},
		rule{
			name: "cli-reaches-tools-only-through-fleetsim-admin",
			from: []string{repo + "cmd"},
			deny: []string{repo + "tools"},
			// report --fleetsim reads a simulator through its client; plan writes a world in
			// fleetsim's scenario format and forecasts its rollout on the simulator run in
			// process. Nothing else of tools/ belongs in the CLI.
			allow: []string{repo + "tools/fleetsim/admin", repo + "tools/fleetsim/scenario", repo + "tools/fleetsim/fleet"},
			why:   "tools/ is for tests and people: the CLI imports only fleetsim's client, scenario format and in-process simulator (tools/fleetsim/admin, tools/fleetsim/scenario, tools/fleetsim/fleet)",
		},
	)
}

func run(pass *analysis.Pass) (any, error) {
	pkg := strings.TrimSuffix(pass.Pkg.Path(), "_test")
	for _, f := range pass.Files {
		test := strings.HasSuffix(pass.Fset.Position(f.Package).Filename, "_test.go")
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				continue // the type checker has already refused the file
			}
			if r, ok := refusal(pkg, imp, test); ok {
				pass.Reportf(spec.Path.Pos(), "import %q is not allowed by rule %s: %s", imp, r.name, r.why)
			}
		}
	}
	return nil, nil
}

// refusal returns the first rule that refuses pkg's import of imp, if any does.
func refusal(pkg, imp string, test bool) (rule, bool) {
	for _, r := range Rules {
		if (test && !r.inTests) || !under(pkg, r.from) || !under(imp, r.deny) || under(imp, r.allow) {
			continue
		}
		return r, true
	}
	return rule{}, false
}

// under reports whether p is one of roots or a package below one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}
