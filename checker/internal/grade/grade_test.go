package grade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/runner"
)

const repo = "../../.."

// theLabs is the repository's catalog.
func theLabs(t *testing.T) catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(repo)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// hostileCase is a case of checker/testdata/hostile (see its README).
type hostileCase struct {
	About string
	Base  string
	Edits []struct {
		File    string
		Imports []string
		After   string
		Insert  string
		Append  string
		Replace []string
	}
	Delete  []string
	Symlink map[string]string
	Limits  struct {
		Time      string
		MemoryMiB int64 `json:"memory_mib"`
	}
	Labs map[string]struct {
		Status Status
		Reason string
	}
	Warnings []string
}

func TestHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every hostile submission")
	}
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := engine.FindToolchain(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "checker/testdata/hostile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			caseDir := filepath.Join(root, "checker/testdata/hostile", d.Name())
			var c hostileCase
			data, err := os.ReadFile(filepath.Join(caseDir, "want.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("want.json: %v", err)
			}
			sub := t.TempDir()
			makeSubmission(t, root, sub, caseDir, c)
			var labs []catalog.Lab
			for _, l := range theLabs(t) {
				if _, ok := c.Labs[l.ID]; ok {
					labs = append(labs, l)
				}
			}
			if len(labs) != len(c.Labs) {
				t.Fatalf("want.json names labs that are not in the catalog: %v", c.Labs)
			}
			lim := runner.Limits{Time: 20 * time.Second, Memory: c.Limits.MemoryMiB << 20}
			if c.Limits.Time != "" {
				lim.Time, _ = time.ParseDuration(c.Limits.Time)
			}
			before := fingerprint(t, root, "labs", "solutions", "go.mod", "go.sum") + fingerprint(t, sub, ".")
			opts := Options{Root: root, Submission: sub, Labs: labs, Toolchain: tc, Limits: lim, Scratch: t.TempDir()}
			start := time.Now()
			res, err := Grade(context.Background(), opts)
			if err != nil {
				t.Fatalf("Grade: %v", err)
			}
			if took := time.Since(start); took > res.Bound {
				t.Errorf("grading took %v, beyond its documented bound %v", took, res.Bound)
			}
			for _, l := range res.Labs {
				want := c.Labs[l.Lab.ID]
				said := l.Reason
				for _, r := range l.Rejected {
					said += "\n" + r.Reason
				}
				if l.Status != want.Status || !strings.Contains(said, want.Reason) {
					t.Errorf("%s: got %s (%s), want %s with a reason containing %q\n%s", l.Lab.ID, l.Status, l.Reason, want.Status, want.Reason, tail(l.Output, 30))
				}
				if (l.Status == Pass) != (l.Points == l.Lab.Points) || l.Status != Pass && l.Points != 0 {
					t.Errorf("%s: %s with %d of %d points", l.Lab.ID, l.Status, l.Points, l.Lab.Points)
				}
			}
			for _, w := range c.Warnings {
				if !slices.ContainsFunc(res.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no warning containing %q; warnings: %q", w, res.Warnings)
				}
			}
			if after := fingerprint(t, root, "labs", "solutions", "go.mod", "go.sum") + fingerprint(t, sub, "."); after != before {
				t.Errorf("grading changed files outside its scratch directory")
			}
			if left := killMarked("RACELAB_GRADER_RUN=" + res.RunID); left > 0 {
				t.Errorf("%d process(es) of the grading outlived it", left)
			}
			if _, err := os.Stat("/tmp/racelab-pwned"); err == nil {
				t.Errorf("graded code wrote /tmp/racelab-pwned")
			}
		})
	}
}

// makeSubmission builds a case's submission in sub.
func makeSubmission(t *testing.T, root, sub, caseDir string, c hostileCase) {
	t.Helper()
	for _, f := range []string{"go.mod", "go.sum", "Makefile", "README.md"} {
		if data, err := os.ReadFile(filepath.Join(root, f)); err == nil {
			write(t, filepath.Join(sub, f), data)
		}
	}
	for _, l := range theLabs(t) {
		from := l.Dir()
		for _, dir := range []string{l.Dir(), l.SolutionDir()} {
			files, _ := os.ReadDir(filepath.Join(root, dir))
			for _, f := range files {
				if dir == l.SolutionDir() && (c.Base != "solutions" || !slices.Contains(l.Files, f.Name())) {
					continue
				}
				data, err := os.ReadFile(filepath.Join(root, dir, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(sub, from, f.Name()), data)
			}
		}
	}
	for _, e := range c.Edits {
		path := filepath.Join(sub, e.File)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		src := string(data)
		for _, imp := range e.Imports {
			if imp == "C" {
				src = strings.Replace(src, "\nimport (", "\nimport \"C\"\n\nimport (", 1)
				continue
			}
			src = strings.Replace(src, "import (\n", fmt.Sprintf("import (\n\t%q\n", imp), 1)
		}
		if e.After != "" {
			if !strings.Contains(src, e.After) {
				t.Fatalf("edit of %s: anchor %q not found; update the case", e.File, e.After)
			}
			src = strings.Replace(src, e.After, e.After+e.Insert, 1)
		}
		if len(e.Replace) == 2 {
			src = strings.Replace(src, e.Replace[0], e.Replace[1], 1)
		}
		src += e.Append
		write(t, path, []byte(src))
	}
	filesDir := filepath.Join(caseDir, "submission")
	filepath.WalkDir(filesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filesDir, p)
		write(t, filepath.Join(sub, rel), data)
		return nil
	})
	for _, f := range c.Delete {
		os.Remove(filepath.Join(sub, f))
	}
	for f, target := range c.Symlink {
		os.Remove(filepath.Join(sub, f))
		if err := os.Symlink(target, filepath.Join(sub, f)); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fingerprint hashes every file (and symbolic link) under root/paths.
func fingerprint(t *testing.T, root string, paths ...string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fmt.Fprintf(h, "%s %v\n", path, d.Type())
			if d.Type().IsRegular() {
				data, _ := os.ReadFile(path)
				h.Write(data)
			}
			return nil
		})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestGraderNeedsPristineTests: a grader whose own tests were edited
// refuses to grade, saying which file and how to fix it.
func TestGraderNeedsPristineTests(t *testing.T) {
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	grader := t.TempDir()
	if err := fsutil.CopyPaths(root, grader, "go.mod", "go.sum", "labs", "solutions"); err != nil {
		t.Fatal(err)
	}
	l := theLabs(t)[0]
	test := filepath.Join(grader, l.Dir(), l.ID+"_test.go")
	write(t, test, []byte("package "+l.ID+"\n"))
	_, err = Grade(context.Background(), Options{Root: grader, Submission: grader, Labs: theLabs(t)[:1]})
	if err == nil || !strings.Contains(err.Error(), "not pristine") || !strings.Contains(err.Error(), l.ID+"_test.go") {
		t.Errorf("got %v, want an error naming %s_test.go as not pristine", err, l.ID)
	}
}

func TestCheckSource(t *testing.T) {
	lab := catalog.Lab{ID: "bank", Imports: []string{"sync", "errors"}}
	for _, c := range []struct {
		src  string
		want string // a substring of the first rejection, or "" for none
	}{
		{"package bank\n\nimport \"sync\"\n\nvar mu sync.Mutex\n", ""},
		{"package bank\n\nimport \"os\"\n\nvar _ = os.Exit\n", `imports "os"`},
		{"package bank\n\nimport \"C\"\n", `imports "C" (cgo)`},
		{"package other\n", "must be package bank"},
		{"package bank\n\n//go:noinline\nfunc f() {}\n", "directive //go:noinline is not allowed"},
		{"//go:build ignore\n\npackage bank\n", "directive //go:build is not allowed"},
		{"package bank\n\n//line other.go:1\nfunc f() {}\n", "directive //line"},
		{"package bank\n\nfunc racelabGraderRun() {}\n", "reserved for the grader"},
		{"package bank\n\nfunc f( {\n", "does not parse"},
	} {
		rej := CheckSource(lab, "labs/bank/bank.go", []byte(c.src))
		switch {
		case c.want == "" && len(rej) > 0:
			t.Errorf("%q rejected: %v", c.src, rej)
		case c.want != "" && (len(rej) == 0 || !strings.Contains(rej[0].Reason, c.want)):
			t.Errorf("%q: got %v, want a rejection containing %q", c.src, rej, c.want)
		}
	}
}

func TestVerdictNeedsTheSecret(t *testing.T) {
	for _, c := range []struct {
		data string
		ok   bool
	}{
		{"racelab-verdict v1 s3cret code=0 passed=TestA,TestB\n", true},
		{"racelab-verdict v1 wrong code=0 passed=TestA\n", false},
		{"racelab-verdict v1 s3cret code=0 passed=TestA\nracelab-verdict v1 s3cret code=0 passed=TestA\n", false},
		{"", false},
		{"racelab-verdict v1 s3cret code=zero passed=\n", false},
	} {
		v := &verdictReader{secret: "s3cret", done: make(chan struct{}), data: []byte(c.data)}
		close(v.done)
		if _, ok := v.verdict(); ok != c.ok {
			t.Errorf("verdict(%q) ok = %v, want %v", c.data, ok, c.ok)
		}
	}
	if !bytes.Contains([]byte(harnessTemplate.Root.String()), []byte("code = 97")) {
		t.Error("the harness no longer checks the test flags after the run")
	}
}
