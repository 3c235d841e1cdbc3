// Package engine runs labs: it builds their tests once, runs each lab's
// test binary in its own process group, several at a time, and diagnoses
// what each run printed. The checker's commands, verify and grading are
// all built on [Engine.Run]; running ([runner]), classifying ([diagnose])
// and reporting (package report) stay separate.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/runner"
)

// Status is a lab's verdict.
type Status string

// The verdicts. Errored means the lab could not be run at all (a problem of
// the checker or the machine, never of the learner's code).
const (
	Fixed   Status = "fixed"
	Broken  Status = "broken"
	Errored Status = "error"
)

// A Job is one run of one lab's tests.
type Job struct {
	Lab catalog.Lab
	// Name identifies the test binary: jobs with the same Name share one
	// build. It is also the label shown in progress.
	Name string
	// Dir is the package directory relative to the module root, such as
	// "labs/bank" or "solutions/bank".
	Dir        string
	GOMAXPROCS int      // 0 leaves the machine's default
	Args       []string // extra test flags, such as -test.run
	Env        []string // extra environment variables
	// Prepare, when set, runs just before the binary starts and returns
	// files it inherits (fd 3 on) and a function called after it exits.
	Prepare func() (files []*os.File, done func(runner.Result), err error)
}

// An Outcome is what one job found.
type Outcome struct {
	Job      Job
	Status   Status
	Result   diagnose.Result
	Run      runner.Result
	Build    runner.Built
	Err      error // why the lab could not be run, when Status is Errored
	Duration time.Duration
	// Notes are what the learner should know that is not a finding, such
	// as a test file the run restored; set by the caller.
	Notes []string
}

// Output returns the run's raw output for display, or the build's.
func (o Outcome) Output() string {
	if o.Build.Failed {
		return o.Build.Output
	}
	// test2json's framing bytes (^V) and the bare "=== NAME" lines it
	// frames, which tell it output went back to the package, mean nothing
	// to a reader.
	lines := bytes.SplitAfter(o.Run.Output, []byte("\n"))
	var b bytes.Buffer
	for _, l := range lines {
		l = bytes.ReplaceAll(l, []byte{0x16}, nil)
		if string(bytes.TrimSpace(l)) == "=== NAME" {
			continue
		}
		b.Write(l)
	}
	return b.String()
}

// Phase names a step reported to Progress.
type Phase int

// The steps of a run, in order.
const (
	Building Phase = iota // Total targets are being built
	Started               // Job started
	Finished              // Job finished with Outcome
)

// Progress reports what the engine is doing; calls come from several
// goroutines, one at a time.
type Progress struct {
	Phase       Phase
	Job         Job
	Outcome     Outcome
	Done, Total int
}

// Engine runs jobs in one module tree.
type Engine struct {
	Root      string // the module root, absolute
	BinDir    string // where test binaries are kept between runs
	Toolchain Toolchain
	Overlay   string // optional build overlay
	// RunEnv, when set, replaces Toolchain.Env for the test binaries (not
	// for the go command, which keeps the user's caches).
	RunEnv   []string
	Parallel int // jobs at once; the number of CPUs when 0
	Limits   runner.Limits
	// BuildLimits bound each go command that builds test binaries; the
	// zero value sets none.
	BuildLimits runner.GoLimits
	// Diagnose, when set, replaces diagnose.Diagnose (the grader bounds
	// the work it does on output that graded code controls).
	Diagnose func(diagnose.Run) diagnose.Result
	Progress func(Progress)
}

// Run builds every job's tests and runs the jobs, Parallel at a time. It
// returns an outcome for every job, in the order given. The error is
// non-nil only when nothing could be built (the go command failed to run).
func (e *Engine) Run(ctx context.Context, jobs []Job) ([]Outcome, error) {
	if err := os.MkdirAll(e.BinDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", e.BinDir, err)
	}
	unlock, err := LockDir(e.BinDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var targets []runner.Target
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Lab.Err != nil {
			continue // not built; its outcome says why
		}
		if !seen[j.Name] {
			seen[j.Name] = true
			targets = append(targets, runner.Target{Name: j.Name, Dir: j.Dir})
		}
	}
	var mu sync.Mutex // serializes Progress calls and counts done
	report := func(p Progress) {
		if e.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			e.Progress(p)
		}
	}
	report(Progress{Phase: Building, Total: len(targets)})
	built, err := runner.Build(ctx, runner.BuildConfig{
		Go: e.Toolchain.Go, Module: e.Root, BinDir: e.BinDir, Overlay: e.Overlay, Env: e.Toolchain.Env,
		Limits: e.BuildLimits,
	}, targets)
	if err != nil {
		return nil, err
	}
	if err := setupFailure(built); err != nil {
		return nil, err
	}

	parallel := e.Parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	outcomes := make([]Outcome, len(jobs))
	sem := make(chan struct{}, parallel)
	done := 0
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			report(Progress{Phase: Started, Job: j, Total: len(jobs)})
			var o Outcome
			if j.Lab.Err != nil {
				o = Outcome{Job: j, Status: Errored, Err: j.Lab.Err}
			} else {
				o = e.runOne(ctx, j, built[j.Name])
			}
			outcomes[i] = o
			mu.Lock()
			done++
			n := done
			mu.Unlock()
			report(Progress{Phase: Finished, Job: j, Outcome: o, Done: n, Total: len(jobs)})
		})
	}
	wg.Wait()
	return outcomes, nil
}

func (e *Engine) runOne(ctx context.Context, j Job, b runner.Built) Outcome {
	start := time.Now()
	o := Outcome{Job: j, Build: b}
	dir := filepath.Join(e.Root, j.Dir)
	in := diagnose.Run{Lab: diagnose.Lab{
		ID: j.Lab.ID, RelDir: filepath.ToSlash(j.Dir), Dir: dir, Files: j.Lab.Files, Source: readSources(dir, e.overlay()),
	}}
	if b.Failed {
		in.BuildFailed, in.Build = true, b.Output
	} else if b.Binary == "" {
		o.Status, o.Err = Errored, fmt.Errorf("no test binary was built for %s", j.Dir)
		return o
	} else {
		base := e.Toolchain.Env
		if e.RunEnv != nil {
			base = e.RunEnv
		}
		env := append(append([]string{}, base...), j.Env...)
		if j.GOMAXPROCS > 0 {
			env = append(env, "GOMAXPROCS="+strconv.Itoa(j.GOMAXPROCS))
		}
		var files []*os.File
		var after func(runner.Result)
		if j.Prepare != nil {
			var err error
			if files, after, err = j.Prepare(); err != nil {
				o.Status, o.Err = Errored, err
				return o
			}
		}
		res, err := runner.Run(ctx, runner.Exec{
			Binary: b.Binary, Dir: dir, Package: ModulePath + "/" + filepath.ToSlash(j.Dir),
			Args: j.Args, Env: env, ExtraFiles: files, Limits: e.Limits,
		})
		if after != nil {
			after(res)
		}
		o.Run = res
		if err != nil {
			o.Status, o.Err, o.Duration = Errored, err, time.Since(start)
			return o
		}
		in.Events, in.Exit, in.Killed = res.Events, res.Exit, res.Killed
	}
	if e.Diagnose != nil {
		o.Result = e.Diagnose(in)
	} else {
		o.Result = diagnose.Diagnose(in)
	}
	o.Status = Broken
	if o.Result.Passed() {
		o.Status = Fixed
	}
	o.Duration = time.Since(start)
	return o
}

// LockDir takes an exclusive lock on dir, so two checkers sharing a build
// directory (a watch and a run, say) take turns instead of overwriting each
// other's binaries.
func LockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// setupFailure recognizes builds that failed because of the machine, not
// the code: every target failed, saying the race detector cannot work.
// Such a failure must never be recorded as the learner's verdict.
func setupFailure(built map[string]runner.Built) error {
	if len(built) == 0 {
		return nil
	}
	for _, b := range built {
		if !b.Failed || !(strings.Contains(b.Output, "-race requires cgo") || strings.Contains(b.Output, "C compiler") && strings.Contains(b.Output, "not found")) {
			return nil
		}
	}
	for _, b := range built {
		return &SetupError{"the race detector cannot work on this machine: " + firstLine(b.Output) +
			": install a C compiler (`apt install gcc`, `xcode-select --install`) and make sure CGO_ENABLED=1 and CC name it"}
	}
	return nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return strings.TrimSpace(s)
}

// overlay reads the build overlay's replacements (file → replacement, ""
// for a file left out), so code quoted in findings is the code that ran.
func (e *Engine) overlay() map[string]string {
	if e.Overlay == "" {
		return nil
	}
	data, err := os.ReadFile(e.Overlay)
	if err != nil {
		return nil
	}
	var o struct{ Replace map[string]string }
	if json.Unmarshal(data, &o) != nil {
		return nil
	}
	return o.Replace
}
