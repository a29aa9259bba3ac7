package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/go/packages"
)

// configurationDoc is the table of every worker's environment variables.
const configurationDoc = "docs/configuration.md"

var (
	settingName = regexp.MustCompile(`^ROLLWAVE_[A-Z0-9_]+$`)
	docName     = regexp.MustCompile("`(ROLLWAVE_[A-Z0-9_]+)`")
)

// workerSettings returns, per worker, the ROLLWAVE_ variables its code names: every string
// literal of that form in the non-test files of the worker's package and of each rollwave package
// it imports, directly or not. A package is all or nothing (the scanner does not import
// shared/policy, the others read it in loadConfig), which is exact for how the workers read
// their settings: with envconfig and getenv, by literal names. shared/envconfig itself is left
// out: its Settings list names every setting so that a misspelling can be caught (CheckNames),
// which is not reading them.
func workerSettings(t *testing.T) map[string][]string {
	t.Helper()
	workers := []string{"scanner", "patcher", "drainer", "verifier"}
	var patterns []string
	for _, w := range workers {
		patterns = append(patterns, "./services/"+w)
	}
	pkgs, err := packages.Load(&packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps,
		Dir:  repoRoot,
	}, patterns...)
	if err != nil {
		t.Fatalf("load workers: %v", err)
	}
	fset := token.NewFileSet()
	literals := map[string][]string{} // by package path
	names := func(p *packages.Package) []string {
		if got, ok := literals[p.PkgPath]; ok {
			return got
		}
		if p.PkgPath == "github.com/rollwave/rollwave/shared/envconfig" {
			return nil
		}
		seen := map[string]bool{}
		for _, file := range p.GoFiles {
			f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse %s: %v", file, err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && settingName.MatchString(s) {
						seen[s] = true
					}
				}
				return true
			})
		}
		out := sortedKeys(seen)
		literals[p.PkgPath] = out
		return out
	}
	out := map[string][]string{}
	for _, root := range pkgs {
		if len(root.Errors) > 0 {
			t.Fatalf("load %s: %v", root.PkgPath, root.Errors)
		}
		seen := map[string]bool{}
		packages.Visit([]*packages.Package{root}, nil, func(p *packages.Package) {
			if !strings.HasPrefix(p.PkgPath, modulePrefix) {
				return
			}
			for _, n := range names(p) {
				seen[n] = true
			}
		})
		out[filepath.Base(root.PkgPath)] = sortedKeys(seen)
	}
	if len(out) != len(workers) {
		t.Fatalf("loaded %d workers, want %d", len(out), len(workers))
	}
	return out
}

// documentedSettings returns, per worker, the variables docs/configuration.md lists for it: each
// table row whose first cell names ROLLWAVE_ variables and whose second cell names the workers.
func documentedSettings(t *testing.T) map[string][]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, configurationDoc))
	if err != nil {
		t.Fatal(err)
	}
	byWorker := map[string]map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "| `ROLLWAVE_") || len(cells) < 4 {
			continue
		}
		vars := docName.FindAllStringSubmatch(cells[1], -1)
		for _, w := range strings.Split(cells[2], ",") {
			w = strings.TrimSpace(w)
			if byWorker[w] == nil {
				byWorker[w] = map[string]bool{}
			}
			for _, v := range vars {
				byWorker[w][v[1]] = true
			}
		}
	}
	out := map[string][]string{}
	for w, vars := range byWorker {
		out[w] = sortedKeys(vars)
	}
	return out
}

// TestConfigurationDocumentsEveryVariable fails when a worker names a ROLLWAVE_ variable that
// docs/configuration.md does not list for it, or when the table lists a variable for a worker that
// does not read it: the one page that documents every setting cannot fall behind the code.
func TestConfigurationDocumentsEveryVariable(t *testing.T) {
	code := workerSettings(t)
	doc := documentedSettings(t)
	workers := sortedKeys(code)
	if diff := cmp.Diff(workers, sortedKeys(doc)); diff != "" {
		t.Errorf("workers in the %s table (-code +doc):\n%s", configurationDoc, diff)
	}
	for _, w := range workers {
		if diff := cmp.Diff(code[w], doc[w]); diff != "" {
			t.Errorf("%s: variables the %s reads (-code, undocumented) and the table lists for it (+doc, not read):\n%s", configurationDoc, w, diff)
		}
	}
	for _, w := range []string{"patcher", "drainer", "verifier"} {
		if !contains(code[w], "ROLLWAVE_CLUSTER_POLICIES") {
			t.Errorf("the %s reads no ROLLWAVE_CLUSTER_POLICIES: the analysis no longer sees the policies", w)
		}
	}
}

func contains(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}
