package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// logFieldMethods are zerolog's field methods whose first argument is the key.
var logFieldMethods = map[string]bool{
	"Str": true, "Strs": true, "Stringer": true, "Int": true, "Int64": true, "Ints": true, "Uint": true,
	"Float64": true, "Bool": true, "Dur": true, "Time": true, "AnErr": true, "Any": true, "Interface": true,
	"RawJSON": true, "Dict": true,
}

// logLevelMethods start a zerolog event or context: a chain of field calls that reaches one of
// them is a log line's.
var logLevelMethods = map[string]bool{
	"Info": true, "Warn": true, "Debug": true, "Error": true, "Trace": true, "With": true, "WithLevel": true, "Log": true,
}

// logVariables are the names the code gives to a zerolog event or logger held in a variable.
var logVariables = map[string]bool{"ev": true, "log": true, "logger": true, "l": true}

// isLogChain reports whether x, the receiver of a field call, is a zerolog event or context.
func isLogChain(x ast.Expr) bool {
	for {
		switch e := x.(type) {
		case *ast.CallExpr:
			sel, ok := e.Fun.(*ast.SelectorExpr)
			if !ok {
				if id, ok := e.Fun.(*ast.Ident); ok && logVariables[id.Name] {
					return true // ev(l.Info()) in shared/queue
				}
				return false
			}
			if logLevelMethods[sel.Sel.Name] {
				return true
			}
			x = sel.X
		case *ast.SelectorExpr:
			x = e.X
		case *ast.Ident:
			return logVariables[e.Name]
		default:
			return false
		}
	}
}

// TestLogKeysAreSnakeCase reads every log field that the workers, the shared module and the CLI
// write and holds its key to the vocabulary of docs/architecture.md ("Logs"): snake_case.
func TestLogKeysAreSnakeCase(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	checked := 0
	for _, dir := range []string{"services", "shared", "cmd"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !logFieldMethods[sel.Sel.Name] || !isLogChain(sel.X) {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				key, _ := strconv.Unquote(lit.Value)
				checked++
				if !snake.MatchString(key) {
					t.Errorf("%s: log key %q is not snake_case", fset.Position(lit.Pos()), key)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Errorf("checked %d log keys, want the many the code writes: the walk finds none", checked)
	}
}
