package grade

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/report"
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
	FIFO    []string          `json:"fifo"`
	Device  []string          // character devices (like /dev/zero), made when the test may
	Files   map[string]string // files made as named, for names git cannot hold
	Limits  struct {
		Time       string
		MemoryMiB  int64  `json:"memory_mib"`
		BuildTime  string `json:"build_time"`
		MaxSeconds int    `json:"max_seconds"`
		MaxJSONKiB int    `json:"max_json_kib"`
	}
	Labs map[string]struct {
		Status Status
		Reason string
	}
	Warnings []string
}

// The bounds every hostile case is held to, besides its documented
// Bound.
const (
	// graderMemory bounds the test process's peak resident memory: the
	// grader's own, for every case graded so far.
	graderMemory = 1536 << 20
	// buildOvershoot is how far over its memory limit a build may be seen
	// before it is killed (the limit is checked every runner.PollEvery).
	buildOvershoot = 512 << 20
)

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
	// The grader must never build untrusted code with the caller's build
	// cache: it is pointed at a folder that must never appear.
	forbidden := filepath.Join(t.TempDir(), "callers-gocache")
	tc.Env = append(without(tc.Env, "GOCACHE"), "GOCACHE="+forbidden)
	canary := inheritedCanary(t)
	dirs, err := os.ReadDir(filepath.Join(root, "checker/testdata/hostile"))
	if err != nil {
		t.Fatal(err)
	}
	// Fill the build cache's seed for the labs the cases grade, once, so
	// that its one-time cost is not charged to the first cases.
	used := map[string]bool{}
	for _, d := range dirs {
		var c hostileCase
		if data, err := os.ReadFile(filepath.Join(root, "checker/testdata/hostile", d.Name(), "want.json")); err == nil && json.Unmarshal(data, &c) == nil {
			for id := range c.Labs {
				used[id] = true
			}
		}
	}
	var labs []catalog.Lab
	for _, l := range theLabs(t) {
		if used[l.ID] {
			labs = append(labs, l)
		}
	}
	if err := PrepareCache(context.Background(), Options{Root: root, Labs: labs, Toolchain: tc}); err != nil {
		t.Fatal(err)
	}
	watch := watchProcesses(t, canary)
	t.Run("cases", func(t *testing.T) {
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			t.Run(d.Name(), func(t *testing.T) {
				t.Parallel()
				hostileCaseRun(t, root, tc, forbidden, d.Name())
			})
		}
	})
	for _, v := range watch() {
		t.Errorf("a graded process held a descriptor it must not have: %s", v)
	}
}

// TestHostileSubmissions writes every hostile case's submission into the
// folder named by RACELAB_HOSTILE_DUMP, to try a case by hand:
//
//	RACELAB_HOSTILE_DUMP=/tmp/hostile go test -run TestHostileSubmissions ./checker/internal/grade
//	go run ./checker grade /tmp/hostile/fifo-files
func TestHostileSubmissions(t *testing.T) {
	out := os.Getenv("RACELAB_HOSTILE_DUMP")
	if out == "" {
		t.Skip("set RACELAB_HOSTILE_DUMP to a folder to write the hostile submissions into")
	}
	root, err := filepath.Abs(repo)
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
		caseDir := filepath.Join(root, "checker/testdata/hostile", d.Name())
		var c hostileCase
		data, err := os.ReadFile(filepath.Join(caseDir, "want.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		makeSubmission(t, root, filepath.Join(out, d.Name()), caseDir, c)
	}
}

func hostileCaseRun(t *testing.T, root string, tc engine.Toolchain, forbidden, name string) {
	caseDir := filepath.Join(root, "checker/testdata/hostile", name)
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
	var buildLimit time.Duration
	if c.Limits.BuildTime != "" {
		buildLimit, _ = time.ParseDuration(c.Limits.BuildTime)
	}
	scratch := t.TempDir()
	before := fingerprint(t, root, "labs", "solutions", "go.mod", "go.sum") + fingerprint(t, sub, ".")
	opts := Options{Root: root, Submission: sub, Labs: labs, Toolchain: tc, Limits: lim, BuildLimit: buildLimit, Scratch: scratch}
	start := time.Now()
	type graded struct {
		res Result
		err error
	}
	done := make(chan graded, 1)
	go func() {
		res, err := Grade(context.Background(), opts)
		done <- graded{res, err}
	}()
	var res Result
	select {
	case g := <-done:
		if g.err != nil {
			t.Fatalf("Grade: %v", g.err)
		}
		res = g.res
	case <-time.After(Bound(opts, len(labs)) + time.Minute):
		t.Fatalf("grading hung: no result after its bound %v and a minute", Bound(opts, len(labs)))
	}
	took := time.Since(start)
	if took > res.Bound {
		t.Errorf("grading took %v, beyond its documented bound %v", took, res.Bound)
	}
	if c.Limits.MaxSeconds > 0 && took > time.Duration(c.Limits.MaxSeconds)*time.Second {
		t.Errorf("grading took %v, beyond the case's %ds", took, c.Limits.MaxSeconds)
	}
	if len(res.Labs) != len(labs) {
		t.Errorf("got grades for %d labs, want %d", len(res.Labs), len(labs))
	}
	for _, l := range res.Labs {
		want := c.Labs[l.Lab.ID]
		said := l.Reason
		for _, r := range l.Rejected {
			said += "\n" + r.Reason
		}
		if l.Status != want.Status || !strings.Contains(said, want.Reason) {
			t.Errorf("%s: got %s (%s), want %s with a reason containing %q\n%s", l.Lab.ID, l.Status, said, want.Status, want.Reason, tail(l.Output, 30))
		}
		if (l.Status == Pass) != (l.Points == l.Lab.Points) || l.Status != Pass && l.Points != 0 {
			t.Errorf("%s: %s with %d of %d points", l.Lab.ID, l.Status, l.Points, l.Lab.Points)
		}
		if memLimit := withDefaults(opts).Limits.Memory; l.BuildPeakRSS > memLimit+buildOvershoot {
			t.Errorf("%s: the build was seen using %d MiB; its limit is %d MiB", l.Lab.ID, l.BuildPeakRSS>>20, memLimit>>20)
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
	if _, err := os.Stat(forbidden); err == nil {
		t.Errorf("grading wrote to the caller's build cache %s", forbidden)
	}
	if left, _ := os.ReadDir(scratch); len(left) > 0 {
		t.Errorf("grading left %d entries in its scratch directory", len(left))
	}
	doc, err := json.Marshal(NewDocument(res))
	if err != nil {
		t.Fatal(err)
	}
	maxJSON := 32<<10 + 32<<10*len(labs)
	if c.Limits.MaxJSONKiB > 0 {
		maxJSON = c.Limits.MaxJSONKiB << 10
	}
	if len(doc) > maxJSON {
		t.Errorf("the grade is %d KiB of JSON; the bound is %d KiB", len(doc)>>10, maxJSON>>10)
	}
	var text bytes.Buffer
	if err := WriteText(&text, report.Style{}, res); err != nil {
		t.Fatal(err)
	}
	if bad := controlChars(text.String()); bad != "" {
		t.Errorf("the report holds control characters (%s):\n%s", bad, text.String())
	}
	if peak := peakRSS(t); peak > graderMemory {
		t.Errorf("the grader's peak memory is %d MiB; the bound is %d MiB", peak>>20, graderMemory>>20)
	}
	t.Logf("graded in %v (bound %v); JSON %d bytes; builds peaked at %s", took.Round(time.Millisecond), res.Bound, len(doc), buildPeaks(res))
}

func buildPeaks(res Result) string {
	var s []string
	for _, l := range res.Labs {
		s = append(s, fmt.Sprintf("%s %d MiB in %v", l.Lab.ID, l.BuildPeakRSS>>20, l.BuildTime.Round(100*time.Millisecond)))
	}
	return strings.Join(s, ", ")
}

// controlChars describes the control characters in a report, other than
// its line breaks, or returns "".
func controlChars(s string) string {
	for i, r := range s {
		switch {
		case r == '\n':
		case r == utf8.RuneError:
			return fmt.Sprintf("invalid UTF-8 at byte %d", i)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			return fmt.Sprintf("%U at byte %d", r, i)
		}
	}
	return ""
}

// peakRSS is this process's peak resident memory.
func peakRSS(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// inheritedCanary makes a pipe without close-on-exec, as a descriptor the
// grader inherited from whatever started it would be, and returns how
// /proc shows it ("pipe:[123]").
func inheritedCanary(t *testing.T) string {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(p[0]); syscall.Close(p[1]) })
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", p[1]))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// watchProcesses looks at the open descriptors of every process of a
// grading, every few milliseconds, until the returned function is called,
// which returns what it saw that it must not have: the canary in any
// process, or a test binary's verdict pipe in any other process (a
// worker the tests started, a process the graded code started).
func watchProcesses(t *testing.T, canary string) func() []string {
	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		seen := map[string]bool{}
		var out []string
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- out
				return
			case <-tick.C:
			}
			procs := map[int]map[int]string{} // pid -> fd -> link
			cmdlines := map[int]string{}
			holders := map[string][]int{} // a test binary's fd 3 -> the pids holding it there
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				pid, err := strconv.Atoi(e.Name())
				if err != nil || pid == os.Getpid() {
					continue
				}
				env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
				if err != nil || !bytes.Contains(env, []byte("RACELAB_GRADER_RUN=")) || !descends(pid) {
					continue
				}
				fds := map[int]string{}
				links, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
				for _, l := range links {
					fd, _ := strconv.Atoi(l.Name())
					if link, err := os.Readlink("/proc/" + e.Name() + "/fd/" + l.Name()); err == nil {
						fds[fd] = link
					}
				}
				procs[pid] = fds
				cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				cmdlines[pid] = string(cmd)
				if bytes.Contains(cmd, []byte("-test.paniconexit0")) && strings.HasPrefix(fds[3], "pipe:") {
					holders[fds[3]] = append(holders[fds[3]], pid)
				}
			}
			// The test binary is the holder whose parent does not hold the
			// pipe. A child it is starting holds the pipe too, with the same
			// command line, between fork and exec, where close-on-exec has
			// not yet closed it: that is not a leak.
			verdicts := map[string]int{} // a test binary's fd 3 -> its pid
			for link, pids := range holders {
				for _, pid := range pids {
					if !slices.Contains(pids, runner.ParentPID(pid)) {
						verdicts[link] = pid
					}
				}
			}
			forking := func(pid, owner int) bool {
				return runner.ParentPID(pid) == owner && cmdlines[pid] == cmdlines[owner]
			}
			for pid, fds := range procs {
				for fd, link := range fds {
					var v string
					switch owner, ok := verdicts[link]; {
					case link == canary:
						v = fmt.Sprintf("process %d holds the grader's inherited descriptor as fd %d", pid, fd)
					case ok && owner != pid && !forking(pid, owner):
						v = fmt.Sprintf("process %d holds the verdict pipe of test binary %d as fd %d", pid, owner, fd)
					}
					if v != "" && !seen[v] {
						seen[v] = true
						out = append(out, v)
					}
				}
			}
		}
	}()
	return func() []string {
		close(stop)
		return <-done
	}
}

// descends reports whether pid is a descendant of this process (other
// graders may run on the machine).
func descends(pid int) bool {
	for range 64 {
		pid = runner.ParentPID(pid)
		switch pid {
		case os.Getpid():
			return true
		case 0, 1:
			return false
		}
	}
	return false
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
				if f.IsDir() || dir == l.SolutionDir() && (c.Base != "solutions" || !slices.Contains(l.Files, f.Name())) {
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
			if !strings.Contains(src, e.Replace[0]) {
				t.Fatalf("edit of %s: %q not found; update the case", e.File, e.Replace[0])
			}
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
	for f, content := range c.Files {
		write(t, filepath.Join(sub, f), []byte(content))
	}
	for _, f := range c.Delete {
		os.RemoveAll(filepath.Join(sub, f))
	}
	for _, f := range c.FIFO {
		os.RemoveAll(filepath.Join(sub, f))
		if err := syscall.Mkfifo(filepath.Join(sub, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range c.Device {
		os.RemoveAll(filepath.Join(sub, f))
		// 1, 5 is /dev/zero: endless, and never at end of file.
		if err := syscall.Mknod(filepath.Join(sub, f), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
			t.Logf("cannot make a device here (%v): the case runs without it", err)
		}
	}
	for f, target := range c.Symlink {
		target = strings.NewReplacer("{root}", root, "{sub}", sub).Replace(target)
		os.RemoveAll(filepath.Join(sub, f))
		if err := os.MkdirAll(filepath.Dir(filepath.Join(sub, f)), 0o755); err != nil {
			t.Fatal(err)
		}
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
// It never opens anything but a regular file.
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
	lab := catalog.Lab{ID: "bank", Imports: []string{"github.com/sasha-s/go-deadlock"}}
	const dl = "github.com/sasha-s/go-deadlock"
	for _, c := range []struct {
		src      string
		pristine string
		want     string // a substring of the first rejection, or "" for none
	}{
		{"package bank\n\nimport \"sync\"\n\nvar mu sync.Mutex\n", "", ""},
		{"package bank\n\nimport \"os\"\n\nvar _ = os.Exit\n", "", `imports "os"`},
		{"package bank\n\nimport \"C\"\n", "", `imports "C" (cgo)`},
		{"package other\n", "", "must be package bank"},
		{"package bank\n\n//go:noinline\nfunc f() {}\n", "", "directive //go:noinline is not allowed"},
		{"package bank\n\n//line other.go:1\nfunc f() {}\n", "", "directive //line"},
		{"package bank\n\nfunc racelabGraderRun() {}\n", "", "reserved for the grader"},
		{"package bank\n\nfunc f( {\n", "", "does not parse"},
		{"package bank\n\nimport \"internal/racelabgrader\"\n", "", "which graded code may not"},

		// Build constraints, in every spelling Go honours.
		{"//go:build ignore\n\npackage bank\n", "", `build constraint "//go:build ignore"`},
		{"//go:build\tignore\n\npackage bank\n", "", "build constraint"},
		{"  //go:build windows\n\npackage bank\n", "", "build constraint"},
		{"//+build ignore\n\npackage bank\n", "", `build constraint "//+build ignore"`},
		{"//\t+build linux,!amd64\n\npackage bank\n", "", "build constraint"},
		{"// Package bank.\n//   +build ignore\n\npackage bank\n", "", "build constraint"},
		{"/* a comment */\n//go:build ignore\n\npackage bank\n", "", "build constraint"},
		{"//go:build ignore\r\n\r\npackage bank\r\n", "", "build constraint"},
		{"\xef\xbb\xbf//go:build ignore\n\npackage bank\n", "", "build constraint"},
		{"package bank\n\n// +build ignore\n", "", "build constraints are not allowed"},

		// A lab pinned to a Go version keeps exactly its line.
		{"//go:build go1.21\n\npackage bank\n", "//go:build go1.21\n\npackage bank\n", ""},
		{"// Copyright.\n\n//go:build go1.21\n\npackage bank\n", "//go:build go1.21\n\npackage bank\n", ""},
		{"package bank\n", "//go:build go1.21\n\npackage bank\n", `removes the lab's build line "//go:build go1.21"`},
		{"//go:build go1.22\n\npackage bank\n", "//go:build go1.21\n\npackage bank\n", `changes the lab's build line "//go:build go1.21" to "//go:build go1.22"`},
		{"//go:build go1.21 && linux\n\npackage bank\n", "//go:build go1.21\n\npackage bank\n", "build constraint"},
		{"//go:build go1.21\n// +build ignore\n\npackage bank\n", "//go:build go1.21\n\npackage bank\n", `build constraint "// +build ignore"`},
		{"//go:build go1.21\n\npackage bank\n", "", "build constraint"},
		{"//go:build race\n\npackage bank\n", "//go:build race\n\npackage bank\n", "build constraint"},

		// A detector's settings are out of reach, however it is imported.
		{"package bank\n\nimport \"" + dl + "\"\n\nvar mu deadlock.Mutex\n", "", ""},
		{"package bank\n\nimport \"" + dl + "\"\n\nfunc init() { deadlock.Opts.Disable = true }\n", "", "uses deadlock.Opts"},
		{"package bank\n\nimport \"" + dl + "\"\n\nvar _ = deadlock.Opts.OnPotentialDeadlock\n", "", "uses deadlock.Opts"},
		{"package bank\n\nimport dl \"" + dl + "\"\n\nfunc init() { dl.Opts.DeadlockTimeout = 0 }\n", "", "uses dl.Opts"},
		{"package bank\n\nimport dl \"" + dl + "\"\n\nvar o = &dl.Opts\n", "", "uses dl.Opts"},
		{"package bank\n\nimport . \"" + dl + "\"\n\nfunc init() { Opts.Disable = true }\n", "", "with a dot"},
		{"package bank\n\nimport \"" + dl + "\"\n\nfunc init() { deadlock.NewCond = nil }\n", "", "changes deadlock.NewCond"},
		// Another package's variables are not graded code's to change.
		{"package bank\n\nimport \"io\"\n\nfunc init() { io.EOF = nil }\n", "", "changes io.EOF"},
		{"package bank\n\nimport \"io\"\n\nvar p = &io.ErrShortWrite\n", "", "changes io.ErrShortWrite"},
		{"package bank\n\nimport (\"time\"; \"fmt\")\n\nvar _ = fmt.Sprint(time.Second)\n", "", ""},
	} {
		var pristine []byte
		if c.pristine != "" {
			pristine = []byte(c.pristine)
		}
		rej := CheckSource(lab, "labs/bank/bank.go", []byte(c.src), pristine)
		switch {
		case c.want == "" && len(rej) > 0:
			t.Errorf("%q rejected: %v", c.src, rej)
		case c.want != "" && !slices.ContainsFunc(rej, func(r Rejection) bool { return strings.Contains(r.Reason, c.want) }):
			t.Errorf("%q: got %v, want a rejection containing %q", c.src, rej, c.want)
		}
	}
}

// TestConstraintsAsGoReadsThem: headerConstraints finds exactly the
// lines go/build honours, on the same files.
func TestConstraintsAsGoReadsThem(t *testing.T) {
	dir := t.TempDir()
	for i, src := range []string{
		"//go:build ignore\n\npackage p\n",
		"//+build ignore\n\npackage p\n",
		"//\t+build ignore\n\npackage p\n",
		"// +build ignore\npackage p\n", // no blank line: not a constraint
		"/*\n//go:build ignore\n*/\npackage p\n",
		"package p\n\n//go:build ignore\n",
		"// Doc.\n\n//   +build ignore\n\n// More.\npackage p\n",
	} {
		name := fmt.Sprintf("f%d.go", i)
		write(t, filepath.Join(dir, name), []byte(src))
		match, err := build.Default.MatchFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if found := len(headerConstraints([]byte(src))) > 0; found == match {
			t.Errorf("%q: go/build includes the file: %v; headerConstraints found a constraint: %v", src, match, found)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":            "plain text",
		"\x1b[2J\x1b[Hok":       `\x1b[2J\x1b[Hok`,
		"line\nbreak\r":         `line\nbreak\r`,
		"bell\a del\x7f":        `bell\x07 del\x7f`,
		"csi \u009b1m":          `csi \u009b1m`,
		"rlo \u202egnp.exe":     `rlo \u202egnp.exe`,
		"bad \xff utf8":         `bad \xff utf8`,
		"sep \u2028 x":          `sep \u2028 x`,
		"already \\x1b escaped": "already \\x1b escaped",
		"unicode: ✓ é":          "unicode: ✓ é",
	} {
		if got := escape(in, ""); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		if bad := controlChars(escape(in, "")); bad != "" {
			t.Errorf("escape(%q) still holds %s", in, bad)
		}
	}
	if got := multiLine("a\nb\x1bc", 100); got != "a\nb\\x1bc" {
		t.Errorf("multiLine kept %q", got)
	}
	if got := clip("ééééé", 7); got != "éé…" {
		t.Errorf("clip = %q", got)
	}
}

// TestDiagnosisIsBounded: output crafted to make the classifier's work
// grow with the square of its size (tens of thousands of forged tests
// left running, and of distinct race reports) is diagnosed within its
// bound, and the grade it makes stays small.
func TestDiagnosisIsBounded(t *testing.T) {
	lab := theLabs(t)[0]
	test := lab.Tests[0]
	events := []diagnose.Event{{Action: "run", Test: test}}
	for i := range 20000 {
		forged := fmt.Sprintf("Test%d", i)
		events = append(events,
			diagnose.Event{Action: "run", Test: forged},
			diagnose.Event{Action: "output", Test: test, Output: "WARNING: DATA RACE\n"},
			diagnose.Event{Action: "output", Test: test, Output: "Write at 0x00c000012345 by goroutine 7:\n"},
			diagnose.Event{Action: "output", Test: test, Output: "  " + lab.ID + ".f()\n"},
			diagnose.Event{Action: "output", Test: test, Output: fmt.Sprintf("      /src/%s/%s:%d +0x1\n", lab.Dir(), lab.Files[0], i)},
			diagnose.Event{Action: "output", Test: test, Output: "==================\n"},
			diagnose.Event{Action: "output", Test: test, Output: fmt.Sprintf("panic: \x1b[2J%d\n", i)})
	}
	for i := range 20000 {
		events = append(events, diagnose.Event{Action: "pass", Test: fmt.Sprintf("Test%d", i)})
	}
	events = append(events, diagnose.Event{Action: "fail", Test: test})
	b := &bounded{lab: lab}
	start := time.Now()
	res := b.diagnose(diagnose.Run{Lab: diagnose.Lab{ID: lab.ID, RelDir: lab.Dir(), Files: lab.Files}, Events: events, Exit: 1})
	took := time.Since(start)
	if took > DiagnoseLimit+time.Second {
		t.Errorf("diagnosis took %v; the bound is %v", took, DiagnoseLimit)
	}
	if len(res.Findings) > maxFindings+1 {
		t.Errorf("%d findings; the bound is %d", len(res.Findings), maxFindings+1)
	}
	if len(res.Tests) != 1 || res.Tests[0].Status != diagnose.Fail {
		t.Errorf("tests = %v, want only %s, failed", res.Tests, test)
	}
	if len(b.notes) == 0 {
		t.Error("no note says the output was cut")
	}
	doc, _ := json.Marshal(NewDocument(Result{Labs: []LabResult{finish(LabResult{Lab: lab, Status: Fail, Findings: res.Findings, Notes: b.notes})}}))
	if len(doc) > 64<<10 {
		t.Errorf("the grade is %d KiB", len(doc)>>10)
	}
	if bytes.Contains(doc, []byte{0x1b}) || bytes.Contains(doc, []byte(`\u001b`)) {
		t.Error("the grade holds an escape character")
	}
	t.Logf("diagnosed %d crafted events in %v: %d findings, %d bytes of JSON", len(events), took, len(res.Findings), len(doc))
}

// TestDiagnosisTimeLimit: a diagnosis that overruns its limit is given up
// on, and the lab is told so plainly.
func TestDiagnosisTimeLimit(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	classify = func(diagnose.Run) diagnose.Result { <-release; return diagnose.Result{} }
	defer func() { classify = diagnose.Diagnose }()
	lab := theLabs(t)[0]
	b := &bounded{lab: lab}
	start := time.Now()
	res := b.diagnose(diagnose.Run{Events: []diagnose.Event{{Action: "run", Test: lab.Tests[0]}, {Action: "pass", Test: lab.Tests[0]}}})
	if took := time.Since(start); took > DiagnoseLimit+5*time.Second {
		t.Errorf("took %v; the limit is %v", took, DiagnoseLimit)
	}
	if res.Passed() || !strings.Contains(res.Findings[0].Summary, "could not be checked") || len(b.notes) == 0 {
		t.Errorf("findings %v, notes %v; want one saying the output could not be checked", res.Findings, b.notes)
	}
	if len(res.Tests) != 1 || res.Tests[0].Status != diagnose.Pass {
		t.Errorf("tests = %v; the outcomes do not wait for diagnosis", res.Tests)
	}
}

// TestIntakeTimeLimit: a submission that cannot be read in time (a hung
// network mount) is an error for every lab, within the limit.
func TestIntakeTimeLimit(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	read = func(Options) submitted { <-release; return submitted{} }
	defer func() { read = readSubmission }()
	start := time.Now()
	s := takeSubmission(Options{IntakeLimit: 200 * time.Millisecond})
	if took := time.Since(start); took > 5*time.Second || !strings.Contains(s.problem, "took longer than 200ms") {
		t.Errorf("after %v: problem %q; want one saying reading took too long", took, s.problem)
	}
}

// TestArchive: a submission's files are read without following a link
// anywhere in a path, and without opening anything but a regular file.
func TestArchive(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.go"), []byte("secret"))
	write(t, filepath.Join(dir, "labs/a/a.go"), []byte("package a"))
	os.Symlink(outside, filepath.Join(dir, "labs/linked"))
	os.Symlink(filepath.Join(outside, "secret.go"), filepath.Join(dir, "labs/a/link.go"))
	if err := syscall.Mkfifo(filepath.Join(dir, "labs/a/fifo.go"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("labs", filepath.Join(dir, "alias"))
	a, err := openArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if data, _, err := a.readFile("labs/a/a.go", 100); err != nil || string(data) != "package a" {
		t.Errorf("readFile(labs/a/a.go) = %q, %v", data, err)
	}
	for rel, want := range map[string]kind{
		"labs/linked/secret.go": symlink, "labs/a/link.go": symlink, "alias/a/a.go": symlink,
		"labs/a/fifo.go": other, "labs/a/none.go": missing, "labs/a/a.go/x": regular,
	} {
		done := make(chan error, 1)
		go func() { _, _, err := a.readFile(rel, 100); done <- err }()
		select {
		case err := <-done:
			var pe *pathError
			if !errors.As(err, &pe) || pe.Kind != want {
				t.Errorf("readFile(%s): %v, want a path error saying it is %s", rel, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("readFile(%s) blocked", rel)
		}
	}
	if _, _, err := a.readFile("labs/a/a.go", 3); !errors.Is(err, errTooBig) {
		t.Errorf("readFile over its limit: %v", err)
	}
	if names, _, err := a.readDir("labs/linked", 10); err == nil {
		t.Errorf("readDir followed a link: %v", names)
	}
	for _, rel := range []string{"../x", "labs/../labs/a/a.go", "/etc/passwd", "labs//a"} {
		if _, _, err := a.readFile(rel, 100); err == nil {
			t.Errorf("readFile(%q) read it", rel)
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
