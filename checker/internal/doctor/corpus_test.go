package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
)

// corpusDir is a module of small packages, each a bug pattern from the
// studies of Go concurrency bugs (or a clean package), annotated with
// `// want "kind"` or `// want "kind: title"` on the line the doctor must
// name (see its README.md).
const corpusDir = "../../testdata/doctor"

var corpusOut = flag.String("corpus.out", "", "write the doctor's JSON document for the corpus to `FILE`")

// TestCorpus runs the doctor over the corpus once, as `checker doctor
// -deadline 2s -gomaxprocs 1,2` would, and checks every annotation both
// ways, as x/tools' analysistest does: each want is matched by a finding
// of its kind (and title) at its line or with a site there, and every
// finding's line has a want of its kind.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the doctor over the corpus: about a minute")
	}
	dir, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	wants := readWants(t, dir)
	start := time.Now()
	rep, err := Run(context.Background(), Options{
		Dir: dir, Deadline: 2 * time.Second, GOMAXPROCS: []int{1, 2}, Locks: true, Leaks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the doctor took %s over %d packages", time.Since(start).Round(time.Second), len(rep.Packages))
	if *corpusOut != "" {
		data, _ := json.MarshalIndent(NewDocument(rep), "", "  ")
		os.WriteFile(*corpusOut, data, 0o644)
	}
	// The CI outputs of a real report have the required shape.
	var sarif bytes.Buffer
	if err := SARIF(&sarif, rep, "test"); err != nil {
		t.Fatal(err)
	}
	nFindings := 0
	for _, p := range rep.Packages {
		nFindings += len(p.Findings)
	}
	if got := len(validateSARIF(t, sarif.Bytes())); got != nFindings {
		t.Errorf("SARIF has %d results for %d findings", got, nFindings)
	}
	byDir := map[string]Result{}
	for _, p := range rep.Packages {
		byDir[p.Dir] = p
	}
	dirs, _ := os.ReadDir(dir)
	right, bugs := 0, 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			p, ok := byDir[name]
			if !ok {
				t.Fatalf("the doctor did not report package %s", name)
			}
			pw := wants[name]
			if len(pw) > 0 {
				bugs++
			}
			if errs := check(p, pw); len(errs) > 0 {
				for _, e := range errs {
					t.Error(e)
				}
				return
			}
			if len(pw) > 0 {
				right++
			}
		})
	}
	t.Logf("%d of %d annotated packages diagnosed with the right kind and line; %d packages in all", right, bugs, len(rep.Packages))
}

// A want is one expected finding: a kind, and the title when it matters.
type want struct {
	file        string // relative to the module root
	line        int
	kind, title string
}

func (w want) String() string {
	s := fmt.Sprintf("%s:%d %s", w.file, w.line, w.kind)
	if w.title != "" {
		s += ": " + w.title
	}
	return s
}

var (
	wantComment = regexp.MustCompile(`// want((?: "[^"]+")+)`)
	wantQuoted  = regexp.MustCompile(`"[^"]+"`)
)

// readWants reads the annotations, by package directory.
func readWants(t *testing.T, dir string) map[string][]want {
	out := map[string][]want{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		pkg := filepath.Dir(rel)
		for i, line := range strings.Split(string(data), "\n") {
			m := wantComment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			for _, q := range wantQuoted.FindAllString(m[1], -1) {
				s, _ := strconv.Unquote(q)
				w := want{file: filepath.ToSlash(rel), line: i + 1, kind: s}
				if k, title, ok := strings.Cut(s, ": "); ok && slices.Contains(catalog.Kinds, catalog.Kind(k)) {
					w.kind, w.title = k, title
				}
				if !slices.Contains(catalog.Kinds, catalog.Kind(w.kind)) {
					t.Fatalf("%s: unknown kind in %s", w, line)
				}
				out[pkg] = append(out[pkg], w)
			}
		}
	}
	return out
}

// check compares a package's findings with its wants, both ways.
func check(p Result, wants []want) []string {
	var errs []string
	if p.Status == Errored {
		return []string{"could not run: " + p.Err}
	}
	fits := func(w want, f diagnose.Finding) bool {
		return string(f.Kind) == w.kind && (w.title == "" || f.Title == w.title)
	}
	for _, f := range p.Findings {
		if f.File == "" {
			errs = append(errs, fmt.Sprintf("%s finding %q has no location: %s", f.Kind, f.Title, f.Summary))
			continue
		}
		if !slices.ContainsFunc(wants, func(w want) bool { return w.file == f.File && w.line == f.Line && fits(w, f) }) {
			errs = append(errs, fmt.Sprintf("%s finding %q at %s:%d, but that line has no matching want: %s", f.Kind, f.Title, f.File, f.Line, f.Summary))
		}
	}
	for _, w := range wants {
		matched := slices.ContainsFunc(p.Findings, func(f diagnose.Finding) bool {
			if !fits(w, f) {
				return false
			}
			if f.File == w.file && f.Line == w.line {
				return true
			}
			return slices.ContainsFunc(f.Sites, func(s diagnose.Site) bool { return s.InLab && s.File == w.file && s.Line == w.line })
		})
		if !matched {
			errs = append(errs, fmt.Sprintf("want %s: no such finding; got %s", w, describe(p)))
		}
	}
	return errs
}

func describe(p Result) string {
	if len(p.Findings) == 0 {
		return "no findings (" + string(p.Status) + ")"
	}
	var parts []string
	for _, f := range p.Findings {
		parts = append(parts, fmt.Sprintf("%s %q at %s", f.Kind, f.Title, f.Location()))
	}
	return strings.Join(parts, "; ")
}
