// Package doctor runs the tests of any Go module under Racelab's detectors
// and explains each concurrency bug it finds the way the labs do: the kind
// (race, deadlock and its sub-kind, leak, panic), the test, the line of the
// user's code, why, and the evidence. It is `checker doctor`.
//
// It edits no file of the module. Everything goes through go build's
// -overlay (package rt, instrument.go): each top-level TestX is renamed in
// place and run by a generated TestX under a real-time deadline, with a
// check for goroutines it leaves behind; sync.Mutex and sync.RWMutex are
// swapped for rt's, which report double locks, recursive read locks and
// lock-order inversions on the run where they first happen, deadlock or
// not; the tests run with -race and the race runtime's exit sleep off. A
// package whose build breaks under the instrumentation runs with less of
// it (first without the mutex swap, then plain) and says so. A test that
// passes its deadline or crashes ends its test binary; the tests that did
// not get their turn run in a new one.
//
// # JSON output (schema racelab.doctor/v1)
//
//	{
//	  "schema": "racelab.doctor/v1",
//	  "go": "go1.26.8",
//	  "module": "example.com/shop", "root": "/src/shop",
//	  "settings": {"deadline_ms": 5000, "count": 1, "gomaxprocs": [0], "for_ms": 0,
//	               "timeout_ms": 600000, "locks": true, "leaks": true, "leak_profile": false},
//	  "packages": [{
//	    "package": "example.com/shop/cart",
//	    "dir": "cart",                   // relative to the root
//	    "status": "findings",            // "clean" | "findings" | "error" | "no tests"
//	    "kind": "deadlock", "kinds": ["deadlock"],
//	    "summary": "...",                // one line
//	    "error": "...",                  // why it could not run, when status is "error"
//	    "instrumentation": "full",       // "full" | "no lock checks" | "none"
//	    "notes": ["..."],
//	    "runs": [{"gomaxprocs": 2, "duration_ms": 812, "processes": 2, "findings": 1}],
//	    "duration_ms": 812,
//	    "tests": [{"name": "TestCheckout", "status": "fail", "elapsed_ms": 2004}],
//	    "findings": [{                   // as in racelab.check/v1; files relative to the root
//	      "kind": "deadlock", "test": "TestCheckout",
//	      "title": "lock-order inversion",   // the sub-kind
//	      "file": "cart/cart.go", "line": 61,
//	      "summary": "...", "explanation": "...", "evidence": "...", "count": 1,
//	      "sites": [{"role": "...", "file": "...", "line": 58, "func": "...", "code": "...", "in_lab": true}]
//	    }]
//	  }],
//	  "summary": {"packages": 12, "clean": 10, "findings": 1, "errors": 0, "no_tests": 1,
//	              "kinds": {"deadlock": 1}, "duration_ms": 9120}
//	}
//
// Within a schema version fields are only added, never renamed or removed.
package doctor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/runner"
)

// Schema names the version of the JSON document.
const Schema = "racelab.doctor/v1"

// Options say what to diagnose and how.
type Options struct {
	Dir        string        // where the command runs: inside the module
	Patterns   []string      // package patterns, as go test takes them; ./... when empty
	Deadline   time.Duration // per top-level test
	Count      int           // runs per package per GOMAXPROCS value, stopping at the first finding
	GOMAXPROCS []int         // values to cycle through; 0 is the machine's default
	For        time.Duration // keep re-running clean packages until this much time has passed
	Timeout    time.Duration // bound on one run of one package's test binary
	Parallel   int           // test binaries at once; the number of CPUs when 0
	Run        string        // only tests matching this regexp (go test -run)
	Tags       string        // build tags
	Locks      bool          // swap in the lock checker
	Leaks      bool          // check for goroutines left behind by each test
	// LeakProfile adds the runtime's own leak detector (Go 1.26,
	// GOEXPERIMENT=goroutineleakprofile): it confirms leaks, and finds those
	// of tests that call t.Parallel.
	LeakProfile bool
	Settle      time.Duration // how long leftover goroutines get to finish
	CacheDir    string        // where test binaries are kept; the user's cache when empty
	Progress    func(Progress)
}

// Defaults for the options.
const (
	DefaultDeadline = 5 * time.Second
	DefaultTimeout  = 10 * time.Minute
	DefaultSettle   = 500 * time.Millisecond
)

// Status is a package's verdict.
type Status string

// The verdicts.
const (
	Clean    Status = "clean"
	Findings Status = "findings"
	Errored  Status = "error"
	NoTests  Status = "no tests"
)

// A Result is one package's diagnosis.
type Result struct {
	ImportPath string
	Dir        string // relative to the module root
	AbsDir     string
	Status     Status
	Err        string
	// Instrumentation is "full", "no lock checks" or "none".
	Instrumentation string
	Notes           []string
	Runs            []RunInfo
	Tests           []diagnose.TestResult
	Findings        []diagnose.Finding
	Duration        time.Duration
	testFuncs       []testFunc
}

// Kinds are the distinct kinds of the findings, most important first.
func (r Result) Kinds() []catalog.Kind { return diagnose.Result{Findings: r.Findings}.Kinds() }

// Primary is the finding that best sums the package up.
func (r Result) Primary() (diagnose.Finding, bool) {
	return diagnose.Result{Findings: r.Findings}.Primary()
}

// TestLine is where a test function is declared, for findings that have
// no line of their own: "", 0 when unknown.
func (r Result) TestLine(test string) (string, int) {
	for _, t := range r.testFuncs {
		if t.Name == test {
			return t.File, t.Line
		}
	}
	return "", 0
}

// A RunInfo is one run of a package's test binary (several processes when
// a test hung or crashed and the rest ran in a new one).
type RunInfo struct {
	GOMAXPROCS int
	Duration   time.Duration
	Processes  int
	Findings   int
}

// A Report is the doctor's diagnosis of a module.
type Report struct {
	Go       string
	Module   string // the module path
	Root     string // the module root
	GitRoot  string // the root of the git work tree holding it, "" when none
	Options  Options
	Packages []Result
	Duration time.Duration
}

// Failed reports whether any package has findings or could not run.
func (r *Report) Failed() bool {
	for _, p := range r.Packages {
		if p.Status == Findings || p.Status == Errored {
			return true
		}
	}
	return false
}

// Phase names a step reported to Progress.
type Phase int

// The steps, in order.
const (
	Listing  Phase = iota // go list
	Building              // Total packages are being built
	Started               // Package started a run
	Finished              // Package finished a run
)

// Progress reports what the doctor is doing; calls come one at a time.
type Progress struct {
	Phase       Phase
	Package     string
	Round       int
	Result      *Result // when Finished
	Done, Total int
}

// A SetupError is a problem with the machine or the place the doctor was
// run, not with the code, and says what to do.
type SetupError = engine.SetupError

// Run diagnoses the packages opts names.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Count < 1 {
		opts.Count = 1
	}
	if len(opts.GOMAXPROCS) == 0 {
		opts.GOMAXPROCS = []int{0}
	}
	if opts.Deadline == 0 {
		opts.Deadline = DefaultDeadline
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	if len(opts.Patterns) == 0 {
		opts.Patterns = []string{"./..."}
	}
	progress := func(p Progress) {}
	if opts.Progress != nil {
		var mu sync.Mutex // serializes Progress calls
		progress = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			opts.Progress(p)
		}
	}
	cache := opts.CacheDir
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			uc = os.TempDir()
		}
		cache = filepath.Join(uc, "racelab", "doctor")
	}
	tc, err := engine.FindToolchain(ctx, cache)
	if err != nil {
		return nil, err
	}
	env := tc.Env
	if opts.LeakProfile {
		exp := getEnv(env, "GOEXPERIMENT")
		if exp != "" {
			exp += ","
		}
		env = withEnv(env, "GOEXPERIMENT="+exp+"goroutineleakprofile")
	}
	root, err := moduleRoot(ctx, tc.Go, opts.Dir, env)
	if err != nil {
		return nil, err
	}
	modPath, err := runner.ModulePath(root)
	if err != nil {
		return nil, &SetupError{Msg: err.Error()}
	}
	rep := &Report{Go: tc.Version, Module: modPath, Root: root, GitRoot: gitRoot(root), Options: opts}

	progress(Progress{Phase: Listing})
	targets, err := listPackages(ctx, tc.Go, opts.Dir, env, opts.Tags, opts.Patterns)
	if err != nil {
		return nil, err
	}
	all := targets
	if !slices.Equal(opts.Patterns, []string{"./..."}) || filepath.Clean(opts.Dir) != root {
		// Every package of the module gets the mutex swap, so that types
		// agree where one package passes a *sync.Mutex to another.
		if all, err = listPackages(ctx, tc.Go, root, env, opts.Tags, []string{"./..."}); err != nil {
			return nil, err
		}
	}
	var testable []Package
	results := map[string]*Result{}
	for _, p := range targets {
		r := &Result{ImportPath: p.ImportPath, AbsDir: p.Dir, Dir: relDir(root, p.Dir)}
		switch {
		case p.Module == nil || p.Module.Path != modPath:
			continue // the standard library or a dependency: not the user's
		case p.Error != nil && !p.HasTests():
			r.Status, r.Err = Errored, strings.TrimSpace(p.Error.Err)
		case !p.HasTests():
			r.Status = NoTests
		default:
			testable = append(testable, p)
		}
		results[p.ImportPath] = r
		rep.Packages = append(rep.Packages, *r)
	}
	if len(results) == 0 {
		return nil, &SetupError{Msg: fmt.Sprintf("no packages of module %s match %s: run the doctor inside the module, with patterns such as ./... or ./store", modPath, strings.Join(opts.Patterns, " "))}
	}

	binRoot := filepath.Join(cache, hash(root+"\x00"+opts.Tags+"\x00"+getEnv(env, "GOEXPERIMENT")))
	if err := os.MkdirAll(binRoot, 0o755); err != nil {
		return nil, err
	}
	unlock, err := engine.LockDir(binRoot)
	if err != nil {
		return nil, fmt.Errorf("lock the doctor's cache: %w", err)
	}
	defer unlock()
	tmp, err := os.MkdirTemp("", "racelab-doctor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	d := &doctor{opts: opts, tc: tc, env: env, root: root, modPath: modPath, progress: progress}
	progress(Progress{Phase: Building, Total: len(testable)})
	units, err := d.build(ctx, tmp, binRoot, all, testable, results)
	if err != nil {
		return nil, err
	}
	d.runRounds(ctx, units, start)
	for i, p := range rep.Packages {
		if r := results[p.ImportPath]; r != nil {
			rep.Packages[i] = *r
		}
	}
	rep.Duration = time.Since(start)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

type doctor struct {
	opts     Options
	tc       engine.Toolchain
	env      []string
	root     string
	modPath  string
	progress func(Progress)
}

// A unit is one package ready to run.
type unit struct {
	pkg     Package
	binary  string
	tests   []testFunc // the wrapped tests; nil when not instrumented
	res     *Result
	plain   bool // built without the doctor's runtime
	noLocks bool
}

// build instruments and builds the packages, trying less instrumentation
// for a package whose build it breaks.
func (d *doctor) build(ctx context.Context, tmp, binRoot string, all, testable []Package, results map[string]*Result) ([]*unit, error) {
	targets := map[string]bool{}
	for _, p := range testable {
		targets[p.ImportPath] = true
	}
	full, err := writeOverlay(filepath.Join(tmp, "full"), d.root, d.modPath, all, targets, instrumentation{swap: d.opts.Locks})
	if err != nil {
		return nil, fmt.Errorf("instrument the module: %w", err)
	}
	bins, err := buildTests(ctx, d.tc.Go, d.env, d.root, filepath.Join(binRoot, "full"), full.File, d.opts.Tags, testable)
	if err != nil {
		return nil, err
	}
	var units []*unit
	var broken []Package
	for _, p := range testable {
		b := bins[p.ImportPath]
		if b.Failed {
			broken = append(broken, p)
			continue
		}
		r := results[p.ImportPath]
		r.Instrumentation = "full"
		if !d.opts.Locks {
			r.Instrumentation = "no lock checks"
		}
		units = append(units, &unit{pkg: p, binary: b.Binary, tests: full.Tests[p.ImportPath], res: r, noLocks: !d.opts.Locks})
	}
	if len(broken) == 0 {
		return units, ctx.Err()
	}
	// Does the code build at all, without the doctor?
	plain, err := buildTests(ctx, d.tc.Go, d.env, d.root, filepath.Join(binRoot, "plain"), "", d.opts.Tags, broken)
	if err != nil {
		return nil, err
	}
	var retry []Package
	for _, p := range broken {
		b := plain[p.ImportPath]
		r := results[p.ImportPath]
		if b.Failed {
			r.Instrumentation = "none"
			res := diagnose.Diagnose(diagnose.Run{Lab: d.lab(p), Build: b.Output, BuildFailed: true})
			r.Findings, r.Status = res.Findings, Findings
			continue
		}
		retry = append(retry, p)
	}
	if len(retry) == 0 {
		return units, ctx.Err()
	}
	why := map[string]string{}
	for _, p := range retry {
		why[p.ImportPath] = firstError(bins[p.ImportPath].Output)
	}
	// Without the mutex swap.
	var lite *overlay
	var liteBins map[string]built
	if d.opts.Locks {
		lite, err = writeOverlay(filepath.Join(tmp, "lite"), d.root, d.modPath, all, targets, instrumentation{swap: false})
		if err != nil {
			return nil, fmt.Errorf("instrument the module: %w", err)
		}
		if liteBins, err = buildTests(ctx, d.tc.Go, d.env, d.root, filepath.Join(binRoot, "lite"), lite.File, d.opts.Tags, retry); err != nil {
			return nil, err
		}
	}
	for _, p := range retry {
		r := results[p.ImportPath]
		if b, ok := liteBins[p.ImportPath]; ok && !b.Failed {
			r.Instrumentation = "no lock checks"
			r.Notes = append(r.Notes, "lock checks off: swapping sync.Mutex for the doctor's checked mutex breaks the build ("+why[p.ImportPath]+"); deadlocks still show at the deadline")
			units = append(units, &unit{pkg: p, binary: b.Binary, tests: lite.Tests[p.ImportPath], res: r, noLocks: true})
			continue
		}
		r.Instrumentation = "none"
		r.Notes = append(r.Notes, "ran as plain go test -race: the doctor's instrumentation breaks the build ("+why[p.ImportPath]+"); no per-test deadline, leak or lock checks")
		units = append(units, &unit{pkg: p, binary: plain[p.ImportPath].Binary, res: r, plain: true})
	}
	return units, ctx.Err()
}

func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return "unknown error"
}

// runRounds runs every package once per GOMAXPROCS value and count, and
// then, with a time budget, again and again until it is spent. A package
// stops at its first finding.
func (d *doctor) runRounds(ctx context.Context, units []*unit, start time.Time) {
	parallel := d.opts.Parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	rounds := d.opts.Count * len(d.opts.GOMAXPROCS)
	for round := 0; ctx.Err() == nil; round++ {
		done := 0
		var todo []*unit
		for _, u := range units {
			if len(u.res.Findings) == 0 && u.res.Status != Errored {
				todo = append(todo, u)
			}
		}
		extra := round >= rounds
		if len(todo) == 0 || extra && (d.opts.For == 0 || time.Since(start) >= d.opts.For) {
			return
		}
		procs := d.opts.GOMAXPROCS[round%len(d.opts.GOMAXPROCS)]
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		var mu sync.Mutex // protects done
		for _, u := range todo {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if ctx.Err() != nil || extra && time.Since(start) >= d.opts.For {
					return
				}
				d.progress(Progress{Phase: Started, Package: u.pkg.ImportPath, Round: round})
				d.runUnit(ctx, u, procs)
				mu.Lock()
				done++
				n := done
				mu.Unlock()
				d.progress(Progress{Phase: Finished, Package: u.pkg.ImportPath, Round: round, Result: u.res, Done: n, Total: len(todo)})
			})
		}
		wg.Wait()
	}
}

// runUnit runs a package's tests once: in as many processes as it takes
// for every test to get its turn.
func (d *doctor) runUnit(ctx context.Context, u *unit, procs int) {
	start := time.Now()
	names := map[string]bool{}
	for _, t := range u.tests {
		names[t.Name] = true
	}
	// The tests this run should get to: those -run selects at the top
	// level, where the pattern's first element applies.
	var filter *regexp.Regexp
	if d.opts.Run != "" {
		first, _, _ := strings.Cut(d.opts.Run, "/")
		filter, _ = regexp.Compile(first) // a bad pattern is the test binary's to report
	}
	var remaining []string
	for _, t := range u.tests {
		if filter == nil || filter.MatchString(t.Name) {
			remaining = append(remaining, t.Name)
		}
	}
	info := RunInfo{GOMAXPROCS: procs}
	var tests []diagnose.TestResult
	var findings []diagnose.Finding
	var notes []string
	first := true
	for ctx.Err() == nil {
		left := d.opts.Timeout - time.Since(start)
		if left < time.Second {
			break
		}
		var args []string
		switch {
		case first && d.opts.Run != "":
			args = append(args, "-test.run="+d.opts.Run)
		case !first:
			quoted := make([]string, len(remaining))
			for i, n := range remaining {
				quoted[i] = regexp.QuoteMeta(n)
			}
			args = append(args, "-test.run=^("+strings.Join(quoted, "|")+")$")
		}
		env := withEnv(d.env,
			"RACELAB_DOCTOR_DEADLINE="+d.opts.Deadline.String(),
			"RACELAB_DOCTOR_SETTLE="+d.opts.Settle.String(),
			"RACELAB_DOCTOR_LEAKS="+boolEnv(d.opts.Leaks),
			"RACELAB_DOCTOR_LOCKS="+boolEnv(!u.noLocks),
			"RACELAB_DOCTOR_LEAKPROFILE="+boolEnv(d.opts.LeakProfile),
			"RACELAB_DOCTOR_MODULE="+d.modPath,
			"GORACE="+strings.TrimSpace(getEnv(d.env, "GORACE")+" atexit_sleep_ms=0"),
		)
		if procs > 0 {
			env = withEnv(env, "GOMAXPROCS="+strconv.Itoa(procs))
		}
		res, err := runner.Run(ctx, runner.Exec{
			Binary: u.binary, Dir: u.pkg.Dir, Package: u.pkg.ImportPath, Args: args, Env: env,
			Limits: runner.Limits{Time: left, Output: 32 << 20},
		})
		info.Processes++
		if err != nil {
			u.res.Status, u.res.Err = Errored, err.Error()
			break
		}
		events := normalize(res.Events)
		notes = append(notes, collectNotes(events)...)
		diag := diagnose.Diagnose(diagnose.Run{Lab: d.lab(u.pkg, events...), Events: events, Exit: res.Exit, Killed: res.Killed})
		if first && len(diag.Tests) == 0 && res.Exit != 0 && res.Killed == "" {
			// TestMain (or an init) ended the binary before any test ran:
			// a database or a service it needs is missing, say.
			u.res.Status = Errored
			u.res.Err = fmt.Sprintf("the test binary exited with status %d before running any test:\n%s", res.Exit, lastLines(res.Output, 10))
			info.Processes = 1
			break
		}
		attempted := map[string]bool{}
		for _, t := range diag.Tests {
			attempted[t.Name] = true
		}
		tests = append(tests, diag.Tests...)
		for _, f := range diag.Findings {
			if f.Title == "no tests ran" && len(diag.Tests) == 0 {
				continue
			}
			findings = append(findings, f)
		}
		first = false
		var next []string
		for _, n := range remaining {
			if !attempted[n] {
				next = append(next, n)
			}
		}
		if res.Exit == 0 || res.Killed != "" || len(next) == 0 || len(next) == len(remaining) || u.plain {
			break
		}
		remaining = next
	}
	info.Duration = time.Since(start)
	info.Findings = len(findings)
	r := u.res
	r.Runs = append(r.Runs, info)
	r.Duration += info.Duration
	r.testFuncs = u.tests
	for _, n := range notes {
		if !slices.Contains(r.Notes, n) {
			r.Notes = append(r.Notes, n)
		}
	}
	if r.Status == Errored {
		return
	}
	r.Tests = tests
	r.Findings = findings
	switch {
	case len(findings) > 0:
		r.Status = Findings
	case len(tests) == 0:
		r.Status = NoTests
	default:
		r.Status = Clean
	}
}

// lastLines is the end of a test binary's output, without test2json's
// framing.
func lastLines(out []byte, n int) string {
	text := strings.TrimSpace(strings.ReplaceAll(string(out), "\x16", ""))
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// normalize makes the output read as if the tests had run without the
// doctor: the renamed tests get their names back, and stack frames in the
// doctor's own code (its runtime, the generated wrappers) are left out.
func normalize(events []diagnose.Event) []diagnose.Event {
	out := make([]diagnose.Event, 0, len(events))
	for i := 0; i < len(events); i++ {
		e := events[i]
		if i+1 < len(events) && e.Action == "output" && events[i+1].Action == "output" &&
			generatedFrame(events[i+1].Output) && !strings.Contains(e.Output, ".go:") {
			i++ // a function line and its file line
			continue
		}
		e.Output = strings.ReplaceAll(e.Output, renamePrefix, "")
		out = append(out, e)
	}
	return out
}

// generatedFrame reports whether a stack trace's file line is in code the
// doctor generated.
func generatedFrame(line string) bool {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "/") {
		return false
	}
	return strings.Contains(t, "/"+rtDir+"/") || strings.Contains(t, "/"+wrapperFile+":") || strings.Contains(t, "/"+xWrapperFile+":")
}

var noteLine = regexp.MustCompile(`^racelab-doctor: note (\S+): (.*)$`)

func collectNotes(events []diagnose.Event) []string {
	var out []string
	for _, e := range events {
		if m := noteLine.FindStringSubmatch(strings.TrimSpace(e.Output)); m != nil {
			out = append(out, m[1]+": "+m[2])
		}
	}
	return out
}

// lab describes a package for the classifier: its files and the module's
// are the user's code, the doctor's generated files are not. Source holds
// the package's files, and other files of the module the output names.
func (d *doctor) lab(p Package, events ...diagnose.Event) diagnose.Lab {
	l := diagnose.Lab{
		ID: p.ImportPath, RelDir: relDir(d.root, p.Dir), Dir: p.Dir, Files: slices.Clone(p.GoFiles),
		Module: d.root, Source: map[string][]string{},
		Exclude: []string{filepath.Join(d.root, rtDir), filepath.Join(p.Dir, wrapperFile), filepath.Join(p.Dir, xWrapperFile)},
	}
	for _, f := range slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles) {
		if data, err := os.ReadFile(filepath.Join(p.Dir, f)); err == nil {
			l.Source[f] = strings.Split(string(data), "\n")
		}
	}
	seen := map[string]bool{}
	for _, e := range events {
		for _, m := range moduleFile.FindAllString(e.Output, -1) {
			if !strings.HasPrefix(m, d.root+"/") || seen[m] {
				continue
			}
			seen[m] = true
			rel, err := filepath.Rel(p.Dir, m)
			if err != nil || !strings.HasPrefix(rel, "..") {
				continue
			}
			if data, err := os.ReadFile(m); err == nil {
				l.Source[filepath.ToSlash(rel)] = strings.Split(string(data), "\n")
			}
		}
	}
	return l
}

var moduleFile = regexp.MustCompile(`/\S+?\.go\b`)

func relDir(root, dir string) string {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return dir
	}
	return filepath.ToSlash(rel)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// moduleRoot finds the root of the module that holds dir.
func moduleRoot(ctx context.Context, goCmd, dir string, env []string) (string, error) {
	out, err := runner.Go(ctx, goCmd, dir, env, "env", "GOMOD")
	if err != nil {
		return "", &SetupError{Msg: fmt.Sprintf("`go env GOMOD` failed in %s: %s", dir, strings.TrimSpace(string(out)))}
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", &SetupError{Msg: fmt.Sprintf("%s is not inside a Go module (no go.mod here or above): run the doctor from your module's directory, or create one with `go mod init`", dir)}
	}
	return filepath.Dir(gomod), nil
}

// gitRoot is the top of the git work tree holding dir, or "".
func gitRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// listPackages runs go list on patterns in dir.
func listPackages(ctx context.Context, goCmd, dir string, env []string, tags string, patterns []string) ([]Package, error) {
	args := []string{"list", "-e", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,Module,Error,DepsErrors"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "--")
	args = append(args, patterns...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var pkgs []Package
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var p Package
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("read go list's output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		if msg == "" {
			msg = "no packages matched"
		}
		return nil, &SetupError{Msg: fmt.Sprintf("go list %s: %s", strings.Join(patterns, " "), msg)}
	}
	return pkgs, nil
}
