// Package diagnose turns the output of one run of a lab's tests into
// findings a learner can act on: what kind of bug, in which test, where in
// the learner's code, the evidence, and a plain explanation.
//
// [Diagnose] is a pure function of a [Run]: it reads no files and runs
// nothing, so it is tested against recorded outputs of real runs (see
// testdata/README.md). Each rule sits next to the upstream text it matches
// and names where that text comes from.
//
// Findings are advisory: the text they are read from is printed by the code
// under test, which can print anything. Grading never takes credit from
// them (see package grade).
package diagnose

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// An Event is one line of `go test -json` output (cmd/test2json).
type Event struct {
	Time        time.Time `json:",omitempty"`
	Action      string
	Package     string  `json:",omitempty"`
	Test        string  `json:",omitempty"`
	Elapsed     float64 `json:",omitempty"`
	Output      string  `json:",omitempty"`
	FailedBuild string  `json:",omitempty"`
}

// Lab describes the package that was tested, so findings can point into
// the learner's code.
type Lab struct {
	ID     string
	RelDir string // the package directory as shown to the learner, e.g. "labs/bank"
	Dir    string // the package directory as it appears in stack traces (absolute)
	Files  []string
	// Source maps each file name in the package directory to its lines, to
	// quote the code at a finding's location. Optional. With Module set, it
	// may also hold other files of the module, named relative to Dir
	// ("../store/store.go").
	Source map[string][]string
	// Module, when set, is the root directory of the module the package
	// belongs to, as it appears in stack traces: every file under it is the
	// user's code, not only the package's own (package doctor diagnoses any
	// package of a module). Exclude lists files and directories under it
	// that are not the user's (code the doctor generated).
	Module  string
	Exclude []string
}

// Run is everything known about one execution of a lab's tests.
type Run struct {
	Lab Lab
	// Build is the compiler's or vet's output for the package when the
	// build failed; BuildFailed says it did.
	Build       string
	BuildFailed bool
	Events      []Event
	// Exit is the test binary's exit status; -1 when it was killed.
	Exit int
	// Killed says why the runner stopped the test binary, if it did:
	// "time limit 30s", "memory limit 2 GiB", "output limit 8 MiB".
	Killed string
}

// A Site is one place in the code that a finding refers to.
type Site struct {
	Role  string // what happened here, e.g. "write", "previous read", "goroutine started", "lock taken first"
	File  string // relative to the repository root when the file is in the lab, else as printed
	Line  int
	Func  string
	Code  string // the source line, when known
	InLab bool   // the file belongs to the lab's package
}

// A Finding is one diagnosed problem.
type Finding struct {
	Kind        catalog.Kind
	Test        string // the top-level test it happened in; empty when it happened outside any test
	Title       string // what the detector called it, e.g. "inconsistent lock order"
	File        string // the location in the learner's code, relative to the repository root
	Line        int
	Summary     string // one line, in the learner's terms
	Explanation string // what it means and what to look at
	Evidence    string // an excerpt of the output it was read from
	Sites       []Site
	Count       int // how many identical reports were merged into this finding
}

// Location is "file:line", or "" when the finding has no location.
func (f Finding) Location() string {
	if f.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", f.File, f.Line)
}

// TestStatus is a test's outcome as reported by the testing package.
type TestStatus string

// The outcomes of a test. Unfinished means the test started but its binary
// ended (crash, time limit) before it reported an outcome.
const (
	Pass       TestStatus = "pass"
	Fail       TestStatus = "fail"
	Skip       TestStatus = "skip"
	Unfinished TestStatus = "unfinished"
)

// A TestResult is one top-level test's outcome.
type TestResult struct {
	Name    string
	Status  TestStatus
	Elapsed time.Duration
}

// A Result is the diagnosis of one run.
type Result struct {
	Tests    []TestResult
	Findings []Finding
}

// Passed reports whether every test passed (or skipped) and nothing went
// wrong around them.
func (r Result) Passed() bool { return len(r.Findings) == 0 }

// Kinds returns the distinct kinds of the findings, most important first
// (the order of catalog.Kinds).
func (r Result) Kinds() []catalog.Kind {
	var out []catalog.Kind
	for _, k := range catalog.Kinds {
		for _, f := range r.Findings {
			if f.Kind == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// Kind is the most important kind among the findings, or "" when the run passed.
func (r Result) Kind() catalog.Kind {
	if ks := r.Kinds(); len(ks) > 0 {
		return ks[0]
	}
	return ""
}

// Primary is the finding that best explains the run: the first finding of
// the most important kind, preferring one located in the learner's code.
func (r Result) Primary() (Finding, bool) {
	k := r.Kind()
	var first *Finding
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Kind != k {
			continue
		}
		if f.File != "" && !strings.HasSuffix(f.File, "_test.go") {
			return *f, true
		}
		if first == nil {
			first = f
		}
	}
	if first == nil {
		return Finding{}, false
	}
	return *first, true
}

// Diagnose classifies one run.
func Diagnose(run Run) Result {
	d := &diagnosis{lab: run.Lab}
	if run.BuildFailed {
		d.build(run.Build)
		return Result{Findings: d.findings}
	}
	tests, blocks := split(run.Events)
	for _, b := range blocks {
		d.block(b)
	}
	// A test that failed with nothing recognized still failed: report what
	// it said. A test that never finished was cut short by something found
	// above, or by the runner.
	d.assertions(tests)
	if run.Killed != "" && !d.hasKind(catalog.Timeout) {
		d.killed(run, tests)
	}
	if len(d.findings) == 0 && run.Exit != 0 {
		d.exited(run, tests)
	}
	if len(d.findings) == 0 && len(tests) == 0 && run.Exit == 0 {
		d.add(Finding{Kind: catalog.WrongResult, Title: "no tests ran",
			Summary:     "no tests ran",
			Explanation: "The test binary ran no tests. A lab always has tests: check that the test files are intact."})
	}
	d.dedupe()
	d.missingUnlock()
	return Result{Tests: tests, Findings: d.findings}
}

// A block is output attributed to one top-level test, or to none.
type block struct {
	test  string
	lines []string
	// running lists the tests that had started but not finished when
	// package-level output was printed (for crashes outside a test).
	running []string
}

// split groups output events by top-level test and collects test outcomes.
func split(events []Event) ([]TestResult, []block) {
	var tests []TestResult
	index := map[string]int{}
	started := map[string]time.Time{}
	byTest := map[string]*block{}
	var order []*block
	pkg := &block{}
	var running []string
	get := func(name string) *block {
		if b, ok := byTest[name]; ok {
			return b
		}
		b := &block{test: name}
		byTest[name] = b
		order = append(order, b)
		return b
	}
	for _, e := range events {
		top, _, _ := strings.Cut(e.Test, "/")
		switch e.Action {
		case "run":
			if top == e.Test {
				started[top] = e.Time
				index[top] = len(tests)
				tests = append(tests, TestResult{Name: top, Status: Unfinished})
				running = append(running, top)
			}
		case "pass", "fail", "skip":
			if e.Test != "" && top == e.Test {
				if i, ok := index[top]; ok {
					tests[i].Status = TestStatus(e.Action)
					tests[i].Elapsed = time.Duration(e.Elapsed * float64(time.Second))
				}
				running = slices.DeleteFunc(running, func(s string) bool { return s == top })
			}
		case "output":
			if e.Test == "" {
				pkg.lines = append(pkg.lines, strings.TrimSuffix(e.Output, "\n"))
				if pkg.running == nil && len(running) > 0 {
					pkg.running = slices.Clone(running)
				}
				continue
			}
			b := get(top)
			b.lines = append(b.lines, strings.TrimSuffix(e.Output, "\n"))
		}
	}
	// A test the binary's end cut short (a timeout, a crash) has no
	// outcome of its own: it ran from its start to the last event.
	if n := len(events); n > 0 && !events[n-1].Time.IsZero() {
		end := events[n-1].Time
		for i := range tests {
			if tests[i].Status == Unfinished && !started[tests[i].Name].IsZero() {
				tests[i].Elapsed = end.Sub(started[tests[i].Name])
			}
		}
	}
	blocks := make([]block, 0, len(order)+1)
	for _, b := range order {
		blocks = append(blocks, *b)
	}
	return tests, append(blocks, *pkg)
}

type diagnosis struct {
	lab      Lab
	findings []Finding
	pending  []pendingEntry // log entries of tests whose outcome decides what they mean
}

func (d *diagnosis) add(f Finding) {
	if f.Count == 0 {
		f.Count = 1
	}
	d.findings = append(d.findings, f)
}

func (d *diagnosis) has(test string) bool {
	return slices.ContainsFunc(d.findings, func(f Finding) bool { return f.Test == test })
}

func (d *diagnosis) hasKind(k catalog.Kind) bool {
	return slices.ContainsFunc(d.findings, func(f Finding) bool { return f.Kind == k })
}

// block runs every detector over one block of output.
func (d *diagnosis) block(b block) {
	lines := b.lines
	test := b.test
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if test != "" && isLogEntry(line) {
			e, next := readEntry(lines, i)
			d.entry(test, e)
			i = next - 1
			continue
		}
		switch {
		case strings.Contains(trimmed, doctorPrefix):
			i = d.doctorReport(b, lines, i)
		case trimmed == raceHeader:
			i = d.race(test, lines, i)
		case strings.HasPrefix(trimmed, deadlockHeader):
			i = d.lockReport(test, lines, i)
		case strings.HasPrefix(trimmed, goleakHeader):
			i = d.goleak(test, lines, i)
		case strings.HasPrefix(line, timeoutHeader):
			i = d.timeout(lines, i)
		case strings.HasPrefix(line, bubbleBlocked), strings.HasPrefix(line, bubbleExited):
			i = d.bubble(b, lines, i)
		case strings.HasPrefix(line, asleepHeader):
			i = d.asleep(b, lines, i)
		case strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: "):
			i = d.panic(b, lines, i)
		}
	}
}

// relSite maps a frame to a Site, resolving files inside the lab.
func (d *diagnosis) relSite(role string, f Frame) Site {
	s := Site{Role: role, File: f.File, Line: f.Line, Func: f.Func}
	name, ok := d.inLab(f.File)
	if ok {
		s.InLab = true
		s.File = path.Join(d.lab.RelDir, name)
		if src, ok := d.lab.Source[name]; ok && f.Line >= 1 && f.Line <= len(src) {
			s.Code = stripComment(src[f.Line-1])
		}
	}
	return s
}

// inLab reports whether file (absolute, or a base name as go-deadlock
// prints it) is a file of the lab's package, and its name there.
func (d *diagnosis) inLab(file string) (string, bool) {
	if d.lab.Module != "" {
		return d.inModule(file)
	}
	if d.lab.Dir != "" && strings.HasPrefix(file, d.lab.Dir+"/") {
		name := strings.TrimPrefix(file, d.lab.Dir+"/")
		return name, !strings.Contains(name, "/")
	}
	// The same package seen through a symlink, or copied elsewhere (a
	// grading scratch tree), still ends in its repository-relative path.
	if d.lab.RelDir != "" && strings.HasPrefix(file, "/") {
		if _, name, ok := strings.Cut(file, "/"+d.lab.RelDir+"/"); ok && !strings.Contains(name, "/") {
			return name, true
		}
	}
	if !strings.Contains(file, "/") {
		if _, ok := d.lab.Source[file]; ok {
			return file, true
		}
		if slices.Contains(d.lab.Files, file) {
			return file, true
		}
	}
	return "", false
}

// locate picks the site that best points into the learner's code: an
// editable file first, then any non-test file of the lab, then a test file.
func locate(sites []Site, editable []string) (Site, bool) {
	rank := func(s Site) int {
		switch {
		case !s.InLab:
			return 0
		case slices.Contains(editable, path.Base(s.File)):
			return 3
		case !strings.HasSuffix(s.File, "_test.go"):
			return 2
		default:
			return 1
		}
	}
	best, bestRank := Site{}, 0
	for _, s := range sites {
		if r := rank(s); r > bestRank {
			best, bestRank = s, r
		}
	}
	return best, bestRank > 0
}

func (d *diagnosis) place(f *Finding) {
	if s, ok := locate(f.Sites, d.lab.Files); ok {
		f.File, f.Line = s.File, s.Line
	}
}

func at(s Site) string {
	if s.File == "" {
		return "an unknown place"
	}
	loc := fmt.Sprintf("%s:%d", s.File, s.Line)
	if s.Code != "" {
		loc += fmt.Sprintf(" (%s)", s.Code)
	}
	return loc
}

func short(s Site) string {
	if s.File == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", path.Base(s.File), s.Line)
}

// excerpt joins lines, cut to at most max lines.
func excerpt(lines []string, max int) string {
	if len(lines) > max {
		lines = append(slices.Clone(lines[:max]), fmt.Sprintf("... (%d more lines)", len(lines)-max))
	}
	return strings.Join(lines, "\n")
}

// dedupe merges findings that say the same thing about the same places.
func (d *diagnosis) dedupe() {
	var out []Finding
	key := func(f Finding) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s|%s|%s|%s", f.Kind, f.Test, f.Title, f.Location())
		// Places, not roles: the same race seen between several pairs of
		// goroutines ("read by goroutine 9", "write by goroutine 11") is
		// one bug.
		var places []string
		for _, s := range f.Sites {
			if s.InLab {
				places = append(places, fmt.Sprintf("%s:%d", s.File, s.Line))
			}
		}
		slices.Sort(places)
		fmt.Fprintf(&b, "|%s", strings.Join(slices.Compact(places), "|"))
		return b.String()
	}
	seen := map[string]int{}
	for _, f := range d.findings {
		k := key(f)
		if i, ok := seen[k]; ok {
			out[i].Count += f.Count
			continue
		}
		seen[k] = len(out)
		out = append(out, f)
	}
	// A tagged assertion that restates a detector's report in the same test
	// (a lab test that fails quoting go-deadlock's report, say) adds
	// nothing; one that says something of its own (the freeze a test
	// forced, beside go-deadlock's report of the order) is kept.
	out = slices.DeleteFunc(out, func(f Finding) bool {
		if f.Title != titleTagged || !restates(f) {
			return false
		}
		return slices.ContainsFunc(out, func(g Finding) bool {
			return g.Test == f.Test && g.Kind == f.Kind && g.Title != titleTagged
		})
	})
	d.findings = out
}

// stripComment returns a line of Go without its trailing // comment,
// leaving "//" inside string and rune literals alone.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '/' && i+1 < len(line) && line[i+1] == '/':
			return strings.TrimSpace(line[:i])
		}
	}
	return strings.TrimSpace(line)
}

// restates reports whether a tagged finding quotes a detector's report
// rather than saying something of its own.
func restates(f Finding) bool {
	text := f.Summary + "\n" + f.Evidence
	for _, header := range []string{deadlockHeader, goleakHeader, raceHeader, "go-deadlock", "goleak"} {
		if strings.Contains(text, header) {
			return true
		}
	}
	return false
}

// missingUnlock explains deadlocks whose goroutines wait in Lock when the
// learner's code returns somewhere with the lock still held: the waiters'
// stacks cannot show the return that left it locked, the code can.
func (d *diagnosis) missingUnlock() {
	var returns []Site
	looked := false
	for i := range d.findings {
		f := &d.findings[i]
		if f.Kind != catalog.Deadlock || f.Title == titleLockOrder {
			continue
		}
		waitsInLock := slices.ContainsFunc(f.Sites, func(s Site) bool {
			return strings.Contains(s.Role, "Mutex.Lock") || strings.Contains(s.Role, "Mutex.RLock") || strings.Contains(s.Role, "RWMutex")
		}) || strings.Contains(f.Summary, "Lock")
		if !waitsInLock {
			continue
		}
		if !looked {
			returns, looked = d.heldOnReturn(), true
		}
		if len(returns) == 0 {
			return
		}
		f.Title = titleMissingUnlock
		f.Sites = append(slices.Clone(returns), f.Sites...)
		f.File, f.Line = returns[0].File, returns[0].Line
		var at []string
		for _, r := range returns {
			at = append(at, short(r))
		}
		f.Summary = fmt.Sprintf("a return leaves the lock held (%s), so the next Lock waits forever: %s", strings.Join(at, ", "), f.Summary)
		f.Explanation = "A function locks a mutex and returns on some path without unlocking it: an error path, usually. " +
			"Nothing will ever unlock it, so the next call that locks it waits forever, and everything behind that call too. " +
			"The stuck goroutines' stacks show only where they wait; the returns below are where the lock was left.\n" +
			"Where:\n" + describeSites(f.Sites) +
			"Fix: `defer mu.Unlock()` right after `mu.Lock()`, so every return unlocks; or unlock on every path before returning."
	}
}
