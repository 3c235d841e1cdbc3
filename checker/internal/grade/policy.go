package grade

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// A Rejection is why a submitted file was not graded.
type Rejection struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// maxRejections is how many problems are reported for one file.
const maxRejections = 10

// restrictedAPI lists, for each package graded code may import whose
// globals steer a detector, the names graded code may use from it. A
// verdict that rests on a detector must be out of the reach of the code
// it judges: go-deadlock's Opts turns detection off (Disable,
// DisableLockOrderDetection), blunts it (DeadlockTimeout, MaxMapSize) or
// replaces its reaction (OnPotentialDeadlock, LogBuf), and a fix needs
// only its lock types. Names not listed, including any that later
// versions add, are refused.
var restrictedAPI = map[string]struct {
	name    string // the package's name
	allowed []string
}{
	"github.com/sasha-s/go-deadlock": {"deadlock", []string{"Mutex", "RWMutex", "Cond", "NewCond", "Locker", "Once", "Pool", "WaitGroup", "Map"}},
}

// CheckSource applies the grading policy to a learner's file name (a
// path such as "labs/bank/bank.go"); pristine is the lab's shipped copy
// of the same file, or nil. The file must be Go source of the lab's
// package; import only the lab's allowlisted packages; carry no compiler
// directive and no build constraint (which could leave the file out of
// the build) except the Go version pin the pristine file carries, kept
// exactly; use from a detector's package only what a fix needs; assign to
// no other package's variables; and declare no name reserved for the
// grader. The policy is what stops code under grading from reaching
// os.Exit, syscall, unsafe, reflection, cgo or //go:linkname, and with
// them the grader's verdict channel, and from switching detectors off.
func CheckSource(lab catalog.Lab, name string, src, pristine []byte) []Rejection {
	var rej []Rejection
	lines := map[int]bool{} // lines already rejected
	add := func(format string, args ...any) {
		rej = append(rej, Rejection{name, fmt.Sprintf(format, args...)})
	}
	addLine := func(line int, format string, args ...any) {
		if !lines[line] {
			lines[line] = true
			add("line %d: "+format, append([]any{line}, args...)...)
		}
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		add("does not parse: %s", parseError(err))
		return rej
	}
	if f.Name.Name != lab.ID {
		add("is package %s; it must be package %s", f.Name.Name, lab.ID)
	}

	// Build constraints, as go/build reads them.
	pin := goVersionPin(pristine)
	kept := false
	allowed := map[int]bool{} // lines of the pin, which may look like a directive
	for _, c := range headerConstraints(src) {
		if c.text == pin && !kept {
			kept = true
			allowed[c.line] = true
			continue
		}
		addLine(c.line, "the build constraint %q is not allowed in graded code: it can leave the file out of the build", c.text)
	}
	if pin != "" && !kept {
		if got := goBuildLine(src); got != "" {
			add("changes the lab's build line %q to %q: keep the line as the lab ships it (it pins the Go version whose rules the lab is about)", pin, got)
		} else {
			add("removes the lab's build line %q: put it back at the top of the file (it pins the Go version whose rules the lab is about)", pin)
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			line := fset.Position(c.Pos()).Line
			text := c.Text
			switch {
			case allowed[line]:
			case strings.HasPrefix(text, "//go:") || strings.HasPrefix(text, "//line ") || strings.HasPrefix(text, "/*line "):
				directive, _, _ := strings.Cut(text, " ")
				addLine(line, "the compiler directive %s is not allowed in graded code", directive)
			case constraint.IsPlusBuild(text) || constraint.IsGoBuild(text):
				addLine(line, "build constraints are not allowed in graded code")
			}
		}
	}

	// Imports, and what is used from them.
	names := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		local := packageName(p)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		_, restricted := restrictedAPI[p]
		switch {
		case p == "C":
			add("imports \"C\" (cgo): graded code may not call C")
		case !lab.MayImport(p):
			add("imports %q, which graded code may not (allowed: %s)", p, strings.Join(append(slices.Clone(catalog.SafeImports), lab.Imports...), ", "))
		case local == "." && restricted:
			add("imports %q with a dot: import it by name", p)
		case local != "_" && local != ".":
			names[local] = p
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok {
			p := names[id.Name]
			if r, ok := restrictedAPI[p]; ok && !slices.Contains(r.allowed, sel.Sel.Name) {
				addLine(fset.Position(sel.Pos()).Line, "uses %s.%s: from %s graded code may use only %s (the rest steers the detector that judges it)",
					id.Name, sel.Sel.Name, p, strings.Join(r.allowed, ", "))
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok != token.DEFINE {
				for _, l := range n.Lhs {
					checkWrite(fset, l, names, addLine)
				}
			}
		case *ast.IncDecStmt:
			checkWrite(fset, n.X, names, addLine)
		case *ast.RangeStmt:
			if n.Tok == token.ASSIGN {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if e != nil {
						checkWrite(fset, e, names, addLine)
					}
				}
			}
		case *ast.UnaryExpr:
			if n.Op == token.AND {
				checkWrite(fset, n.X, names, addLine)
			}
		}
		return true
	})

	// Test functions in a non-test file never run; a TestMain would be the
	// grader's. Neither belongs in a learner's file.
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, harnessPrefix) {
			add("declares %s: names starting with %s are reserved for the grader", fn.Name.Name, harnessPrefix)
		}
	}
	if len(rej) > maxRejections {
		n := len(rej) - maxRejections
		rej = append(rej[:maxRejections], Rejection{name, fmt.Sprintf("and %d more problems", n)})
	}
	return rej
}

// checkWrite rejects e when it writes to, or takes the address of, a
// variable of an imported package (pkg.V, pkg.V.F, pkg.V[i], *pkg.P):
// another package's globals (io.EOF, a detector's options) are shared
// with the tests that judge the code.
func checkWrite(fset *token.FileSet, e ast.Expr, names map[string]string, addLine func(int, string, ...any)) {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
			continue
		case *ast.StarExpr:
			e = x.X
			continue
		case *ast.IndexExpr:
			e = x.X
			continue
		case *ast.IndexListExpr:
			e = x.X
			continue
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				if p, ok := names[id.Name]; ok {
					addLine(fset.Position(x.Pos()).Line, "changes %s.%s, a variable of package %s: graded code may not change other packages' variables", id.Name, x.Sel.Name, p)
				}
				return
			}
			e = x.X
			continue
		}
		return
	}
}

// packageName is the name a package is imported under by default: the
// last element of its path (before a major-version suffix such as /v2),
// or the name restrictedAPI knows.
func packageName(p string) string {
	if r, ok := restrictedAPI[p]; ok {
		return r.name
	}
	elems := strings.Split(p, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && majorVersion.MatchString(last) {
		last = elems[len(elems)-2]
	}
	return strings.TrimPrefix(path.Base(last), "go-")
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// parseError is the first of the parser's errors, and how many more.
func parseError(err error) string {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		if len(list) > 1 {
			return fmt.Sprintf("%s (and %d more errors)", list[0], len(list)-1)
		}
		return list[0].Error()
	}
	return err.Error()
}

// A constraintLine is a build constraint and its line number.
type constraintLine struct {
	line int
	text string
}

// headerConstraints returns the build constraints go/build honours in a
// file, found as go/build finds them (go/build's parseFileHeader and
// shouldBuild): in the header, the comments and blank lines before the
// package clause, skipping /* */ comments, every //go:build line, and the
// // +build lines before the header's last blank line. Spellings are
// judged by go/build/constraint, so "//+build", "//\t+build" and
// "//go:build" followed by a tab all count, as they do for Go.
func headerConstraints(src []byte) []constraintLine {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	var out, plus []constraintLine
	p := src
	n, lastBlank := 0, 0
	ended, inSlashStar := false, false
Lines:
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, p = line[:i], p[i+1:]
		} else {
			p = p[len(p):]
		}
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 && !ended {
			lastBlank = n
			continue
		}
		if !bytes.HasPrefix(line, []byte("//")) {
			ended = true
		}
		if !inSlashStar {
			switch text := string(line); {
			case constraint.IsGoBuild(text):
				out = append(out, constraintLine{n, text})
			case constraint.IsPlusBuild(text):
				plus = append(plus, constraintLine{n, text})
			}
		}
		for len(line) > 0 {
			if inSlashStar {
				i := bytes.Index(line, []byte("*/"))
				if i < 0 {
					continue Lines
				}
				inSlashStar = false
				line = bytes.TrimSpace(line[i+2:])
				continue
			}
			if bytes.HasPrefix(line, []byte("//")) {
				continue Lines
			}
			if bytes.HasPrefix(line, []byte("/*")) {
				inSlashStar = true
				line = bytes.TrimSpace(line[2:])
				continue
			}
			break Lines
		}
	}
	for _, c := range plus {
		if c.line < lastBlank {
			out = append(out, c)
		}
	}
	return out
}

// goBuildLine is the file's //go:build line, or "".
func goBuildLine(src []byte) string {
	for _, c := range headerConstraints(src) {
		if constraint.IsGoBuild(c.text) {
			return c.text
		}
	}
	return ""
}

// goVersionPin returns the //go:build line of a pristine file when it
// pins a Go version and nothing else ("//go:build go1.21": the file is
// compiled with that version's language rules, such as per-loop
// variables before Go 1.22), or "".
func goVersionPin(pristine []byte) string {
	line := goBuildLine(pristine)
	if line == "" {
		return ""
	}
	expr, err := constraint.Parse(line)
	if err != nil {
		return ""
	}
	if tag, ok := expr.(*constraint.TagExpr); ok && constraint.GoVersion(expr) == tag.Tag {
		return line
	}
	return ""
}
