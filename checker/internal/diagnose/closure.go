package diagnose

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// closureStart finds where a goroutine running the closure fn was
// started, in the lab's source: the go statement, or the call that took
// the function literal (wg.Go, errgroup's g.Go, a worker pool's Submit).
//
// It exists because stacks often cannot say: the race detector's
// "created at" stack and the runtime's "created by" line name the function
// that ran the go statement after inlining, so a learner's Tally inlined
// into the test reads as "started in hitcounter_test.go". The runtime names
// closures after their enclosing function and their order in it
// ("pkg.Tally.func1", "pkg.(*Search).Cheapest.func2"; "func1.1" for one
// nested in func1), which the source maps back to one literal.
func (d *diagnosis) closureStart(fn string) (Site, bool) {
	recv, name, path, ok := splitClosure(fn)
	if !ok {
		return Site{}, false
	}
	files := make([]string, 0, len(d.lab.Source))
	for f := range d.lab.Source {
		files = append(files, f)
	}
	// The learner's files first, then the tests'.
	slices.SortFunc(files, func(a, b string) int {
		if ta, tb := strings.HasSuffix(a, "_test.go"), strings.HasSuffix(b, "_test.go"); ta != tb {
			if ta {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, file := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, strings.Join(d.lab.Source[file], "\n"), parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Name.Name != name || receiverName(fd) != recv || fd.Body == nil {
				continue
			}
			var body ast.Node = fd.Body
			var lit *ast.FuncLit
			for _, n := range path {
				lits := funcLits(body)
				if n < 1 || n > len(lits) {
					return Site{}, false
				}
				lit = lits[n-1]
				body = lit.Body
			}
			line := startLine(fd.Body, lit, fset)
			return d.relSite("started by the go statement here", Frame{File: d.lab.Dir + "/" + file, Line: line}), true
		}
	}
	return Site{}, false
}

// splitClosure reads "path/pkg.(*T).M.func2.1" as receiver "T", function
// "M" and closure path [2 1].
func splitClosure(fn string) (recv, name string, path []int, ok bool) {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		fn = fn[i+1:]
	}
	_, rest, found := strings.Cut(fn, ".") // drop the package name
	if !found {
		return "", "", nil, false
	}
	if strings.HasPrefix(rest, "(") {
		end := strings.Index(rest, ").")
		if end < 0 {
			return "", "", nil, false
		}
		recv = strings.TrimPrefix(rest[1:end], "*")
		rest = rest[end+2:]
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 || !strings.HasPrefix(parts[1], "func") {
		return "", "", nil, false
	}
	name = parts[0]
	for i, p := range parts[1:] {
		if i == 0 {
			p = strings.TrimPrefix(p, "func")
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", "", nil, false
		}
		path = append(path, n)
	}
	return recv, name, path, true
}

func receiverName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t := t.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr: // generic receiver T[K]
		if id, ok := t.X.(*ast.Ident); ok {
			return id.Name
		}
	case *ast.IndexListExpr:
		if id, ok := t.X.(*ast.Ident); ok {
			return id.Name
		}
	}
	return ""
}

// funcLits lists the function literals directly inside n (not inside
// another literal), in source order: the order the compiler numbers them.
func funcLits(n ast.Node) []*ast.FuncLit {
	var lits []*ast.FuncLit
	ast.Inspect(n, func(x ast.Node) bool {
		if lit, ok := x.(*ast.FuncLit); ok && x != n {
			lits = append(lits, lit)
			return false
		}
		return true
	})
	return lits
}

// startLine is the line of the go statement or call that takes lit, or
// lit's own line.
func startLine(body ast.Node, lit *ast.FuncLit, fset *token.FileSet) int {
	line := fset.Position(lit.Pos()).Line
	ast.Inspect(body, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.GoStmt:
			if x.Call.Fun == lit {
				line = fset.Position(x.Pos()).Line
				return false
			}
		case *ast.CallExpr:
			if slices.ContainsFunc(x.Args, func(a ast.Expr) bool { return a == lit }) {
				line = fset.Position(x.Pos()).Line
				return false
			}
		}
		return true
	})
	return line
}
