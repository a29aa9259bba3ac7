package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// modulePrefix is the import path prefix of rollwave's own code, whose bodies the analysis walks.
const modulePrefix = "github.com/rollwave/rollwave/"

// sdkServicePrefix is the import path prefix of the AWS SDK's service clients.
const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// iamPrefix maps an SDK service package name to its IAM action prefix where they differ.
var iamPrefix = map[string]string{"eventbridge": "events"}

// iamAction maps an operation to the IAM action that authorises it where they differ: SQS's batch
// operations are authorised by the action of the single one.
var iamAction = map[string]string{"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage"}

// SDKCalls returns, for each main package matched by patterns (loaded from dir), the IAM actions
// of the AWS SDK client operations reachable from it, sorted ("ecs:ListTasks", "sqs:SendMessage").
//
// Reachability is computed over rollwave's own code (every function or method referenced, called
// or taken as a value, from a reachable body, closures included) starting at the package's
// functions, so an adapter method that a service never uses does not count. A call through an
// interface reaches every implementation of that interface among the loaded rollwave types and
// the SDK's *Client types: that is how `c.api.ListContainerInstances` on a narrow seam becomes
// ecs:ListContainerInstances. Operations the SDK makes on its own (credential providers: STS,
// SSO) are not counted: they run under the task's credentials chain, not the task role's policy.
func SDKCalls(dir string, patterns ...string) (map[string][]string, error) {
	fset := token.NewFileSet()
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps |
			packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo,
		Dir:  dir,
		Fset: fset,
		// Only rollwave's bodies are walked: drop everyone else's to type-check in seconds.
		ParseFile: func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
			if err != nil || isRollwaveFile(filename) {
				return f, err
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok {
					fd.Body = nil
				}
			}
			return f, nil
		},
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", patterns, err)
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		if strings.HasPrefix(p.PkgPath, modulePrefix) {
			for _, e := range p.Errors {
				errs = append(errs, e.Error())
			}
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("load %v: %s", patterns, strings.Join(errs, "; "))
	}
	out := map[string][]string{}
	for _, root := range pkgs {
		if root.Name != "main" {
			return nil, fmt.Errorf("%s is not a main package", root.PkgPath)
		}
		a := newAnalysis(root)
		out[root.PkgPath] = a.actions()
	}
	return out, nil
}

func isRollwaveFile(filename string) bool {
	// Module cache paths carry the module path; the workspace's own files do not.
	return !strings.Contains(filepath.ToSlash(filename), "/pkg/mod/")
}

// analysis is the reachability walk for one main package.
type analysis struct {
	root   *packages.Package
	bodies map[*types.Func]*ast.FuncDecl
	info   map[*types.Func]*types.Info
	// concrete holds every named non-interface type of rollwave's packages and every SDK *Client.
	concrete []types.Type
	seen     map[*types.Func]bool
	calls    map[string]bool
}

func newAnalysis(root *packages.Package) *analysis {
	a := &analysis{
		root: root, bodies: map[*types.Func]*ast.FuncDecl{}, info: map[*types.Func]*types.Info{},
		seen: map[*types.Func]bool{}, calls: map[string]bool{},
	}
	packages.Visit([]*packages.Package{root}, nil, func(p *packages.Package) {
		sdk := strings.HasPrefix(p.PkgPath, sdkServicePrefix) && !strings.Contains(p.PkgPath, "/internal/") &&
			strings.Count(strings.TrimPrefix(p.PkgPath, sdkServicePrefix), "/") == 0
		if sdk {
			if obj, ok := p.Types.Scope().Lookup("Client").(*types.TypeName); ok {
				a.concrete = append(a.concrete, types.NewPointer(obj.Type()))
			}
			return
		}
		if !strings.HasPrefix(p.PkgPath, modulePrefix) {
			return
		}
		for _, f := range p.Syntax {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				if fn, ok := p.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					a.bodies[fn] = fd
					a.info[fn] = p.TypesInfo
				}
			}
		}
		scope := p.Types.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok || types.IsInterface(tn.Type()) {
				continue
			}
			a.concrete = append(a.concrete, tn.Type(), types.NewPointer(tn.Type()))
		}
	})
	return a
}

// actions walks from every function of the main package and returns the SDK operations reached.
func (a *analysis) actions() []string {
	for fn, fd := range a.bodies {
		if fn.Pkg() == a.root.Types && fd.Recv == nil {
			a.visit(fn)
		}
	}
	var out []string
	for c := range a.calls {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func (a *analysis) visit(fn *types.Func) {
	fn = fn.Origin()
	if a.seen[fn] {
		return
	}
	a.seen[fn] = true
	if op, ok := sdkOperation(fn); ok {
		a.calls[op] = true
		return
	}
	if recv := fn.Signature().Recv(); recv != nil && types.IsInterface(recv.Type()) {
		a.dispatch(fn, recv.Type())
		return
	}
	fd, ok := a.bodies[fn]
	if !ok {
		return
	}
	info := a.info[fn]
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		if callee, ok := info.Uses[id].(*types.Func); ok {
			a.visit(callee)
		}
		return true
	})
}

// dispatch visits the method named like m of every concrete type implementing the interface.
func (a *analysis) dispatch(m *types.Func, iface types.Type) {
	it, ok := iface.Underlying().(*types.Interface)
	if !ok {
		return
	}
	for _, t := range a.concrete {
		if !types.Implements(t, it) {
			continue
		}
		obj, _, _ := types.LookupFieldOrMethod(t, true, m.Pkg(), m.Name())
		if impl, ok := obj.(*types.Func); ok {
			a.visit(impl)
		}
	}
}

// sdkOperation reports whether fn is an operation method of an SDK service *Client, and its IAM
// action.
func sdkOperation(fn *types.Func) (string, bool) {
	recv := fn.Signature().Recv()
	if recv == nil || fn.Pkg() == nil || !fn.Exported() {
		return "", false
	}
	path := fn.Pkg().Path()
	svc, ok := strings.CutPrefix(path, sdkServicePrefix)
	if !ok || strings.Contains(svc, "/") {
		return "", false
	}
	ptr, ok := recv.Type().(*types.Pointer)
	if !ok {
		return "", false
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Name() != "Client" || fn.Name() == "Options" {
		return "", false
	}
	prefix := svc
	if p, ok := iamPrefix[svc]; ok {
		prefix = p
	}
	action := prefix + ":" + fn.Name()
	if a, ok := iamAction[action]; ok {
		action = a
	}
	return action, true
}
