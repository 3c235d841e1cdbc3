package doctor

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The doctor's runtime, compiled into each test binary as a package of the
// user's module (see package rt).
//
//go:embed rt/rt.go rt/lock.go rt/leakprofile.go rt/race.go rt/norace.go
var rtFS embed.FS

const (
	// rtDir is the runtime's directory under the module root, in the
	// overlay only.
	rtDir = "racelabdoctor_rt"
	// rtName is the name the instrumented files import the runtime as.
	rtName = "racelabdoctor_rt"
	// renamePrefix starts the new name of each user test function.
	renamePrefix = "racelabDoctor_"
	// wrapperFile and xWrapperFile hold the generated TestX functions of
	// the package's own tests and of its external (_test package) tests.
	wrapperFile  = "zz_racelabdoctor_test.go"
	xWrapperFile = "zz_racelabdoctor_x_test.go"
)

// A testFunc is one top-level test the doctor wraps.
type testFunc struct {
	Name string
	File string // absolute
	Line int    // of the func keyword
}

// An edit replaces src[off:end] with text. Edits never add or remove a
// line break, so every line of the user's code stays where it was and
// every report points at the line the user sees.
type edit struct {
	off, end int
	text     string
}

func apply(src []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.off - b.off })
	var out bytes.Buffer
	last := 0
	for _, e := range edits {
		out.Write(src[last:e.off])
		out.WriteString(e.text)
		last = e.end
	}
	out.Write(src[last:])
	return out.Bytes()
}

// rewrite instruments one file. swap puts the runtime's Mutex and RWMutex
// where the file names sync's; rename renames its top-level tests. It
// returns the new text (nil when nothing changed) and the tests renamed.
func rewrite(file string, src []byte, modPath string, swap, rename bool) ([]byte, []testFunc, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	var edits []edit
	var tests []testFunc
	if rename && strings.HasSuffix(file, "_test.go") {
		testing := importName(f, "testing")
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !isTestFunc(fn, testing) {
				continue
			}
			off := fset.Position(fn.Name.Pos()).Offset
			edits = append(edits, edit{off, off, renamePrefix})
			tests = append(tests, testFunc{Name: fn.Name.Name, File: file, Line: fset.Position(fn.Pos()).Line})
		}
	}
	if swap {
		if name := importName(f, "sync"); name != "" && name != "." && name != "_" {
			var swapped, kept int
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok || id.Name != name || id.Obj != nil {
					return true // not the package, or shadowed by a local
				}
				if sel.Sel.Name == "Mutex" || sel.Sel.Name == "RWMutex" {
					edits = append(edits, edit{fset.Position(sel.Pos()).Offset, fset.Position(sel.End()).Offset, rtName + "." + sel.Sel.Name})
					swapped++
				} else {
					kept++
				}
				return true
			})
			if swapped > 0 {
				// The import goes on the package clause's own line.
				off := fset.Position(f.Name.End()).Offset
				edits = append(edits, edit{off, off, fmt.Sprintf("; import %s %q", rtName, modPath+"/"+rtDir)})
				if kept == 0 {
					// sync is no longer used: keep the import legal with a
					// declaration after the file's last line.
					edits = append(edits, edit{len(src), len(src), fmt.Sprintf("\nvar _ %s.Locker\n", name)})
				}
			}
		}
	}
	if len(edits) == 0 {
		return nil, nil, nil
	}
	return apply(src, edits), tests, nil
}

// importName is the name a file uses for the package at path: "" when it
// does not import it.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, "`\"") != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

// isTestFunc reports whether fn is a test the testing package runs: a
// function named TestXxx (Xxx not starting with a lower-case letter)
// taking one *testing.T, as go test decides (cmd/go/internal/load/test.go).
func isTestFunc(fn *ast.FuncDecl, testing string) bool {
	if fn.Recv != nil || fn.Type.TypeParams != nil || fn.Type.Results != nil && len(fn.Type.Results.List) > 0 {
		return false
	}
	name := fn.Name.Name
	if name == "TestMain" || !strings.HasPrefix(name, "Test") {
		return false
	}
	if rest := name[len("Test"):]; rest != "" {
		r, _ := utf8.DecodeRuneInString(rest)
		if unicode.IsLower(r) {
			return false
		}
	}
	params := fn.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	switch t := star.X.(type) {
	case *ast.SelectorExpr:
		id, ok := t.X.(*ast.Ident)
		return ok && testing != "" && id.Name == testing && t.Sel.Name == "T"
	case *ast.Ident:
		return testing == "." && t.Name == "T"
	}
	return false
}

// wrappers generates a package's TestX functions, in the order of tests
// (the order go test would have run them in).
func wrappers(pkgName, modPath string, tests []testFunc) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by racelab doctor. DO NOT EDIT.\n\npackage %s\n\nimport (\n\t\"testing\"\n\n\t%s %q\n)\n\n", pkgName, rtName, modPath+"/"+rtDir)
	for _, t := range tests {
		fmt.Fprintf(&b, "func %s(t *testing.T) { %s.Run(t, %s%s) }\n", t.Name, rtName, renamePrefix, t.Name)
	}
	return b.Bytes()
}

// A Package is one package of the module, as go list describes it.
type Package struct {
	ImportPath   string
	Name         string
	Dir          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       *struct{ Path, Dir string }
	Error        *struct{ Err string }
	DepsErrors   []*struct{ Err string }
}

// HasTests reports whether the package has test files.
func (p Package) HasTests() bool { return len(p.TestGoFiles)+len(p.XTestGoFiles) > 0 }

// An overlay is the instrumentation of one build: go build's -overlay file
// and what it did to each package.
type overlay struct {
	File  string                // the -overlay JSON file
	Tests map[string][]testFunc // by import path: the tests wrapped, in run order
	// Swapped lists the packages whose mutexes were swapped.
	Swapped []string
}

// instrumentation says what an overlay does.
type instrumentation struct {
	swap bool // sync.Mutex and sync.RWMutex become the runtime's
}

// writeOverlay instruments the module's packages into dir: all of them get
// their mutexes swapped (so that types agree across packages), the targets
// get their tests wrapped. Files that cannot be parsed are left alone: the
// build reports them.
func writeOverlay(dir, modRoot, modPath string, all []Package, targets map[string]bool, in instrumentation) (*overlay, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	replace := map[string]string{}
	ov := &overlay{File: filepath.Join(dir, "overlay.json"), Tests: map[string][]testFunc{}}
	put := func(target string, content []byte) error {
		sum := sha256.Sum256([]byte(target))
		name := filepath.Join(dir, hex.EncodeToString(sum[:8])+"-"+filepath.Base(target))
		if err := os.WriteFile(name, content, 0o644); err != nil {
			return err
		}
		replace[target] = name
		return nil
	}
	// The runtime.
	ents, err := rtFS.ReadDir("rt")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		data, err := rtFS.ReadFile(path.Join("rt", e.Name()))
		if err != nil {
			return nil, err
		}
		if err := put(filepath.Join(modRoot, rtDir, e.Name()), data); err != nil {
			return nil, err
		}
	}
	for _, p := range all {
		wrap := targets[p.ImportPath]
		var internal, external []testFunc
		swapped := false
		files := slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles)
		for _, name := range files {
			file := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			out, tests, err := rewrite(file, src, modPath, in.swap, wrap)
			if err != nil {
				continue
			}
			if out == nil {
				continue
			}
			if err := put(file, out); err != nil {
				return nil, err
			}
			if in.swap && bytes.Contains(out, []byte(rtName+".")) {
				swapped = true
			}
			if slices.Contains(p.XTestGoFiles, name) {
				external = append(external, tests...)
			} else {
				internal = append(internal, tests...)
			}
		}
		if swapped {
			ov.Swapped = append(ov.Swapped, p.ImportPath)
		}
		if len(internal) > 0 {
			if err := put(filepath.Join(p.Dir, wrapperFile), wrappers(p.Name, modPath, internal)); err != nil {
				return nil, err
			}
		}
		if len(external) > 0 {
			if err := put(filepath.Join(p.Dir, xWrapperFile), wrappers(p.Name+"_test", modPath, external)); err != nil {
				return nil, err
			}
		}
		if wrap {
			ov.Tests[p.ImportPath] = append(internal, external...)
		}
	}
	data, err := json.MarshalIndent(struct{ Replace map[string]string }{replace}, "", "  ")
	if err != nil {
		return nil, err
	}
	return ov, os.WriteFile(ov.File, data, 0o644)
}
