package diagnose

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
)

// copiedLocks finds, in the learner's files, the places where a value
// holding a mutex is copied: a method with a value receiver, or a
// parameter or result passed by value, of a type that holds a
// sync.Mutex or sync.RWMutex (directly or in a struct field, not through
// a pointer). go vet's copylocks check reports these before any test runs;
// go test's own vet subset leaves it out, so the race detector is the first
// to complain, far from the cause.
func (d *diagnosis) copiedLocks() []Site {
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	for name, lines := range d.lab.Source {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, strings.Join(lines, "\n"), parser.SkipObjectResolution)
		if err == nil {
			files[name] = f
		}
	}
	// Struct types of the package, by name.
	types := map[string]*ast.StructType{}
	for _, f := range files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, spec := range g.Specs {
				if ts, ok := spec.(*ast.TypeSpec); ok {
					if st, ok := ts.Type.(*ast.StructType); ok {
						types[ts.Name.Name] = st
					}
				}
			}
		}
	}
	// holdsLock reports whether a value of type expr contains a mutex.
	var holdsLock func(expr ast.Expr, seen map[string]bool) bool
	holdsLock = func(expr ast.Expr, seen map[string]bool) bool {
		switch t := expr.(type) {
		case *ast.SelectorExpr:
			return (t.Sel.Name == "Mutex" || t.Sel.Name == "RWMutex") && isIdent(t.X, "sync", "deadlock")
		case *ast.Ident:
			st, ok := types[t.Name]
			if !ok || seen[t.Name] {
				return false
			}
			seen[t.Name] = true
			for _, field := range st.Fields.List {
				if holdsLock(field.Type, seen) {
					return true
				}
			}
		case *ast.StructType:
			for _, field := range t.Fields.List {
				if holdsLock(field.Type, seen) {
					return true
				}
			}
		case *ast.ArrayType:
			return t.Len != nil && holdsLock(t.Elt, seen) // an array is a value; a slice is not
		}
		return false
	}
	var sites []Site
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(d.lab.Files, name) {
			continue
		}
		for _, decl := range files[name].Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			at := func(n ast.Node, role string) {
				line := fset.Position(n.Pos()).Line
				s := d.relSite(role, Frame{File: d.lab.Dir + "/" + name, Line: line})
				sites = append(sites, s)
			}
			if fd.Recv != nil && len(fd.Recv.List) > 0 {
				if recv := fd.Recv.List[0].Type; holdsLock(recv, map[string]bool{}) {
					at(fd, fmt.Sprintf("%s has a value receiver: each call locks a copy of the mutex", fd.Name.Name))
				}
			}
			for _, p := range fd.Type.Params.List {
				if holdsLock(p.Type, map[string]bool{}) {
					at(p, fmt.Sprintf("%s takes a value holding a mutex: the callee locks a copy", fd.Name.Name))
				}
			}
			if fd.Type.Results != nil {
				for _, r := range fd.Type.Results.List {
					if holdsLock(r.Type, map[string]bool{}) {
						at(r, fmt.Sprintf("%s returns a value holding a mutex: the caller gets a copy", fd.Name.Name))
					}
				}
			}
		}
	}
	return sites
}

func isIdent(e ast.Expr, names ...string) bool {
	id, ok := e.(*ast.Ident)
	return ok && slices.Contains(names, id.Name)
}
