package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/report"
)

const repo = "../../.."

// run runs the checker in-process in dir and returns its exit code and
// output. Each test gets its own cache directory, as a fresh user would.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), Env{Stdout: &stdout, Stderr: &stderr, Dir: dir}, args)
	return code, stdout.String(), stderr.String()
}

// isolate gives the test a cache of its own for the checker's state, as a
// new user has, while the Go build cache stays shared (it lives under the
// same user cache directory by default, and rebuilding the race runtime
// would take minutes).
func isolate(t *testing.T) {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("NO_COLOR", "1")
}

// theLabs is the repository's catalog.
func theLabs(t *testing.T) catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(root(t))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func root(t *testing.T) string {
	abs, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// copyRepo copies what the checker needs of the repository into a
// temporary directory, with the given files (relative to the copy)
// replaced by others (relative to the repository).
func copyRepo(t *testing.T, replace map[string]string) string {
	t.Helper()
	src, dst := root(t), t.TempDir()
	if err := fsutil.CopyPaths(src, dst, "go.mod", "go.sum", "labs", "solutions"); err != nil {
		t.Fatal(err)
	}
	for to, from := range replace {
		data, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestHelpAndUsageErrors(t *testing.T) {
	isolate(t)
	if code, out, _ := run(t, root(t), "help"); code != ExitPass || !strings.Contains(out, "verify") || !strings.Contains(out, "grade") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, root(t), "help", "grade"); code != ExitPass || !strings.Contains(out, "-submission") {
		t.Errorf("help grade: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "name the lab(s) to run"},
		{[]string{"run", "hitcountr"}, "did you mean hitcounter"},
		{[]string{"hint", "bnak"}, "did you mean bank"},
		{[]string{"check", "-timeout", "1ms"}, "-timeout must be at least 1s"},
		{[]string{"check", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"verify", "-gomaxprocs", "one"}, "-gomaxprocs takes positive numbers"},
		{[]string{"grade"}, "--submission DIR"},
		{[]string{"list", "extra"}, "list takes no arguments"},
	} {
		code, _, errOut := run(t, root(t), c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

func TestSetupErrors(t *testing.T) {
	isolate(t)
	code, _, errOut := run(t, t.TempDir())
	if code != ExitError || !strings.Contains(errOut, "not inside the Racelab repository") {
		t.Errorf("outside the repository: exit %d, %q", code, errOut)
	}
	t.Run("no cgo", func(t *testing.T) {
		t.Setenv("CGO_ENABLED", "0")
		code, _, errOut := run(t, root(t))
		if code != ExitError || !strings.Contains(errOut, "needs cgo") || !strings.Contains(errOut, "CGO_ENABLED=1") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("no go", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		code, _, errOut := run(t, root(t))
		if code != ExitError || !strings.Contains(errOut, "go command is not on PATH") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
}

// TestShippedLabs is the main job on a fresh clone: every lab broken, with
// its declared kind, located in the lab's own code.
func TestShippedLabs(t *testing.T) {
	isolate(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := run(t, root(t), "-json", "-junit", junit)
	if code != ExitFail {
		t.Fatalf("exit %d, want 1 (labs are broken as shipped)\n%s", code, errOut)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if doc.Schema != report.CheckSchema || doc.Summary.Total != len(theLabs(t)) || doc.Summary.Fixed != 0 || doc.Summary.Next != theLabs(t)[0].ID {
		t.Errorf("summary: %+v (schema %q)", doc.Summary, doc.Schema)
	}
	for i, l := range theLabs(t) {
		got := doc.Labs[i]
		if got.ID != l.ID || got.Status != "broken" || !slices.Equal(got.Kinds, kindStrings(l.Kinds)) {
			t.Errorf("%s: status %s kinds %v, want broken with %v: %s", l.ID, got.Status, got.Kinds, l.Kinds, got.Summary)
			continue
		}
		// The first finding of the declared kind points into the lab's
		// editable code.
		i := slices.IndexFunc(got.Findings, func(f report.FindingDoc) bool { return f.Kind == string(l.Kinds[0]) })
		f := got.Findings[i]
		if !slices.Contains(l.Files, filepath.Base(f.File)) || filepath.Dir(f.File) != l.Dir() || f.Line == 0 {
			t.Errorf("%s: finding at %s:%d, want a line of %v in %s", l.ID, f.File, f.Line, l.Files, l.Dir())
		}
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Failures int    `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil || len(suites.Suites) != len(theLabs(t)) {
		t.Fatalf("junit: %v, %d suites\n%s", err, len(suites.Suites), data)
	}
	for _, s := range suites.Suites {
		if s.Failures == 0 {
			t.Errorf("junit suite %s has no failures", s.Name)
		}
	}

	// The table, for a person.
	code, out, _ = run(t, root(t))
	if code != ExitFail || !strings.Contains(out, "0 of 4 labs fixed") || !strings.Contains(out, "Next: "+theLabs(t)[0].ID) {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	// list remembers the verdicts.
	_, out, _ = run(t, root(t), "list")
	if !strings.Contains(out, "broken: "+string(theLabs(t)[0].Kinds[0])) {
		t.Errorf("list does not show the last verdict:\n%s", out)
	}
}

// TestSolvedCopy copies the solutions over the labs: every lab is fixed and
// the checker exits 0.
func TestSolvedCopy(t *testing.T) {
	isolate(t)
	replace := map[string]string{}
	for _, l := range theLabs(t) {
		for _, f := range l.Files {
			replace[filepath.Join(l.Dir(), f)] = filepath.Join(l.SolutionDir(), f)
		}
	}
	dir := copyRepo(t, replace)
	code, out, errOut := run(t, dir)
	if code != ExitPass || !strings.Contains(out, "4 of 4 labs fixed") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run(t, dir, "run", "bank", "hitcounter")
	if code != ExitPass || !strings.Contains(out, "fixed") || strings.Contains(out, "broken") {
		t.Errorf("run: exit %d\n%s", code, out)
	}
}

// TestWatch runs watch mode on a solved lab: it reports the lab fixed and,
// with -exit-when-fixed, returns.
func TestWatch(t *testing.T) {
	isolate(t)
	l := theLabs(t)[0]
	dir := copyRepo(t, map[string]string{filepath.Join(l.Dir(), l.Files[0]): filepath.Join(l.SolutionDir(), l.Files[0])})
	code, out, errOut := run(t, dir, "watch", "-exit-when-fixed", l.ID)
	if code != ExitPass || !strings.Contains(out, "fixed") || !strings.Contains(out, "watching "+l.Dir()) {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestHints(t *testing.T) {
	isolate(t)
	l := theLabs(t)[0]
	_, out, _ := run(t, root(t), "hint", l.ID)
	if !strings.Contains(out, "Hint 1 of") || strings.Contains(out, "Hint 2 of") {
		t.Errorf("first hint:\n%s", out)
	}
	_, out, _ = run(t, root(t), "hint", l.ID)
	if !strings.Contains(out, "Hint 2 of") {
		t.Errorf("second hint:\n%s", out)
	}
	_, out, _ = run(t, root(t), "hint", "-all", l.ID)
	if !strings.Contains(out, l.Hints[len(l.Hints)-1]) || !strings.Contains(out, "last hint") {
		t.Errorf("all hints:\n%s", out)
	}
	run(t, root(t), "hint", "-reset", l.ID)
	if _, out, _ = run(t, root(t), "hint", l.ID); strings.Contains(out, "Hint 2 of") {
		t.Errorf("after reset:\n%s", out)
	}
}

// TestVerifyCatchesMistakes: verify fails, naming the reason, when a lab is
// accidentally solved or a solution is broken.
func TestVerifyCatchesMistakes(t *testing.T) {
	isolate(t)
	l := theLabs(t)[0]
	file := filepath.Join(l.Dir(), l.Files[0])
	sol := filepath.Join(l.SolutionDir(), l.Files[0])
	for _, c := range []struct {
		name    string
		replace map[string]string
		want    string
	}{
		{"solved lab", map[string]string{file: sol}, "passed but must fail"},
		{"broken solution", map[string]string{sol: file}, "but must pass"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRepo(t, c.replace)
			code, out, errOut := run(t, dir, "verify", "-runs", "1", "-gomaxprocs", "2", "-no-variants", l.ID)
			if code != ExitFail || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want 1 with %q\n%s\n%s", code, c.want, out, errOut)
			}
		})
	}
	t.Run("catalog disagrees", func(t *testing.T) {
		dir := copyRepo(t, nil)
		os.MkdirAll(filepath.Join(dir, "labs", "stray"), 0o755)
		code, out, _ := run(t, dir, "verify", "-runs", "1", "-gomaxprocs", "2", "-no-variants", l.ID)
		if code != ExitFail || !strings.Contains(out, "labs/stray is not in the curriculum") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
}

func kindStrings(ks []catalog.Kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}
