package main

import (
	"go/ast"
	"go/token"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// nolintDirective is `//nolint:a,b // reason`: the names of the groups it silences, then why.
var nolintDirective = regexp.MustCompile(`^//\s*nolint:([a-z0-9_,-]+)`)

// honourNolint returns a as it is but for its reports: one on a line that carries, or follows a
// line that holds only, a //nolint directive naming group is dropped.
func honourNolint(group string, a *analysis.Analyzer) *analysis.Analyzer {
	w := *a
	w.Run = func(pass *analysis.Pass) (any, error) {
		silenced := nolintLines(pass, group)
		p := *pass
		p.Report = func(d analysis.Diagnostic) {
			pos := pass.Fset.Position(d.Pos)
			if !silenced[fileLine{pos.Filename, pos.Line}] {
				pass.Report(d)
			}
		}
		return a.Run(&p)
	}
	return &w
}

type fileLine struct {
	file string
	line int
}

// nolintLines returns the lines of pass's files that a //nolint directive naming group silences:
// the directive's own line and, when no code stands before it on its line, the line after it.
func nolintLines(pass *analysis.Pass, group string) map[fileLine]bool {
	lines := map[fileLine]bool{}
	for _, f := range pass.Files {
		var code map[int]int // line -> column of the first code there, built when a directive needs it
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				m := nolintDirective.FindStringSubmatch(c.Text)
				if m == nil || !slices.Contains(strings.Split(m[1], ","), group) {
					continue
				}
				if code == nil {
					code = codeColumns(pass.Fset, f)
				}
				pos := pass.Fset.Position(c.Slash)
				lines[fileLine{pos.Filename, pos.Line}] = true
				if col, ok := code[pos.Line]; !ok || col > pos.Column {
					lines[fileLine{pos.Filename, pos.Line + 1}] = true
				}
			}
		}
	}
	return lines
}

// codeColumns returns, for each line of f where a piece of code starts or ends, the first column
// at which one does.
func codeColumns(fset *token.FileSet, f *ast.File) map[int]int {
	cols := map[int]int{}
	note := func(p token.Pos) {
		pos := fset.Position(p)
		if c, ok := cols[pos.Line]; !ok || pos.Column < c {
			cols[pos.Line] = pos.Column
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n.(type) {
		case nil, *ast.CommentGroup, *ast.Comment:
			return false
		}
		note(n.Pos())
		note(n.End() - 1)
		return true
	})
	return cols
}

// posOf returns the position in pass's files of offset in the file named filename.
func posOf(pass *analysis.Pass, filename string, offset int) (token.Pos, bool) {
	for _, f := range pass.Files {
		tf := pass.Fset.File(f.Pos())
		if tf != nil && tf.Name() == filename && offset <= tf.Size() {
			return tf.Pos(offset), true
		}
	}
	return token.NoPos, false
}
