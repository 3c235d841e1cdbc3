package grade

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// MaxFileSize is the largest editable file the grader accepts.
const MaxFileSize = 256 << 10

// A Rejection is why a submitted file was not graded.
type Rejection struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// readSubmitted reads one editable file of a submission, refusing anything
// that is not a plain, small, regular file. It never follows a symbolic
// link: a link could point anywhere on the grader's machine.
func readSubmitted(path, rel string) ([]byte, *Rejection) {
	st, err := os.Lstat(path)
	switch {
	case os.IsNotExist(err):
		return nil, &Rejection{rel, "the submission has no " + rel + ": submit the lab's editable file"}
	case err != nil:
		return nil, &Rejection{rel, "cannot read " + rel + ": " + err.Error()}
	case st.Mode()&os.ModeSymlink != 0:
		return nil, &Rejection{rel, rel + " is a symbolic link: submit the file itself"}
	case !st.Mode().IsRegular():
		return nil, &Rejection{rel, rel + " is not a regular file"}
	case st.Size() > MaxFileSize:
		return nil, &Rejection{rel, fmt.Sprintf("%s is %d bytes; the limit is %d", rel, st.Size(), MaxFileSize)}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, &Rejection{rel, "cannot read " + rel + ": " + err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil || len(data) > MaxFileSize {
		return nil, &Rejection{rel, "cannot read " + rel + " within the size limit"}
	}
	return data, nil
}

// CheckSource applies the grading policy to a learner's file: it must be
// Go source of the lab's package, import only the lab's allowlisted
// packages, and carry no compiler directives. The policy is what stops
// code under grading from reaching os.Exit, syscall, unsafe, reflection,
// cgo or //go:linkname, and with them the grader's verdict channel.
func CheckSource(lab catalog.Lab, name string, src []byte) []Rejection {
	var rej []Rejection
	add := func(format string, args ...any) {
		rej = append(rej, Rejection{name, fmt.Sprintf(format, args...)})
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		add("does not parse: %v", err)
		return rej
	}
	if f.Name.Name != lab.ID {
		add("is package %s; it must be package %s", f.Name.Name, lab.ID)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		switch {
		case p == "C":
			add("imports \"C\" (cgo): graded code may not call C")
		case !lab.MayImport(p):
			add("imports %q, which graded code may not (allowed: %s)", p, strings.Join(append(slices.Clone(catalog.SafeImports), lab.Imports...), ", "))
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:") || strings.HasPrefix(c.Text, "//line ") || strings.HasPrefix(c.Text, "/*line ") {
				directive, _, _ := strings.Cut(c.Text, " ")
				add("line %d: the compiler directive %s is not allowed in graded code", fset.Position(c.Pos()).Line, directive)
			} else if strings.HasPrefix(c.Text, "// +build") {
				add("line %d: build constraints are not allowed in graded code", fset.Position(c.Pos()).Line)
			}
		}
	}
	// Test functions in a non-test file never run; a TestMain would be the
	// grader's. Neither belongs in a learner's file.
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, harnessPrefix) {
			add("declares %s: names starting with %s are reserved for the grader", fn.Name.Name, harnessPrefix)
		}
	}
	return rej
}
