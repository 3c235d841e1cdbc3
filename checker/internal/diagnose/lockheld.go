package diagnose

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strings"
)

// heldOnReturn finds, in the learner's files, the return statements that
// leave a mutex locked: a Lock or RLock with no deferred Unlock, then a
// return on a path that has not unlocked it. Stack traces cannot show
// these (the goroutine that returned is gone; only the next caller, stuck
// in Lock, is left), so a deadlock whose waiters sit in Lock is explained
// by reading the code.
//
// It follows each function's statements in order, through if, switch,
// select and loop bodies, without types: a lock is named by its
// expression ("b.mu"). Function literals are their own functions.
func (d *diagnosis) heldOnReturn() []Site {
	names := make([]string, 0, len(d.lab.Source))
	for name := range d.lab.Source {
		if slices.Contains(d.lab.Files, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var sites []Site
	for _, name := range names {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, strings.Join(d.lab.Source[name], "\n"), parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		var bodies []*ast.BlockStmt
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Body != nil {
					bodies = append(bodies, n.Body)
				}
			case *ast.FuncLit:
				bodies = append(bodies, n.Body)
			}
			return true
		})
		for _, body := range bodies {
			w := &lockWalk{}
			w.block(body.List, lockState{held: map[string]int{}, deferred: map[string]bool{}})
			for _, r := range w.returns {
				line := fset.Position(r.pos).Line
				s := d.relSite(fmt.Sprintf("returns here with %s still locked", r.lock), Frame{File: d.lab.Dir + "/" + name, Line: line})
				sites = append(sites, s)
			}
		}
	}
	return uniqSites(sites)
}

// lockState is what a walk knows at one point: the locks held (the line
// that took each) and the locks a deferred call will release.
type lockState struct {
	held     map[string]int
	deferred map[string]bool
}

func (s lockState) clone() lockState {
	return lockState{held: maps.Clone(s.held), deferred: maps.Clone(s.deferred)}
}

type lockWalk struct {
	returns []struct {
		pos  token.Pos
		lock string
	}
}

// block walks stmts from state in and returns the state at its end, and
// whether every path through it returned (or otherwise left).
func (w *lockWalk) block(stmts []ast.Stmt, in lockState) (lockState, bool) {
	st := in
	for _, stmt := range stmts {
		var done bool
		st, done = w.stmt(stmt, st)
		if done {
			return st, true
		}
	}
	return st, false
}

func (w *lockWalk) stmt(stmt ast.Stmt, st lockState) (lockState, bool) {
	switch s := stmt.(type) {
	case *ast.ExprStmt:
		if lock, op := lockCall(s.X); op != "" {
			switch op {
			case "Lock", "RLock":
				st.held[lock] = int(s.Pos())
			case "Unlock", "RUnlock":
				delete(st.held, lock)
			}
		}
	case *ast.DeferStmt:
		if lock, op := lockCall(s.Call); op == "Unlock" || op == "RUnlock" {
			st.deferred[lock] = true
		} else if lit, ok := s.Call.Fun.(*ast.FuncLit); ok {
			ast.Inspect(lit.Body, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					if lock, op := lockCall(e); op == "Unlock" || op == "RUnlock" {
						st.deferred[lock] = true
					}
				}
				return true
			})
		}
	case *ast.ReturnStmt:
		locks := slices.Sorted(maps.Keys(st.held))
		for _, lock := range locks {
			if !st.deferred[lock] {
				w.returns = append(w.returns, struct {
					pos  token.Pos
					lock string
				}{s.Pos(), lock})
			}
		}
		return st, true
	case *ast.BlockStmt:
		return w.block(s.List, st)
	case *ast.LabeledStmt:
		return w.stmt(s.Stmt, st)
	case *ast.IfStmt:
		body, bodyDone := w.block(s.Body.List, st.clone())
		els, elsDone := st, false
		if s.Else != nil {
			els, elsDone = w.stmt(s.Else, st.clone())
		}
		switch {
		case bodyDone && elsDone:
			return st, true
		case bodyDone:
			return els, false
		case elsDone:
			return body, false
		}
		return merge(body, els), false
	case *ast.ForStmt:
		end, _ := w.block(s.Body.List, st.clone())
		return merge(st, end), false
	case *ast.RangeStmt:
		end, _ := w.block(s.Body.List, st.clone())
		return merge(st, end), false
	case *ast.SwitchStmt:
		return w.clauses(s.Body, st, false)
	case *ast.TypeSwitchStmt:
		return w.clauses(s.Body, st, false)
	case *ast.SelectStmt:
		return w.clauses(s.Body, st, true)
	}
	return st, false
}

// clauses walks the cases of a switch or select: the state after it is
// what any case that falls out of it leaves.
func (w *lockWalk) clauses(body *ast.BlockStmt, st lockState, isSelect bool) (lockState, bool) {
	out := st.clone()
	all := len(body.List) > 0
	hasDefault := false
	for _, c := range body.List {
		var stmts []ast.Stmt
		switch c := c.(type) {
		case *ast.CaseClause:
			stmts, hasDefault = c.Body, hasDefault || c.List == nil
		case *ast.CommClause:
			stmts, hasDefault = c.Body, hasDefault || c.Comm == nil
		}
		end, done := w.block(stmts, st.clone())
		if !done {
			out = merge(out, end)
			all = false
		}
	}
	if all && (hasDefault || isSelect) {
		return st, true
	}
	return out, false
}

// merge is the state after two paths join: a lock held on either may be
// held.
func merge(a, b lockState) lockState {
	out := a.clone()
	maps.Copy(out.held, b.held)
	for k := range out.deferred {
		if !b.deferred[k] {
			delete(out.deferred, k)
		}
	}
	return out
}

// lockCall recognizes x.Lock(), x.RLock(), x.Unlock() and x.RUnlock().
func lockCall(e ast.Expr) (lock, op string) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return "", ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	switch sel.Sel.Name {
	case "Lock", "RLock", "Unlock", "RUnlock":
		return types.ExprString(sel.X), sel.Sel.Name
	}
	return "", ""
}
