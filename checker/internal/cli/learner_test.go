package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/report"
)

// These tests reproduce what a new user hit (issue 11): each failed before
// its fix.

func checkJSON(t *testing.T, dir string, args ...string) (int, report.Document, string) {
	t.Helper()
	code, out, errOut := run(t, dir, append([]string{"-json"}, args...)...)
	var doc report.Document
	if code != ExitUsage && code != ExitError {
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, out, errOut)
		}
	}
	return code, doc, errOut
}

func labDoc(t *testing.T, doc report.Document, id string) report.LabDoc {
	t.Helper()
	for _, l := range doc.Labs {
		if l.ID == id {
			return l
		}
	}
	t.Fatalf("no %s in the document", id)
	return report.LabDoc{}
}

// One lab's missing folder, or missing Go files, affects that lab alone,
// says how to restore it, and leaves the other labs' saved progress be.
func TestOneBrokenLabAffectsItAlone(t *testing.T) {
	dir := copyRepo(t, nil)
	if code, _, errOut := checkJSON(t, dir, "hitcounter"); code != ExitFail {
		t.Fatalf("first run: exit %d %s", code, errOut)
	}
	before := loadProgress(dir).Results["hitcounter"]

	os.RemoveAll(filepath.Join(dir, "labs/fares"))
	files, _ := filepath.Glob(filepath.Join(dir, "labs/bank/*.go"))
	for _, f := range files {
		os.Remove(f)
	}
	code, doc, errOut := checkJSON(t, dir, "hitcounter", "fares", "bank")
	if code != ExitFail {
		t.Errorf("exit %d, want 1: a lab the learner deleted is a failing lab, not a checker failure\n%s", code, errOut)
	}
	if hc := labDoc(t, doc, "hitcounter"); hc.Status != "broken" || hc.Kind != "race" {
		t.Errorf("hitcounter: %s %s (%s); want broken: race, untouched by the other labs", hc.Status, hc.Kind, hc.Summary)
	}
	for id, want := range map[string]string{
		"fares": "git checkout -- labs/fares",
		"bank":  "git checkout -- labs/bank/bank.go",
	} {
		if l := labDoc(t, doc, id); l.Status != "error" || !strings.Contains(l.Error, want) {
			t.Errorf("%s: %s %q; want error saying %q", id, l.Status, l.Error, want)
		}
	}
	p := loadProgress(dir)
	if _, ok := p.Results["fares"]; ok {
		t.Errorf("a deleted lab's error was saved as its verdict: %+v", p.Results["fares"])
	}
	if got := p.Results["hitcounter"]; got.Status != before.Status || got.Kind != before.Kind {
		t.Errorf("hitcounter's progress changed from %+v to %+v", before, got)
	}
}

// A deleted or edited test file is restored for the run, as the grader
// would, with a note that says so and how to restore it.
func TestEditedTestsRunAsShipped(t *testing.T) {
	dir := copyRepo(t, nil)
	os.Remove(filepath.Join(dir, "labs/hitcounter/hitcounter_test.go"))
	os.WriteFile(filepath.Join(dir, "labs/hitcounter/mine_test.go"), []byte("package hitcounter\n\nimport \"testing\"\n\nfunc TestMine(t *testing.T) { t.Fatal(\"mine\") }\n"), 0o644)
	code, out, errOut := run(t, dir, "run", "hitcounter")
	if code != ExitFail || !strings.Contains(out, "broken: race") {
		t.Errorf("exit %d, want the lab's real verdict, broken: race\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"labs/hitcounter/hitcounter_test.go is missing; the checker ran the original",
		"git checkout -- labs/hitcounter/hitcounter_test.go",
		"labs/hitcounter/mine_test.go is not part of the lab",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "TestMine") {
		t.Errorf("the learner's own test ran:\n%s", out)
	}
}

// A fix that passes its tests but that grading would reject is not called
// fixed: the learner hears why at once.
func TestGradingPolicyAppliesToTheLearner(t *testing.T) {
	dir := copyRepo(t, map[string]string{"labs/hitcounter/hitcounter.go": "solutions/hitcounter/hitcounter.go"})
	file := filepath.Join(dir, "labs/hitcounter/hitcounter.go")
	src, _ := os.ReadFile(file)
	src = bytes.Replace(src, []byte("package hitcounter\n"), []byte("package hitcounter\n\nimport _ \"log\"\n"), 1)
	os.WriteFile(file, src, 0o644)
	code, doc, errOut := checkJSON(t, dir, "hitcounter")
	l := labDoc(t, doc, "hitcounter")
	if code != ExitFail || l.Status != "broken" || l.Kind != "rejected" || !strings.Contains(l.Summary, `"log"`) {
		t.Errorf("exit %d, %s %s: %s; want broken: rejected naming \"log\"\n%s", code, l.Status, l.Kind, l.Summary, errOut)
	}
	if loadProgress(dir).isDone(dir, theLabs(t), "hitcounter") {
		t.Error("a lab grading rejects counts as done")
	}
}

// After a good run, a C compiler that went away is the machine's problem:
// exit 3 with what to do, and no verdict saved.
func TestToolchainIsCheckedEveryRun(t *testing.T) {
	dir := copyRepo(t, nil)
	if code, _, errOut := checkJSON(t, dir, "hitcounter"); code != ExitFail {
		t.Fatalf("first run: exit %d %s", code, errOut)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ProgressFile))
	t.Setenv("CC", "/nonexistent/cc")
	code, _, errOut := run(t, dir, "check", "hitcounter")
	if code != ExitError || !strings.Contains(errOut, "C compiler") {
		t.Errorf("exit %d, %q; want 3 and a word about the C compiler", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ProgressFile)); !bytes.Equal(before, after) {
		t.Errorf("progress changed by a run that could not happen:\n%s\n%s", before, after)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// A save cancels a run that hangs and starts a new one at once.
func TestWatchSaveCancelsAHungRun(t *testing.T) {
	dir := copyRepo(t, nil)
	file := filepath.Join(dir, "labs/hitcounter/hitcounter.go")
	src, _ := os.ReadFile(file)
	hung := bytes.Replace(src, []byte("\tvar stats Stats\n"), []byte("\tfor {\n\t}\n\tvar stats Stats\n"), 1)
	if bytes.Equal(hung, src) {
		t.Fatal("could not make the lab hang")
	}
	os.WriteFile(file, hung, 0o644)
	fixed, _ := os.ReadFile(filepath.Join(root(t), "solutions/hitcounter/hitcounter.go"))

	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Stdout: &out, Stderr: &out, Dir: dir}, []string{"watch", "-exit-when-fixed", "hitcounter"})
	}()
	defer func() {
		cancel()
		<-done
	}()
	if !waitFor(60*time.Second, func() bool { return strings.Contains(out.String(), "running hitcounter") }) {
		t.Fatalf("watch did not start running:\n%s", out.String())
	}
	time.Sleep(time.Second) // the run is in the test binary's endless loop now
	saved := time.Now()
	os.WriteFile(file, fixed, 0o644)
	// A new run starts at once, without waiting for the hung one.
	if !waitFor(5*time.Second, func() bool { return strings.Count(out.String(), "running hitcounter") >= 2 }) {
		t.Fatalf("no new run 5s after the save: the hung run was waited for\n%s", out.String())
	}
	restarted := time.Since(saved)
	select {
	case code := <-done:
		if code != ExitPass {
			t.Errorf("exit %d, want 0\n%s", code, out.String())
		}
		done <- code
	case <-time.After(2 * time.Minute):
		t.Fatalf("no verdict 2 minutes after the save\n%s", out.String())
	}
	took := time.Since(saved)
	got := out.String()
	var figure float64
	if i := strings.LastIndex(got, "verdict "); i < 0 || !strings.Contains(got[i:], "s after the change") {
		t.Errorf("no verdict figure:\n%s", got)
	} else if _, err := fmt.Sscanf(got[i:], "verdict %fs after the change", &figure); err != nil || time.Duration(figure*float64(time.Second)) > took+time.Second {
		t.Errorf("the figure %q does not count from the save (%s ago)", got[i:i+40], took)
	}
	t.Logf("new run %s after the save; verdict %s after it", restarted.Round(time.Millisecond), took.Round(time.Millisecond))
	if !strings.Contains(got, "fixed") || strings.Contains(got[strings.LastIndex(got, "fixed"):], "Ctrl-C to stop") {
		t.Errorf("watch -exit-when-fixed must end on the verdict:\n%s", got)
	}
}

// Ctrl-C during a build leaves none of the go command's work folders.
func TestInterruptedBuildLeavesNoTemporaryFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cold build")
	}
	dir := copyRepo(t, nil)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("GOCACHE", filepath.Join(t.TempDir(), "gocache")) // cold: the build takes long enough to interrupt
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	var out syncBuffer
	Main(ctx, Env{Stdout: &out, Stderr: &out, Dir: dir}, []string{"check", "hitcounter"})
	left, _ := filepath.Glob(filepath.Join(tmp, "go-build*"))
	gotmp, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "racelab", "*", "bin", ".gotmp-*"))
	if len(left)+len(gotmp) > 0 {
		t.Errorf("left behind: %v %v", left, gotmp)
	}
}

// `run -v` shows the raw output without test2json's bare "=== NAME" lines.
func TestVerboseOutputIsClean(t *testing.T) {
	_, out, _ := run(t, shared(t), "run", "-v", "fares")
	if strings.Contains(out, "=== NAME  \n") || strings.Contains(out, "=== NAME\n") {
		t.Errorf("bare === NAME lines in -v output:\n%s", out)
	}
}

// The table fits the terminal's width, wrapping at words and keeping the
// key fact of each reason.
func TestTableFitsTheWidth(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	_, out, _ := run(t, shared(t), "check", "renderfarm", "hitcounter")
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "Farm.Workers is 3") {
		t.Errorf("the renderfarm row lost its key fact:\n%s", out)
	}
}

// Progress is kept in the clone; the binary cache is bounded.
func TestProgressLivesInTheClone(t *testing.T) {
	dir := shared(t)
	run(t, dir, "hint", "bank")
	if _, err := os.Stat(filepath.Join(dir, ProgressFile)); err != nil {
		t.Errorf("no progress file at the clone's root: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root(t), ".gitignore"))
	if err != nil || !strings.Contains(string(data), ProgressFile) {
		t.Errorf(".gitignore does not ignore %s", ProgressFile)
	}
}

func TestSmallInconsistencies(t *testing.T) {
	dir := shared(t)
	if code, _, errOut := run(t, dir, "hitcounter"); code != ExitUsage || !strings.Contains(errOut, "go run ./checker run hitcounter") {
		t.Errorf("checker hitcounter: exit %d %q; want a pointer to `run hitcounter`", code, errOut)
	}
	if code, _, errOut := run(t, dir, "run", "all", "-json"); code != ExitFail || strings.Contains(errOut, "did you mean") {
		t.Errorf("run all: exit %d %q; want every lab run", code, errOut)
	}
	if code, out, _ := run(t, dir, "help"); code != ExitPass || !strings.Contains(out, "check [flags] [LAB...]") && !strings.Contains(out, "run every lab (or those named)") {
		t.Errorf("help does not say check takes labs:\n%s", out)
	}
	if code, _, errOut := run(t, dir, "hint", "-no-color", "bank"); code != ExitPass {
		t.Errorf("hint -no-color: exit %d %s", code, errOut)
	}
}

// reset restores a lab as shipped, keeping the learner's version, and
// refuses a lab with no changes.
func TestReset(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := copyRepo(t, nil)
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "shipped"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if code, _, errOut := run(t, dir, "reset", "bank"); code == ExitPass || !strings.Contains(errOut, "no changes") {
		t.Errorf("reset of an unchanged lab: exit %d %q", code, errOut)
	}
	file := filepath.Join(dir, "labs/bank/bank.go")
	shipped, _ := os.ReadFile(file)
	os.WriteFile(file, []byte("package bank // my work\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "labs/bank/notes.go"), []byte("package bank\n"), 0o644)
	code, out, errOut := run(t, dir, "reset", "bank")
	if code != ExitPass {
		t.Fatalf("reset: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, shipped) {
		t.Error("bank.go was not restored")
	}
	if _, err := os.Stat(filepath.Join(dir, "labs/bank/notes.go")); err == nil {
		t.Error("an added file was left in the lab")
	}
	i := strings.Index(out, "kept in ")
	if i < 0 {
		t.Fatalf("reset does not say where the backup is: %q", out)
	}
	backup := strings.TrimSpace(out[i+len("kept in "):])
	if !filepath.IsAbs(backup) {
		backup = filepath.Join(dir, backup)
	}
	if got, _ := os.ReadFile(filepath.Join(backup, "bank.go")); string(got) != "package bank // my work\n" {
		t.Errorf("the backup in %s does not hold the learner's bank.go: %q", backup, got)
	}
}

// solution shows the reference as a diff, only once the lab passes.
func TestSolution(t *testing.T) {
	dir := copyRepo(t, nil)
	if code, _, errOut := run(t, dir, "solution", "hitcounter"); code != ExitUsage || !strings.Contains(errOut, "--force") {
		t.Errorf("solution before the lab passes: exit %d %q", code, errOut)
	}
	code, out, _ := run(t, dir, "solution", "--force", "hitcounter")
	if code != ExitPass || !strings.Contains(out, "+++ ") || !strings.Contains(out, "@@ ") {
		t.Errorf("solution --force: exit %d\n%s", code, out)
	}
}

// TestUnifiedDiff compares with what diff -u prints for the same files.
func TestUnifiedDiff(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n",
			"@@ -1,10 +1,11 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n i\n j\n+k\n"},
		{"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n", "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl\nm\n",
			"@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n@@ -10,3 +10,4 @@\n j\n k\n l\n+m\n"},
	} {
		if got := unifiedDiff("x", "y", c.a, c.b); got != "--- x\n+++ y\n"+c.want {
			t.Errorf("diff:\n%s\nwant:\n%s", got, c.want)
		}
	}
	if unifiedDiff("x", "y", "a\n", "a\n") != "" {
		t.Error("equal files have a diff")
	}
}

// room shows a facilitator where each learner is, and who is stuck, from
// progress files alone.
func TestRoom(t *testing.T) {
	dir := shared(t)
	cat := theLabs(t)
	room := t.TempDir()
	now := time.Now().UTC()
	write := func(name string, p progress) {
		os.MkdirAll(filepath.Join(room, name), 0o755)
		data, _ := json.Marshal(p)
		os.WriteFile(filepath.Join(room, name, ProgressFile), data, 0o644)
	}
	first, second := cat[0], cat[1]
	ahead := emptyProgress()
	ahead.Results[first.ID] = savedResult{Status: "fixed", When: now.Add(-10 * time.Minute)}
	ahead.Done[first.ID] = now.Add(-10 * time.Minute)
	ahead.Started[second.ID] = now.Add(-5 * time.Minute)
	ahead.Results[second.ID] = savedResult{Status: "broken", Kind: "race", When: now}
	write("alice", ahead)
	stuck := emptyProgress()
	stuck.Started[first.ID] = now.Add(-time.Duration(3*first.Minutes) * time.Minute)
	stuck.Results[first.ID] = savedResult{Status: "broken", Kind: "race", When: now}
	stuck.Hints[first.ID] = 2
	write("bob", stuck)
	os.WriteFile(filepath.Join(room, "carol.json"), []byte("not json"), 0o644)

	code, out, errOut := run(t, dir, "room", room)
	if code != ExitPass {
		t.Fatalf("exit %d %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[1], "bob") || !strings.Contains(lines[1], "stuck") || !strings.Contains(lines[1], first.ID) {
		t.Errorf("bob, stuck on %s, should come first:\n%s", first.ID, out)
	}
	if !strings.Contains(out, "alice") || !strings.Contains(out, "1/") || !strings.Contains(out, second.ID) {
		t.Errorf("alice should be on %s with one lab done:\n%s", second.ID, out)
	}
	if !strings.Contains(out, "carol") || !strings.Contains(out, "cannot read") {
		t.Errorf("carol's unreadable file should be named:\n%s", out)
	}
	if code, _, errOut := run(t, dir, "room", filepath.Join(room, "nobody")); code != ExitUsage || !strings.Contains(errOut, "does not exist") {
		t.Errorf("a missing path: exit %d %q", code, errOut)
	}
}

// Paths in the report are relative to where the command was run, so a
// terminal or an editor opens them with a click.
func TestPathsRelativeToTheWorkingDirectory(t *testing.T) {
	dir := filepath.Join(shared(t), "labs", "hitcounter")
	code, out, errOut := run(t, dir, "run", "hitcounter")
	if code != ExitFail || !strings.Contains(out, "at hitcounter.go:") || strings.Contains(out, " labs/hitcounter/hitcounter.go") {
		t.Errorf("exit %d; want paths relative to labs/hitcounter:\n%s\n%s", code, out, errOut)
	}
}
