package catalog

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A Problem is one way the catalog and the folders disagree; it says what
// to do about it.
type Problem struct {
	Lab string // the lab it is about, or "" for the catalog as a whole
	Msg string
}

func (p Problem) String() string {
	if p.Lab == "" {
		return p.Msg
	}
	return p.Lab + ": " + p.Msg
}

// Check compares the catalog with the repository at root, in both
// directions: every lab has its folders, metadata, hints, files, README,
// TODO, tests and solution; every folder is in the curriculum order; the
// lab's and the solution's non-editable files are identical; the editable
// files import only what the lab allows. Each problem names the file (and
// the field) to fix.
func (c Catalog) Check(root string) []Problem {
	var probs []Problem
	add := func(lab, format string, args ...any) {
		probs = append(probs, Problem{lab, fmt.Sprintf(format, args...)})
	}
	if err := c.validate(); err != nil {
		add("", "%v", err)
	}
	for _, side := range []string{"labs", "solutions"} {
		ents, err := os.ReadDir(filepath.Join(root, side))
		if err != nil {
			add("", "cannot read %s/: %v", side, err)
			continue
		}
		for _, e := range ents {
			if _, ok := c.Lookup(e.Name()); e.IsDir() && !ok {
				add("", "%s/%s is not in the curriculum: add its id to %s, where it belongs in the order, or remove the folder", side, e.Name(), OrderFile)
			}
		}
	}
	for _, l := range c {
		if l.Err != nil {
			for _, msg := range strings.Split(l.Err.Error(), "\n") {
				add(l.ID, "%s", msg)
			}
		}
		probs = append(probs, checkLab(root, l)...)
	}
	return probs
}

// labOnly are the files of a lab folder that the solution does not repeat.
var labOnly = []string{"README.md", MetaFile, HintsFile}

func checkLab(root string, l Lab) []Problem {
	var probs []Problem
	add := func(format string, args ...any) {
		probs = append(probs, Problem{l.ID, fmt.Sprintf(format, args...)})
	}
	labDir, solDir := filepath.Join(root, l.Dir()), filepath.Join(root, l.SolutionDir())
	labFiles, err1 := listFiles(labDir)
	solFiles, err2 := listFiles(solDir)
	if err1 != nil || err2 != nil {
		if err1 != nil && l.Err == nil {
			add("missing %s/: create the lab's folder", l.Dir())
		}
		if err2 != nil {
			add("missing %s/: every lab needs a reference solution", l.SolutionDir())
		}
		return probs
	}
	if !slices.Contains(labFiles, "README.md") {
		add("%s has no README.md: write the story, the symptom, the Python idea, how to run it and what fixed means", l.Dir())
	}
	// The learner never saw the project's planning documents: "the seed
	// articles" means nothing to them.
	for _, f := range labOnly {
		if data, err := os.ReadFile(filepath.Join(labDir, f)); err == nil && bytes.Contains(bytes.ToLower(data), []byte("seed")) {
			add("%s/%s says \"seed\": name the articles' ideas in the learner's terms (\"Python's threading.Lock\", \"the articles on Python threading\")", l.Dir(), f)
		}
	}
	for _, f := range labOnly {
		if slices.Contains(solFiles, f) {
			add("%s has a %s: it lives only in %s", l.SolutionDir(), f, l.Dir())
		}
	}
	for _, f := range l.Files {
		if !slices.Contains(labFiles, f) {
			add("editable file %s is missing from %s", f, l.Dir())
		}
		if !slices.Contains(solFiles, f) {
			add("editable file %s is missing from %s", f, l.SolutionDir())
		}
	}
	// Everything that is not editable is the same on both sides.
	for _, f := range union(labFiles, solFiles) {
		if slices.Contains(l.Files, f) || slices.Contains(labOnly, f) {
			continue
		}
		a, errA := os.ReadFile(filepath.Join(labDir, f))
		b, errB := os.ReadFile(filepath.Join(solDir, f))
		switch {
		case errA != nil:
			add("%s exists in %s but not in %s: the lab and its solution must have the same files", f, l.SolutionDir(), l.Dir())
		case errB != nil:
			add("%s exists in %s but not in %s: the lab and its solution must have the same files", f, l.Dir(), l.SolutionDir())
		case !bytes.Equal(a, b):
			add("%s differs between %s and %s: only the editable files (%s) may differ", f, l.Dir(), l.SolutionDir(), strings.Join(l.Files, ", "))
		}
	}
	// Package names, TODOs, imports and tests, read from the source.
	todo := false
	for _, side := range []struct{ dir, name string }{{labDir, l.Dir()}, {solDir, l.SolutionDir()}} {
		files, _ := listFiles(side.dir)
		for _, f := range files {
			if !strings.HasSuffix(f, ".go") {
				continue
			}
			info, err := ParseFile(filepath.Join(side.dir, f))
			if err != nil {
				add("%s/%s does not parse: %v", side.name, f, err)
				continue
			}
			if info.Package != l.ID {
				add("%s/%s is package %s; a lab's package name is its id, %s", side.name, f, info.Package, l.ID)
			}
			if slices.Contains(l.Files, f) {
				if side.dir == labDir && info.TODO {
					todo = true
				}
				for _, imp := range info.Imports {
					if !l.MayImport(imp) {
						add("%s/%s imports %q, which graded code may not: add it to imports in %s/%s (if learners may use it) or drop the import", side.name, f, imp, l.Dir(), MetaFile)
					}
				}
			}
			if side.dir == labDir && strings.HasSuffix(f, "_test.go") {
				if info.TestMain {
					add("%s/%s defines TestMain: the grader adds its own; configure detectors in an init function instead", side.name, f)
				}
			}
		}
	}
	if !todo && len(l.Files) > 0 {
		add("no `// TODO:` in %s: mark where the learner acts", strings.Join(l.Files, ", "))
	}
	return probs
}

// FileInfo is what the checker reads from one Go file.
type FileInfo struct {
	Package  string
	Imports  []string
	Tests    []string // Test functions, in source order
	TestMain bool
	TODO     bool // has a "// TODO:" comment
}

// ParseFile reads a Go file's package, imports, tests and TODO comments.
func ParseFile(path string) (FileInfo, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return FileInfo{}, err
	}
	info := FileInfo{Package: f.Name.Name}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		info.Imports = append(info.Imports, p)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil {
			continue
		}
		name := fn.Name.Name
		if name == "TestMain" {
			info.TestMain = true
		} else if isTestName(name) {
			info.Tests = append(info.Tests, name)
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(c.Text, "//")), "TODO:") {
				info.TODO = true
			}
		}
	}
	return info, nil
}

// isTestName applies go test's rule: "Test" followed by end or a
// non-lowercase letter.
func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	return ok && (rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z'))
}

func listFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
