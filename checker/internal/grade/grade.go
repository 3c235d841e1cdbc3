// Package grade grades a learner's copy of the repository without trusting
// it.
//
// # What the grader trusts
//
// Nothing the submission's code prints. It takes from the submission only
// the files the catalog lists as editable, rejects any that import outside
// the lab's allowlist (so graded code cannot reach os, syscall, unsafe,
// reflect, runtime, testing or cgo) or carry compiler directives, and
// builds them inside a fresh copy of the pristine labs. It builds each lab
// without its tests first, so learner code cannot refer to anything that
// exists only in the test build. It then renames the pristine tests and
// adds its own test file (see harness.go): every expected test runs through
// a recorder, and TestMain writes "racelab-verdict v1 <secret> code=N
// passed=..." to a pipe inherited as a file descriptor. A lab passes only
// when all of these agree: the verdict line carries this run's secret; its
// code is 0; every test the catalog expects ran to the end without failing;
// the test binary exited 0; and the test2json events show every expected
// test passing. Forged "--- PASS" lines, invented tests and an early exit(0)
// all break one of them.
//
// # What the grader contains
//
// Each lab's tests run in their own process group with a time limit
// (Limits.Time, plus a grace period, after which the group is killed), a
// memory limit on the group's resident memory and an output limit; TMPDIR
// and HOME point into the scratch directory; the grader is a child
// subreaper, so a process that escapes its group is still found and killed
// before Grade returns. The build runs under a time limit of its own.
// Grading finishes within Bound(opts, labs).
//
// # JSON output (schema racelab.grade/v1)
//
//	{
//	  "schema": "racelab.grade/v1",
//	  "submission": "/abs/path",
//	  "go": "go1.26.8",
//	  "points": 30, "max_points": 80,
//	  "duration_ms": 9120, "bound_ms": 470000,
//	  "labs": [{
//	    "id": "bank", "status": "pass",   // "pass" | "fail" | "error"
//	    "points": 20, "max_points": 20,
//	    "reason": "...",                  // one line: why it passed, failed or could not run
//	    "rejected": [{"file": "labs/bank/bank.go", "reason": "..."}],
//	    "tests": [{"name": "TestTransfer", "status": "pass", "elapsed_ms": 3}],
//	    "findings": [...]                 // as in racelab.check/v1; advisory only
//	  }],
//	  "warnings": ["labs/bank/bank_test.go differs from the original; the original was used"]
//	}
package grade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// grader or the machine); it is never silently dropped.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error"
)

// Options say what to grade and how.
type Options struct {
	Root       string // the grader's own repository: the pristine labs
	Submission string // the learner's copy of the repository
	Labs       []catalog.Lab
	Toolchain  engine.Toolchain
	Limits     runner.Limits
	BuildLimit time.Duration // the build's time limit
	Parallel   int
	Scratch    string // where to make the scratch tree; os.TempDir() when empty
	Keep       bool   // keep the scratch tree (for debugging the grader)
}

// LabResult is one lab's grade.
type LabResult struct {
	Lab       catalog.Lab
	Status    Status
	Points    int
	Reason    string
	Rejected  []Rejection
	Tests     []diagnose.TestResult
	Findings  []diagnose.Finding
	Duration  time.Duration
	Output    string // the raw test output, capped
	Truncated bool
}

// Result is the grade of one submission.
type Result struct {
	Submission string
	GoVersion  string
	Labs       []LabResult
	Warnings   []string
	Duration   time.Duration
	Bound      time.Duration
	Scratch    string // only when kept
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

// Bound is the longest grading can take: the build's limit, then the labs
// in rounds of Parallel, each within its time limit and grace.
func Bound(o Options, labs int) time.Duration {
	lim := withDefaults(o)
	par := max(1, lim.Parallel)
	rounds := (labs + par - 1) / par
	return lim.BuildLimit + time.Duration(rounds)*(lim.Limits.Time+lim.Limits.Grace+5*time.Second)
}

func withDefaults(o Options) Options {
	if o.Limits.Time <= 0 {
		o.Limits.Time = runner.DefaultTime
	}
	if o.Limits.Grace <= 0 {
		o.Limits.Grace = runner.DefaultGrace
	}
	if o.BuildLimit <= 0 {
		o.BuildLimit = 5 * time.Minute
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	return o
}

// Grade grades one submission. The error is non-nil only when grading as
// a whole could not happen (no scratch space, say); a lab that could not
// be graded is reported as Error in the result.
func Grade(ctx context.Context, o Options) (Result, error) {
	o = withDefaults(o)
	start := time.Now()
	res := Result{Submission: o.Submission, GoVersion: o.Toolchain.Version, Bound: Bound(o, len(o.Labs))}
	if st, err := os.Stat(filepath.Join(o.Submission, "labs")); err != nil || !st.IsDir() {
		return res, fmt.Errorf("%s does not look like a copy of Racelab: it has no labs/ folder (pass the folder that holds go.mod and labs/)", o.Submission)
	}
	if err := checkPristine(o.Root, o.Labs); err != nil {
		return res, err
	}
	scratch, err := os.MkdirTemp(o.Scratch, "racelab-grade-")
	if err != nil {
		return res, fmt.Errorf("create a scratch directory: %w", err)
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
	for _, d := range []string{"tmp", "home", "bin"} {
		if err := os.MkdirAll(filepath.Join(scratch, d), 0o755); err != nil {
			return res, err
		}
	}
	if err := copyPristine(o.Root, tree, o.Labs); err != nil {
		return res, fmt.Errorf("copy the pristine labs: %w", err)
	}
	res.Warnings = compareSubmission(o.Root, o.Submission, o.Labs)

	// Intake: the editable files, checked by the policy.
	results := make([]LabResult, len(o.Labs))
	var gradable []int
	for i, l := range o.Labs {
		results[i] = LabResult{Lab: l}
		for _, f := range l.Files {
			rel := filepath.ToSlash(filepath.Join(l.Dir(), f))
			data, rej := readSubmitted(filepath.Join(o.Submission, l.Dir(), f), rel)
			if rej == nil {
				rejs := CheckSource(l, rel, data)
				if len(rejs) > 0 {
					results[i].Rejected = append(results[i].Rejected, rejs...)
					continue
				}
				if err := os.WriteFile(filepath.Join(tree, l.Dir(), f), data, 0o644); err != nil {
					return res, err
				}
				continue
			}
			results[i].Rejected = append(results[i].Rejected, *rej)
		}
		if len(results[i].Rejected) > 0 {
			results[i].Status = Fail
			results[i].Reason = "rejected: " + results[i].Rejected[0].Reason
			continue
		}
		gradable = append(gradable, i)
	}

	// Learner code must compile without the tests (and so cannot touch the
	// harness); only then is the test build instrumented.
	buildCtx, cancel := context.WithTimeout(ctx, o.BuildLimit)
	defer cancel()
	plain, err := buildPlain(buildCtx, o, tree, o.Labs, gradable)
	if err != nil {
		return res, err
	}
	var runnable []int
	for _, i := range gradable {
		l := o.Labs[i]
		if msg, bad := plain[l.ID]; bad {
			results[i].Status = Fail
			results[i].Reason = "does not compile on its own: " + firstCompilerError(msg)
			results[i].Findings = diagnose.Diagnose(diagnose.Run{
				Lab:   diagnose.Lab{ID: l.ID, RelDir: l.Dir(), Dir: filepath.Join(tree, l.Dir()), Files: l.Files},
				Build: msg, BuildFailed: true,
			}).Findings
			continue
		}
		if err := instrument(filepath.Join(tree, l.Dir()), l); err != nil {
			results[i].Status, results[i].Reason = Error, "could not prepare the tests: "+err.Error()
			continue
		}
		runnable = append(runnable, i)
	}

	eng := &engine.Engine{
		Root: tree, BinDir: filepath.Join(scratch, "bin"), Toolchain: o.Toolchain,
		Parallel: o.Parallel, Limits: o.Limits,
		RunEnv: append(sandboxEnv(o.Toolchain.Env, scratch), marker),
	}
	eng.Toolchain.Env = buildEnv(o.Toolchain.Env)
	var jobs []engine.Job
	verdicts := make([]*verdictReader, len(runnable))
	for k, i := range runnable {
		l := o.Labs[i]
		v := &verdictReader{secret: newSecret()}
		verdicts[k] = v
		jobs = append(jobs, engine.Job{Lab: l, Name: l.Dir(), Dir: l.Dir(),
			Env: []string{envFD + "=3", envSecret + "=" + v.secret}, Prepare: v.prepare})
	}
	if len(jobs) > 0 {
		outcomes, err := eng.Run(buildCtx, jobs)
		if err != nil {
			return res, fmt.Errorf("build the submission: %w", err)
		}
		for k, i := range runnable {
			results[i] = judge(results[i], outcomes[k], verdicts[k])
		}
	}
	for i := range results {
		if results[i].Status == Pass {
			results[i].Points = results[i].Lab.Points
		}
	}
	res.Labs = results
	if n := stopReaper(); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("killed %d process(es) that outlived their lab's process group", n))
	}
	res.Duration = time.Since(start)
	return res, nil
}

// judge decides a lab's grade from the trusted verdict, the exit status
// and the events, which must all agree.
func judge(r LabResult, oc engine.Outcome, v *verdictReader) LabResult {
	r.Duration = oc.Duration
	r.Tests = oc.Result.Tests
	r.Findings = oc.Result.Findings
	r.Output = oc.Output()
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
		return fail("the tests failed")
	case oc.Run.Exit != 0:
		return fail(fmt.Sprintf("the test binary exited with status %d after reporting success", oc.Run.Exit))
	}
	for _, t := range r.Lab.Tests {
		if !slices.Contains(verdict.passed, t) {
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

// buildPlain builds the gradable labs without their tests and returns the
// compiler's messages for each lab that failed.
func buildPlain(ctx context.Context, o Options, tree string, labs []catalog.Lab, gradable []int) (map[string]string, error) {
	if len(gradable) == 0 {
		return nil, nil
	}
	args := []string{"build", "-race", "-o", os.DevNull}
	byPkg := map[string]string{}
	for _, i := range gradable {
		args = append(args, "./"+labs[i].Dir())
		byPkg[engine.ModulePath+"/"+labs[i].Dir()] = labs[i].ID
	}
	out, err := runner.Go(ctx, o.Toolchain.Go, tree, buildEnv(o.Toolchain.Env), args...)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("the build took longer than %s", o.BuildLimit)
	}
	failed := map[string]string{}
	if err == nil {
		return failed, nil
	}
	// go build prints "# pkg" before each package's errors.
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			cur = byPkg[strings.Fields(rest + " ")[0]]
		}
		if cur != "" {
			failed[cur] += line + "\n"
		}
	}
	if len(failed) == 0 {
		for _, i := range gradable {
			failed[labs[i].ID] = string(out)
		}
	}
	return failed, nil
}

// compareSubmission lists files outside the editable ones that differ from
// the pristine repository; they were not used, and the learner should know.
func compareSubmission(root, sub string, labs []catalog.Lab) []string {
	var warns []string
	const maxWarnings = 50
	seen := 0
	check := func(rel string) {
		if len(warns) >= maxWarnings {
			return
		}
		seen++
		a, errA := os.ReadFile(filepath.Join(root, rel))
		st, err := os.Lstat(filepath.Join(sub, rel))
		if err != nil {
			return
		}
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			warns = append(warns, rel+" is a symbolic link; the original was used")
		case errA != nil:
			warns = append(warns, rel+" is not part of Racelab; it was ignored")
		case st.Size() > 4<<20:
			warns = append(warns, rel+" differs from the original; the original was used")
		default:
			b, err := os.ReadFile(filepath.Join(sub, rel))
			if err == nil && !bytes.Equal(a, b) {
				warns = append(warns, rel+" differs from the original; the original was used")
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "Makefile"} {
		check(f)
	}
	for _, l := range labs {
		ents, err := os.ReadDir(filepath.Join(sub, l.Dir()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() || slices.Contains(l.Files, e.Name()) || seen > 10000 {
				continue
			}
			check(filepath.ToSlash(filepath.Join(l.Dir(), e.Name())))
		}
	}
	// The checker grades with its own code; an edited copy has no effect,
	// but the learner should hear that. WalkDir does not follow links.
	filepath.WalkDir(filepath.Join(sub, "checker"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || seen > 10000 || len(warns) >= maxWarnings {
			return filepath.SkipAll
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(sub, p)
			check(filepath.ToSlash(rel))
		}
		return nil
	})
	return warns
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
