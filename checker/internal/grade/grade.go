// Package grade grades a learner's copy of the repository without trusting
// it: not its files, not its code, not what its code prints.
//
// # What the grader takes
//
// The submission is read as an untrusted archive (see archive.go): every
// path is resolved below the submission's folder without following a
// link anywhere in it, only regular files are read (a FIFO or a device is
// never opened), every read is bounded in size (MaxFileSize) and the
// whole reading in time (Options.IntakeLimit). Of the labs, only the
// files the catalog lists as editable are taken; everything else is
// compared with the pristine repository and reported as a warning.
//
// # What graded code may do
//
// CheckSource rejects a file that imports outside the lab's allowlist (so
// graded code cannot reach os, syscall, unsafe, reflect, runtime, testing
// or cgo), carries a compiler directive or a build constraint in any
// spelling Go honours (except the Go version pin its pristine copy
// carries, which must be kept), uses a detector's settings (go-deadlock's
// Opts) or writes another package's variables, or declares a name
// reserved for the grader.
//
// # How a lab is judged
//
// Each lab is built on its own, in a fresh copy of the pristine labs: its
// code without its tests first, so learner code cannot refer to anything
// that exists only in the test build; then its tests, renamed, with the
// grader's own test file (see harness.go): every expected test runs
// through a recorder, and TestMain writes "racelab-verdict v1 <secret>
// code=N passed=..." to a pipe inherited as a file descriptor and made
// close-on-exec before any of the lab's code runs. A lab passes only when
// all of these agree: the verdict line carries this run's secret; its
// code is 0; every test the catalog expects ran to the end without
// failing; the test binary exited 0; the test2json events show every
// expected test passing; and diagnosis finds nothing wrong. Forged
// "--- PASS" lines, invented tests and an early exit(0) all break one of
// them.
//
// A lab earns its points when it passes, and nothing when it fails,
// unless its lab.yaml splits the points over its tests (test_points):
// then a failing lab earns the points of each test that the harness
// recorded passing and the output shows passing, in a run that reached
// its verdict, was not stopped and was read whole; if the output and the
// record disagree about any test, it earns nothing.
//
// # What the grader contains, and its bounds
//
//   - The build of each lab runs in its own process group with its own
//     build cache, made from a seed of trusted builds and removed with
//     the lab (see cache.go), under a time limit (Options.BuildLimit), the
//     run's memory limit on the whole group (the go command, compilers,
//     linker and vet), a limit on the size of any file written and on how
//     much it writes in all. A build stopped by a limit is an Error for
//     that lab alone; a build that fails is that lab's Fail alone.
//   - Each lab's tests run in their own process group with a time limit
//     (Limits.Time, plus a grace period, after which the group is
//     killed), a memory limit on the group's resident memory, an output
//     limit and a file size limit; TMPDIR and HOME point into the lab's
//     scratch folder. Processes get exactly their standard streams and,
//     for the test binary, the verdict pipe: no descriptor the grader
//     inherited. The grader is a child subreaper, so a process that
//     escapes its group is still found and killed before Grade returns.
//   - Diagnosis of what the tests printed reads a bounded part of it and
//     is bounded in time (DiagnoseLimit); findings, their evidence and
//     sites, reasons and warnings are capped (see bounds.go), so a lab's
//     grade stays a few KiB whatever the code prints.
//   - Text from the submission is escaped in every report (WriteText),
//     so it cannot move a terminal's cursor or add lines.
//   - Every lab gets a grade; a submission that cannot be read gets an
//     Error for every lab, with the reason.
//
// Grading finishes within Bound(opts, labs) once the build cache is
// ready; preparing it (PrepareCache) compiles trusted code only, once per
// toolchain and catalog.
//
// # JSON output (schema racelab.grade/v1)
//
//	{
//	  "schema": "racelab.grade/v1",
//	  "submission": "/abs/path",
//	  "go": "go1.26.8",
//	  "points": 30, "max_points": 80,
//	  "duration_ms": 9120, "bound_ms": 470000,
//	  "error": "...",                     // only when the submission could not be graded at all
//	  "labs": [{
//	    "id": "bank", "status": "pass",   // "pass" | "fail" | "error"
//	    "points": 20, "max_points": 20,
//	    "reason": "...",                  // one line: why it passed, failed or could not run
//	    "credited": ["TestTransfer"],     // a failing lab's tests that passed, trusted; their points count with lab.yaml's test_points
//	    "rejected": [{"file": "labs/bank/bank.go", "reason": "..."}],
//	    "notes": ["..."],                 // where a bound of the grader's own work was reached
//	    "tests": [{"name": "TestTransfer", "status": "pass", "elapsed_ms": 3}],
//	    "findings": [...]                 // as in racelab.check/v1; advisory only
//	  }],
//	  "warnings": ["labs/bank/bank_test.go differs from the original; the original was used"]
//	}
package grade

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/runner"
)

// Status is a lab's grade.
type Status string

// The grades. Error means the lab could not be graded (a problem of the
// grader or the machine, or a submission that cannot be read, or a build
// stopped by a limit); it is never silently dropped.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error"
)

// Options say what to grade and how. Zero fields take the defaults.
type Options struct {
	Root       string // the grader's own repository: the pristine labs
	Submission string // the learner's copy of the repository
	Labs       []catalog.Lab
	Toolchain  engine.Toolchain
	// Limits bound each lab's test run; Limits.Memory also bounds its
	// build.
	Limits runner.Limits
	// BuildLimit bounds each lab's build: compiling its code alone, then
	// its tests (default 2 minutes).
	BuildLimit time.Duration
	// BuildDisk bounds how much a lab's build may write (default 512
	// MiB), and BuildFileSize the largest file it may write (default 128
	// MiB).
	BuildDisk     int64
	BuildFileSize int64
	// IntakeLimit bounds reading the submission (DefaultIntakeLimit).
	IntakeLimit time.Duration
	// SeedLimit bounds filling the build cache's seed, which compiles
	// trusted code only (default 30 minutes; see PrepareCache).
	SeedLimit time.Duration
	Parallel  int    // labs graded at once (default 2)
	Cache     string // where the build cache's seed is kept; see cacheDir
	Scratch   string // where to make the scratch tree; next to the cache when empty
	Keep      bool   // keep the scratch tree (for debugging the grader)
}

// LabResult is one lab's grade.
type LabResult struct {
	Lab      catalog.Lab
	Status   Status
	Points   int
	Reason   string
	Rejected []Rejection
	Tests    []diagnose.TestResult
	Findings []diagnose.Finding
	// Credited are the tests a failing lab passed by both the harness's
	// record and the output, in a run trusted whole (see credit): their
	// points count when the lab has TestPoints, and JUnit shows them
	// passing.
	Credited []string
	// Notes say where a bound of the grader's own work was reached.
	Notes        []string
	Duration     time.Duration // running the tests
	BuildTime    time.Duration // preparing and building them
	BuildPeakRSS int64         // the most memory the lab's build was seen using
	RunPeakRSS   int64         // the most memory its tests were seen using
	Output       string        // the raw test output, capped
	Truncated    bool
}

// Result is the grade of one submission.
type Result struct {
	Submission string
	GoVersion  string
	Labs       []LabResult
	Warnings   []string
	// Error says why the submission could not be graded at all; every
	// lab is then an Error with this reason.
	Error    string
	Duration time.Duration
	Bound    time.Duration
	Scratch  string // only when kept
	// RunID names this grading: its processes carry
	// RACELAB_GRADER_RUN=<RunID> in their environment.
	RunID string
}

// Points sums the labs' points.
func (r Result) Points() (got, max int) {
	for _, l := range r.Labs {
		got += l.Points
		max += l.Lab.Points
	}
	return got, max
}

// Bound is the longest grading can take once the build cache is ready
// (see PrepareCache): reading the submission, then the labs in rounds of
// Parallel, each within its build limit (which covers preparing its
// build), its time limit and grace, one diagnosis and a few seconds of the
// grader's own work (reading the test output, removing the lab's folder).
func Bound(o Options, labs int) time.Duration {
	lim := withDefaults(o)
	par := max(1, lim.Parallel)
	rounds := (labs + par - 1) / par
	perLab := lim.BuildLimit + lim.Limits.Time + lim.Limits.Grace + DiagnoseLimit + 15*time.Second
	return lim.IntakeLimit + time.Duration(rounds)*perLab
}

func withDefaults(o Options) Options {
	if o.Limits.Time <= 0 {
		o.Limits.Time = runner.DefaultTime
	}
	if o.Limits.Grace <= 0 {
		o.Limits.Grace = runner.DefaultGrace
	}
	if o.Limits.Memory <= 0 {
		o.Limits.Memory = runner.DefaultMemory
	}
	if o.Limits.Output <= 0 {
		// Converting and reading the output is the grader's own work,
		// and the tests of a lab print a few KiB: 1 MiB is plenty, and
		// keeps that work to a second or two.
		o.Limits.Output = DefaultOutput
	}
	if o.BuildLimit <= 0 {
		o.BuildLimit = 2 * time.Minute
	}
	if o.BuildDisk <= 0 {
		o.BuildDisk = 512 << 20
	}
	if o.BuildFileSize <= 0 {
		o.BuildFileSize = 128 << 20
	}
	if o.Limits.FileSize <= 0 {
		o.Limits.FileSize = o.BuildFileSize
	}
	if o.IntakeLimit <= 0 {
		o.IntakeLimit = DefaultIntakeLimit
	}
	if o.SeedLimit <= 0 {
		o.SeedLimit = 30 * time.Minute
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	return o
}

// Failed is the grade of a submission that cannot be graded at all:
// every lab an Error, for reason.
func Failed(o Options, reason string) Result {
	o = withDefaults(o)
	res := Result{Submission: o.Submission, GoVersion: o.Toolchain.Version, Bound: Bound(o, len(o.Labs)), Error: oneLine(reason)}
	for _, l := range o.Labs {
		res.Labs = append(res.Labs, LabResult{Lab: l, Status: Error, Reason: oneLine("cannot grade the submission: " + reason)})
	}
	return res
}

// Grade grades one submission. Every lab gets a grade: one that could
// not be graded is an Error with the reason, and a submission that cannot
// be read at all has every lab an Error (and Result.Error set). The error
// is non-nil only for a problem of the grader itself (its own labs are
// not pristine, no scratch space); the Result then says the same.
func Grade(ctx context.Context, o Options) (Result, error) {
	o = withDefaults(o)
	fail := func(err error) (Result, error) { return Failed(o, err.Error()), err }
	if err := checkPristine(o.Root, o.Labs); err != nil {
		return fail(err)
	}
	broken, err := prepareSeed(ctx, o)
	if err != nil && broken == nil {
		return fail(err)
	}
	start := time.Now()
	sub := takeSubmission(o)
	if sub.problem != "" {
		res := Failed(o, sub.problem)
		res.Duration = time.Since(start)
		return res, nil
	}
	res := Result{Submission: o.Submission, GoVersion: o.Toolchain.Version, Bound: Bound(o, len(o.Labs))}
	for _, w := range sub.warnings {
		res.Warnings = append(res.Warnings, oneLine(w))
	}

	scratchRoot := o.Scratch
	if scratchRoot == "" {
		scratchRoot = filepath.Join(cacheDir(o), "scratch")
		os.MkdirAll(scratchRoot, 0o755)
	}
	scratch, err := os.MkdirTemp(scratchRoot, "racelab-grade-")
	if err != nil {
		return fail(fmt.Errorf("create a scratch directory: %w", err))
	}
	res.RunID = filepath.Base(scratch)
	marker := "RACELAB_GRADER_RUN=" + res.RunID
	stopReaper := startReaper(marker)
	defer stopReaper()
	if o.Keep {
		res.Scratch = scratch
	} else {
		defer os.RemoveAll(scratch)
	}
	tree := filepath.Join(scratch, "tree")
	if err := makeTree(o.Root, tree, o.Labs); err != nil {
		return fail(fmt.Errorf("copy the pristine labs: %w", err))
	}
	for rel, data := range sub.files {
		if err := os.WriteFile(filepath.Join(tree, filepath.FromSlash(rel)), data, 0o644); err != nil {
			return fail(err)
		}
	}

	results := make([]LabResult, len(o.Labs))
	var gradable []int
	for i, l := range o.Labs {
		results[i] = LabResult{Lab: l}
		switch rej := sub.rejected[l.ID]; {
		case len(rej) > 0:
			results[i].Rejected = rej
			results[i].Status = Fail
			results[i].Reason = "rejected: " + rej[0].Reason
		case broken[l.ID] != "":
			results[i].Status = Error
			results[i].Reason = "the grader cannot build its own copy of this lab: " + firstCompilerError(broken[l.ID])
		default:
			gradable = append(gradable, i)
		}
	}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, i := range gradable {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = gradeLab(ctx, o, scratch, tree, marker, results[i])
		})
	}
	wg.Wait()
	for i := range results {
		results[i] = finish(results[i])
	}
	res.Labs = results
	if n := stopReaper(); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("killed %d process(es) that outlived their lab's process group", n))
	}
	res.Duration = time.Since(start)
	return res, nil
}

// finish gives a graded lab its points and makes its texts, which may
// quote the submission, safe to print and short.
func finish(r LabResult) LabResult {
	switch {
	case r.Status == Pass:
		r.Points = r.Lab.Points
	case r.Status == Fail && len(r.Lab.TestPoints) > 0:
		for _, t := range r.Credited {
			r.Points += r.Lab.TestPoints[t]
		}
		r.Reason += fmt.Sprintf(" (partial credit: %d of %d tests pass, %d of %d points)", len(r.Credited), len(r.Lab.Tests), r.Points, r.Lab.Points)
	}
	r.Reason = oneLine(r.Reason)
	for i, rj := range r.Rejected {
		r.Rejected[i] = Rejection{File: oneLine(rj.File), Reason: oneLine(rj.Reason)}
	}
	for i, n := range r.Notes {
		r.Notes[i] = oneLine(n)
	}
	return r
}

// gradeLab builds and runs one lab in a folder of its own: its build
// cache (see cache.go), the go command's temporary files, its test
// binary and its tests' temporary files, all removed when it is done.
func gradeLab(ctx context.Context, o Options, scratch, tree, marker string, r LabResult) LabResult {
	start := time.Now()
	r = buildAndRun(ctx, o, scratch, tree, marker, start.Add(o.BuildLimit), r)
	r.BuildTime = time.Since(start) - r.Duration
	return r
}

// buildAndRun is gradeLab's work: preparing and building are done by
// deadline.
func buildAndRun(ctx context.Context, o Options, scratch, tree, marker string, deadline time.Time, r LabResult) LabResult {
	l := r.Lab
	work := filepath.Join(scratch, "work", l.ID)
	if !o.Keep {
		defer os.RemoveAll(work)
	}
	for _, d := range []string{"cache", "tmp", "bin", "run/tmp", "run/home"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			r.Status, r.Reason = Error, "could not prepare the build: "+err.Error()
			return r
		}
	}
	if err := labCache(o, filepath.Join(work, "cache")); err != nil {
		r.Status, r.Reason = Error, "could not prepare the build: "+err.Error()
		return r
	}
	env := append(without(buildEnv(o.Toolchain.Env), "GOCACHE", "GOTMPDIR", "TMPDIR", "GOPROXY"),
		"GOCACHE="+filepath.Join(work, "cache"), "GOTMPDIR="+filepath.Join(work, "tmp"),
		"TMPDIR="+filepath.Join(work, "tmp"), "GOPROXY=off", marker)
	limits := func() runner.GoLimits {
		return runner.GoLimits{Time: max(time.Millisecond, time.Until(deadline)), Memory: o.Limits.Memory,
			FileSize: o.BuildFileSize, Disk: o.BuildDisk, Watch: []string{work}, Output: 1 << 20}
	}
	stopped := func(killed string) LabResult {
		r.Status = Error
		if strings.HasPrefix(killed, "time limit") {
			killed = fmt.Sprintf("time limit (%s)", o.BuildLimit)
		}
		if ctx.Err() != nil {
			r.Reason = "grading was cancelled"
		} else {
			r.Reason = "the build was stopped: " + killed + ": make the code smaller or simpler"
		}
		return r
	}
	b := &bounded{lab: l}

	// Learner code must compile without the tests (and so cannot touch
	// the harness); only then is the test build instrumented.
	pr, err := runner.GoWithLimits(ctx, o.Toolchain.Go, tree, env, limits(), "build", "-race", "-o", os.DevNull, "./"+l.Dir())
	r.BuildPeakRSS = pr.PeakRSS
	var exit *exec.ExitError
	switch {
	case pr.Killed != "":
		return stopped(pr.Killed)
	case err != nil && !errors.As(err, &exit):
		r.Status, r.Reason = Error, "could not run the go command: "+err.Error()
		return r
	case err != nil:
		msg := string(pr.Output)
		r.Status = Fail
		r.Reason = "does not compile on its own: " + firstCompilerError(msg)
		r.Findings = b.diagnose(diagnose.Run{
			Lab:   diagnose.Lab{ID: l.ID, RelDir: l.Dir(), Dir: filepath.Join(tree, l.Dir()), Files: l.Files},
			Build: msg, BuildFailed: true,
		}).Findings
		r.Notes = b.notes
		return r
	}
	if err := instrument(filepath.Join(tree, l.Dir()), l); err != nil {
		r.Status, r.Reason = Error, "could not prepare the tests: "+err.Error()
		return r
	}
	lim := o.Limits
	eng := &engine.Engine{
		Root: tree, BinDir: filepath.Join(work, "bin"),
		Toolchain: engine.Toolchain{Go: o.Toolchain.Go, Version: o.Toolchain.Version, Env: env},
		Parallel:  1, Limits: lim, BuildLimits: limits(), Diagnose: b.diagnose,
		RunEnv: append(sandboxEnv(o.Toolchain.Env, filepath.Join(work, "run")), marker),
	}
	v := &verdictReader{secret: newSecret()}
	outcomes, err := eng.Run(ctx, []engine.Job{{Lab: l, Name: l.Dir(), Dir: l.Dir(),
		Env: []string{envFD + "=3", envSecret + "=" + v.secret}, Prepare: v.prepare}})
	switch {
	case err != nil:
		r.Status, r.Reason = Error, "could not build the tests: "+err.Error()
		return r
	case outcomes[0].Build.Killed != "":
		r.BuildPeakRSS = max(r.BuildPeakRSS, outcomes[0].Build.PeakRSS)
		return stopped(outcomes[0].Build.Killed)
	}
	r = judge(r, outcomes[0], v, lim.Output)
	r.BuildPeakRSS = max(r.BuildPeakRSS, outcomes[0].Build.PeakRSS)
	r.RunPeakRSS = outcomes[0].Run.PeakRSS
	r.Notes = b.notes
	return r
}

// DefaultOutput is how much of a lab's test output is kept and read when
// grading; a run that prints 8 times as much is killed.
const DefaultOutput = 1 << 20

// maxKeptOutput is how much of a lab's raw output its result keeps.
const maxKeptOutput = 64 << 10

// judge decides a lab's grade from the trusted verdict, the exit status
// and the events, which must all agree.
func judge(r LabResult, oc engine.Outcome, v *verdictReader, limit int64) LabResult {
	r.Duration = oc.Duration
	r.Tests = oc.Result.Tests
	r.Findings = oc.Result.Findings
	r.Output = oc.Output()
	if len(r.Output) > maxKeptOutput {
		r.Output = r.Output[len(r.Output)-maxKeptOutput:]
	}
	r.Truncated = oc.Run.Truncated
	if oc.Status == engine.Errored {
		r.Status, r.Reason = Error, "could not run the tests: "+oc.Err.Error()
		return r
	}
	if oc.Build.Failed {
		r.Status = Fail
		r.Reason = firstSummary(oc.Result, "does not compile")
		return r
	}
	fail := func(why string) LabResult {
		r.Status = Fail
		r.Reason = why
		if s := firstSummary(oc.Result, ""); s != "" {
			r.Reason += ": " + s
		}
		return r
	}
	verdict, ok := v.verdict()
	switch {
	case oc.Run.Killed != "":
		return fail("stopped by the grader: " + oc.Run.Killed)
	case !ok:
		return fail("the tests did not finish (no verdict from the grader's harness)")
	case verdict.code != 0:
		r.Credited = credit(r.Lab, oc, verdict)
		return fail("the tests failed")
	case oc.Run.Exit != 0:
		return fail(fmt.Sprintf("the test binary exited with status %d after reporting success", oc.Run.Exit))
	case oc.Run.Truncated:
		return fail(fmt.Sprintf("the tests printed more than %d KiB, which is all the grader reads, so their results could not be checked: print less", limit>>10))
	}
	for _, t := range r.Lab.Tests {
		if !slices.Contains(verdict.passed, t) {
			r.Credited = credit(r.Lab, oc, verdict)
			return fail(t + " did not run to the end")
		}
		if !slices.ContainsFunc(oc.Result.Tests, func(tr diagnose.TestResult) bool {
			return tr.Name == t && tr.Status != diagnose.Fail && tr.Status != diagnose.Unfinished
		}) {
			return fail(t + " passed by the harness's record but not in the test output: the output was tampered with")
		}
	}
	if !oc.Result.Passed() {
		return fail("the tests passed but the output shows problems")
	}
	r.Status = Pass
	r.Reason = fmt.Sprintf("all %d tests pass under -race", len(r.Lab.Tests))
	return r
}

// credit returns the tests whose points a lab that failed in a run
// that reached its verdict (not stopped, read whole) still earns: each
// passed by the harness's record, with this run's secret, and passing in
// the output. If the output and the record disagree about any test, the
// output was tampered with and nothing is earned.
func credit(l catalog.Lab, oc engine.Outcome, v verdict) []string {
	if oc.Run.Killed != "" || oc.Run.Truncated {
		return nil
	}
	var tests []string
	for _, t := range l.Tests {
		if !slices.Contains(v.passed, t) {
			continue
		}
		i := slices.IndexFunc(oc.Result.Tests, func(tr diagnose.TestResult) bool { return tr.Name == t })
		if i < 0 || oc.Result.Tests[i].Status != diagnose.Pass {
			return nil
		}
		tests = append(tests, t)
	}
	return tests
}

func firstSummary(r diagnose.Result, def string) string {
	if f, ok := r.Primary(); ok {
		return f.Summary
	}
	return def
}

// verdictReader owns the pipe the harness writes its verdict to.
type verdictReader struct {
	secret string
	done   chan struct{}
	data   []byte
}

type verdict struct {
	code   int
	passed []string
}

// prepare makes the pipe; the test binary inherits the write end as fd 3.
func (v *verdictReader) prepare() ([]*os.File, func(runner.Result), error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	v.done = make(chan struct{})
	go func() {
		defer close(v.done)
		defer r.Close()
		v.data, _ = io.ReadAll(io.LimitReader(r, 64<<10))
		io.Copy(io.Discard, r)
	}()
	return []*os.File{w}, func(runner.Result) { <-v.done }, nil
}

// verdict parses the one line the harness writes. Anything else on the
// pipe, or a line with the wrong secret, is no verdict at all.
func (v *verdictReader) verdict() (verdict, bool) {
	if v.done == nil {
		return verdict{}, false
	}
	<-v.done
	lines := strings.Split(strings.TrimSpace(string(v.data)), "\n")
	if len(lines) != 1 {
		return verdict{}, false
	}
	f := strings.Fields(lines[0])
	if len(f) < 4 || len(f) > 5 || f[0] != "racelab-verdict" || f[1] != "v1" || f[2] != v.secret {
		return verdict{}, false
	}
	code, err := strconv.Atoi(strings.TrimPrefix(f[3], "code="))
	if err != nil || !strings.HasPrefix(f[3], "code=") {
		return verdict{}, false
	}
	out := verdict{code: code}
	if len(f) == 5 {
		list := strings.TrimPrefix(f[4], "passed=")
		if list != "" {
			out.passed = strings.Split(list, ",")
		}
	}
	return out, true
}

func newSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sandboxEnv is the environment graded tests run with: the toolchain's,
// with temporary files and home inside the scratch directory.
func sandboxEnv(env []string, scratch string) []string {
	return append(without(env, "TMPDIR", "HOME", envFD, envSecret),
		"TMPDIR="+filepath.Join(scratch, "tmp"),
		"HOME="+filepath.Join(scratch, "home"),
	)
}

// buildEnv is the go command's environment for a scratch tree: the
// grader's own (so its build and module caches are used), with no
// GOFLAGS, workspace or toolchain switch of the grader's leaking in.
func buildEnv(env []string) []string {
	return append(without(env, "GOFLAGS", "GOWORK", "GOTOOLCHAIN", envFD, envSecret),
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
}

func without(env []string, keys ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(keys, k) {
			out = append(out, kv)
		}
	}
	return out
}

// checkPristine makes sure the grader grades against the real tests: in
// its own repository, every file of a lab that learners do not edit must be
// identical to the solution's copy, as verify requires.
func checkPristine(root string, labs []catalog.Lab) error {
	for _, l := range labs {
		ents, err := os.ReadDir(filepath.Join(root, l.Dir()))
		if err != nil {
			return fmt.Errorf("read the grader's own %s: %w", l.Dir(), err)
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || slices.Contains(l.Files, e.Name()) {
				continue
			}
			a, errA := os.ReadFile(filepath.Join(root, l.Dir(), e.Name()))
			b, errB := os.ReadFile(filepath.Join(root, l.SolutionDir(), e.Name()))
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				return fmt.Errorf("the grader's own %s/%s is not pristine (it differs from %s/%s): grade from a clean clone of Racelab, or restore it with `git checkout -- %s`",
					l.Dir(), e.Name(), l.SolutionDir(), e.Name(), l.Dir())
			}
		}
	}
	return nil
}

// copyPristine copies go.mod, go.sum and the labs into tree.
func copyPristine(root, tree string, labs []catalog.Lab) error {
	paths := []string{"go.mod", "go.sum"}
	for _, l := range labs {
		paths = append(paths, l.Dir())
	}
	return fsutil.CopyPaths(root, tree, paths...)
}

// firstCompilerError is the first line of go build's output that is not a
// "# package" header.
func firstCompilerError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return firstLine(out)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
