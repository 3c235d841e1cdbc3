package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
	"github.com/racelab/racelab/checker/internal/shipped"
)

const repo = "../../.."

// run runs the checker in-process in dir and returns its exit code and
// output.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), Env{Stdout: &stdout, Stderr: &stderr, Dir: dir}, args)
	return code, stdout.String(), stderr.String()
}

// TestMain gives the package's tests one checker cache of their own (as a
// new user has), shared between them so each lab's test binary is linked
// once, while the Go build cache stays the user's (rebuilding the race
// runtime would take minutes). The grader's build cache is the user's
// too, shared with the grade package's tests: making it compiles the
// race-instrumented standard library from nothing, it is keyed by the
// toolchain and the labs' contents, and it is locked while it is written.
func TestMain(m *testing.M) {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go env GOCACHE:", err)
		os.Exit(1)
	}
	cache, err := os.MkdirTemp("", "racelab-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot, _ := filepath.Abs(repo)
	userGrade := filepath.Join(engine.CacheDir(repoRoot), "grade")
	os.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	os.Setenv("XDG_CACHE_HOME", cache)
	testGrade := filepath.Join(engine.CacheDir(repoRoot), "grade")
	if os.MkdirAll(userGrade, 0o755) == nil && os.MkdirAll(filepath.Dir(testGrade), 0o755) == nil {
		os.Symlink(userGrade, testGrade)
	}
	os.Setenv("NO_COLOR", "1")
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}

// isolate is kept for tests that must not share anything with the others.
func isolate(t *testing.T) {
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

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedErr  error
)

// shared is one copy of the repository's labs as shipped, for the tests
// that only run them: a learner's fixes in this clone never change what
// the tests see, and the tests never write into this clone. Its progress
// file is removed, so each test starts as a new learner.
func shared(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() {
		var dir string
		if dir, sharedErr = os.MkdirTemp("", "racelab-shipped-"); sharedErr == nil {
			sharedDir = filepath.Join(dir, "racelab")
			sharedErr = shipped.Copy(context.Background(), root(t), sharedDir)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	os.Remove(filepath.Join(sharedDir, ProgressFile))
	return sharedDir
}

// copyRepo makes a copy of the labs as shipped that the test may change,
// with the given files (relative to the copy) replaced by others
// (relative to the repository).
func copyRepo(t *testing.T, replace map[string]string) string {
	t.Helper()
	src, dst := root(t), filepath.Join(t.TempDir(), "racelab")
	if err := shipped.Copy(context.Background(), src, dst); err != nil {
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
	if code, out, _ := run(t, shared(t), "help"); code != ExitPass || !strings.Contains(out, "verify") || !strings.Contains(out, "grade") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, shared(t), "help", "grade"); code != ExitPass || !strings.Contains(out, "-submission") {
		t.Errorf("help grade: exit %d\n%s", code, out)
	}
	for _, cmd := range []string{"run", "room", "grade", "doctor", "verify", "watch"} {
		if code, out, _ := run(t, shared(t), cmd, "-h"); code != ExitPass || !strings.Contains(out, "usage: go run ./checker "+cmd) || !strings.Contains(out, "flags:") {
			t.Errorf("%s -h: exit %d, want its usage and flags on stdout\n%s", cmd, code, out)
		}
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
		code, _, errOut := run(t, shared(t), c.args...)
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
		code, _, errOut := run(t, shared(t))
		if code != ExitError || !strings.Contains(errOut, "needs cgo") || !strings.Contains(errOut, "CGO_ENABLED=1") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("no go", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		code, _, errOut := run(t, shared(t))
		if code != ExitError || !strings.Contains(errOut, "go command is not on PATH") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
}

// TestShippedLabs is the main job on a fresh clone: every lab broken, with
// its declared kind, located in the lab's own code. It runs the first lab
// of each block, which covers every part of the reports; `make labcheck`
// (verify -shipped) holds every lab to the same, and more.
func TestShippedLabs(t *testing.T) {
	isolate(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	dir := shared(t)
	labs := firstOfEachBlock(theLabs(t))
	ids := labs.IDs()
	code, out, errOut := run(t, dir, append([]string{"-json", "-junit", junit}, ids...)...)
	if code != ExitFail {
		t.Fatalf("exit %d, want 1 (labs are broken as shipped)\n%s", code, errOut)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if doc.Schema != report.CheckSchema || doc.Summary.Total != len(labs) || doc.Summary.Fixed != 0 || doc.Summary.Next != labs[0].ID {
		t.Errorf("summary: %+v (schema %q)", doc.Summary, doc.Schema)
	}
	for i, l := range labs {
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
	if err := xml.Unmarshal(data, &suites); err != nil || len(suites.Suites) != len(labs) {
		t.Fatalf("junit: %v, %d suites\n%s", err, len(suites.Suites), data)
	}
	for _, s := range suites.Suites {
		if s.Failures == 0 {
			t.Errorf("junit suite %s has no failures", s.Name)
		}
	}

	// The table, for a person.
	code, out, _ = run(t, dir, append([]string{"check"}, ids...)...)
	if code != ExitFail || !strings.Contains(out, fmt.Sprintf("0 of %d labs fixed", len(labs))) || !strings.Contains(out, "Next: "+labs[0].ID) {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	// list remembers the verdicts.
	_, out, _ = run(t, dir, "list")
	if !strings.Contains(out, "broken: "+string(theLabs(t)[0].Kinds[0])) {
		t.Errorf("list does not show the last verdict:\n%s", out)
	}
}

// TestSolvedCopy copies the solutions over the labs: every lab is fixed and
// the checker exits 0.
//
// Every solution is proved by verify; here two labs are enough.
func TestSolvedCopy(t *testing.T) {
	isolate(t)
	replace := map[string]string{}
	for _, id := range []string{"hitcounter", "bank"} {
		l, _ := theLabs(t).Lookup(id)
		for _, f := range l.Files {
			replace[filepath.Join(l.Dir(), f)] = filepath.Join(l.SolutionDir(), f)
		}
	}
	dir := copyRepo(t, replace)
	code, out, errOut := run(t, dir, "run", "hitcounter", "bank")
	if code != ExitPass || strings.Count(out, "fixed") < 2 || strings.Contains(out, "broken") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestWatch runs watch mode on a solved lab: it reports the lab fixed and,
// with -exit-when-fixed, returns.
func TestWatch(t *testing.T) {
	isolate(t)
	l := theLabs(t)[0]
	dir := copyRepo(t, map[string]string{filepath.Join(l.Dir(), l.Files[0]): filepath.Join(l.SolutionDir(), l.Files[0])})
	code, out, errOut := run(t, dir, "watch", "-exit-when-fixed", l.ID)
	if code != ExitPass || !strings.Contains(out, "✓ fixed") || !strings.Contains(out, "lab 1/") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestHints(t *testing.T) {
	isolate(t)
	l := theLabs(t)[0]
	dir := shared(t)
	_, out, _ := run(t, dir, "hint", l.ID)
	if !strings.Contains(out, "Hint 1 of") || strings.Contains(out, "Hint 2 of") {
		t.Errorf("first hint:\n%s", out)
	}
	_, out, _ = run(t, dir, "hint", l.ID)
	if !strings.Contains(out, "Hint 2 of") {
		t.Errorf("second hint:\n%s", out)
	}
	_, out, _ = run(t, dir, "hint", "-all", "-no-color", l.ID)
	if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(l.Hints[len(l.Hints)-1]), " ")) || !strings.Contains(out, "last hint") {
		t.Errorf("all hints:\n%s", out)
	}
	run(t, dir, "hint", "-reset", l.ID)
	if _, out, _ = run(t, dir, "hint", l.ID); strings.Contains(out, "Hint 2 of") {
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

// firstOfEachBlock is the first lab of each block, in curriculum order.
func firstOfEachBlock(cat catalog.Catalog) catalog.Catalog {
	var out catalog.Catalog
	seen := map[catalog.Block]bool{}
	for _, l := range cat {
		if !seen[l.Block] {
			seen[l.Block] = true
			out = append(out, l)
		}
	}
	return out
}

func kindStrings(ks []catalog.Kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}
