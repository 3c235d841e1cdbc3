package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/report"
	"github.com/racelab/racelab/checker/internal/runner"
)

// checkOptions are the flags of check and run.
type checkOptions struct {
	json       bool
	junit      string
	noColor    bool
	verbose    bool
	timeout    time.Duration
	parallel   int
	gomaxprocs int
	solutions  bool
}

func (o *checkOptions) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print a JSON document (schema "+report.CheckSchema+") instead of text")
	fs.StringVar(&o.junit, "junit", "", "also write JUnit XML to `FILE`")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTime, "time limit for each lab's tests; the lab's processes are killed a little after")
	fs.IntVar(&o.parallel, "parallel", 0, "labs to run at once (default: the number of CPUs)")
	fs.IntVar(&o.gomaxprocs, "gomaxprocs", 0, "run the tests with this GOMAXPROCS (default: the machine's)")
	fs.BoolVar(&o.solutions, "solutions", false, "run the reference solutions instead of the labs")
	if name == "run" {
		fs.BoolVar(&o.verbose, "v", false, "also print each lab's raw test output")
	}
	return fs
}

// Validate checks the options' values.
func (o *checkOptions) Validate() error {
	switch {
	case o.timeout < time.Second:
		return usagef("-timeout must be at least 1s, got %v", o.timeout)
	case o.parallel < 0:
		return usagef("-parallel must not be negative")
	case o.gomaxprocs < 0:
		return usagef("-gomaxprocs must not be negative")
	case o.json && o.verbose:
		return usagef("-v and -json do not go together: the JSON document already holds every finding")
	}
	return nil
}

// workspace is a resolved repository: its root, its cache and the engine
// that runs its labs.
type workspace struct {
	root   string
	cache  string // test binaries, the toolchain's answers: the user's cache, per clone
	tc     engine.Toolchain
	cat    catalog.Catalog
	engine *engine.Engine
}

func openWorkspace(ctx context.Context, env Env) (*workspace, error) {
	root, err := engine.FindRoot(env.Dir)
	if err != nil {
		return nil, err
	}
	cache := engine.CacheDir(root)
	tc, err := engine.FindToolchain(ctx, filepath.Dir(cache))
	if err != nil {
		return nil, err
	}
	engine.PruneCache(filepath.Dir(cache), engine.CacheLimit, cache)
	return &workspace{
		root: root, cache: cache, tc: tc, cat: env.Catalog,
		engine: &engine.Engine{Root: root, BinDir: filepath.Join(cache, "bin"), Toolchain: tc},
	}, nil
}

// runLabs runs jobs the way a learner's command should: with the tests as
// shipped and the grading policy applied, so that "fixed" means what it
// means to the grader. Outcomes of labs whose files break the policy are
// broken, with the reason as a finding.
func (ws *workspace) runLabs(ctx context.Context, jobs []engine.Job, solutions bool) ([]engine.Outcome, error) {
	// Each run has its own copy of the engine: watch starts a new run
	// while the one a save cancelled is still winding down.
	e := *ws.engine
	var checks map[string]*labCheck
	if !solutions {
		var labs []catalog.Lab
		for _, j := range jobs {
			labs = append(labs, j.Lab)
		}
		overlay := filepath.Join(ws.cache, "overlay.json")
		var used bool
		var err error
		if checks, used, err = prepareLabs(ws.root, labs, overlay); err != nil {
			return nil, fmt.Errorf("prepare the labs: %w", err)
		}
		e.Overlay = ""
		if used {
			e.Overlay = overlay
		}
		jobs = slices.Clone(jobs)
		for i, j := range jobs {
			if c := checks[j.Lab.ID]; c != nil && len(c.missing) > 0 {
				jobs[i].Lab.Err = errors.New(strings.Join(c.missing, "\n"))
			}
		}
	}
	outcomes, err := e.Run(ctx, jobs)
	if err != nil {
		return nil, err
	}
	for i := range outcomes {
		o := &outcomes[i]
		c := checks[o.Job.Lab.ID]
		if c == nil || o.Status == engine.Errored {
			continue
		}
		o.Notes = append(o.Notes, c.notes...)
		if len(c.rejected) > 0 {
			o.Result.Findings = append(o.Result.Findings, rejectionFindings(c.rejected)...)
			o.Status = engine.Broken
		}
	}
	return outcomes, nil
}

func runCheck(ctx context.Context, env Env, args []string) error {
	o := &checkOptions{}
	pos, err := parse(o.flags("check"), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return check(ctx, env, o, pos, false)
}

func runRun(ctx context.Context, env Env, args []string) error {
	o := &checkOptions{}
	pos, err := parse(o.flags("run"), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("name the lab(s) to run, for example `go run ./checker run %s`", env.Catalog[0].ID)
	}
	return check(ctx, env, o, pos, true)
}

// check runs labs and reports them: a table, or details when deep.
func check(ctx context.Context, env Env, o *checkOptions, ids []string, deep bool) error {
	labs, err := selectLabs(env.Catalog, ids)
	if err != nil {
		return err
	}
	ws, err := openWorkspace(ctx, env)
	if err != nil {
		return err
	}
	ws.engine.Parallel = o.parallel
	ws.engine.Limits = runner.Limits{Time: o.timeout}
	ws.engine.Progress = progressPrinter(env.Stderr, o.noColor)
	var jobs []engine.Job
	for _, l := range labs {
		dir := l.Dir()
		if o.solutions {
			dir = l.SolutionDir()
		}
		jobs = append(jobs, engine.Job{Lab: l, Name: dir, Dir: dir, GOMAXPROCS: o.gomaxprocs})
	}
	outcomes, err := ws.runLabs(ctx, jobs, o.solutions)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !o.solutions {
		saveResults(ws, outcomes)
	}
	next := nextLab(ws, outcomes)
	style := withPaths(styleFor(env.Stdout, o.noColor), ws.root, env.Dir)
	switch {
	case o.json:
		nextID := ""
		if next != nil {
			nextID = next.ID
		}
		if err := report.JSON(env.Stdout, report.NewDocument(ws.tc.Version, outcomes, nextID)); err != nil {
			return err
		}
	case deep:
		for i, oc := range outcomes {
			if i > 0 {
				fmt.Fprintln(env.Stdout, "\n"+strings.Repeat("─", 72))
			}
			report.Details(env.Stdout, style, oc, o.verbose)
		}
	default:
		report.Table(env.Stdout, style, report.Width(env.Stdout), outcomes, next)
	}
	if o.junit != "" {
		if err := fsutil.WriteAtomic(o.junit, func(w io.Writer) error { return report.JUnit(w, outcomes) }); err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
	}
	for _, oc := range outcomes {
		// A lab whose files are missing or broken is the learner's to
		// restore (the table says how): the lab fails. Anything else that
		// kept a lab from running is the checker's or the machine's.
		if oc.Status == engine.Errored && oc.Job.Lab.Err == nil {
			return fmt.Errorf("%s could not be run: %w", oc.Job.Dir, oc.Err)
		}
	}
	for _, oc := range outcomes {
		if oc.Status != engine.Fixed {
			return errFailed
		}
	}
	return nil
}

// nextLab is the first lab in curriculum order that is not known to be
// done, from this run's outcomes or the progress file.
func nextLab(ws *workspace, outcomes []engine.Outcome) *catalog.Lab {
	p := loadProgress(ws.root)
	done := map[string]bool{}
	for _, l := range ws.cat {
		done[l.ID] = p.isDone(ws.root, ws.cat, l.ID)
	}
	for _, o := range outcomes {
		done[o.Job.Lab.ID] = o.Status == engine.Fixed
	}
	for _, l := range ws.cat {
		if !done[l.ID] {
			return &l
		}
	}
	return nil
}

// progressPrinter shows progress on w: one redrawn line on a terminal, a
// line per finished lab otherwise. The build says what it is doing from
// its first second: on a fresh machine it compiles the race-instrumented
// standard library, which takes a minute or more.
func progressPrinter(w io.Writer, noColor bool) func(engine.Progress) {
	tty := isTerminal(w)
	style := styleFor(w, noColor)
	var running []string
	var mu sync.Mutex // protects running and stopTicker
	var stopTicker chan struct{}
	return func(p engine.Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Phase {
		case engine.Building:
			start := time.Now()
			stopTicker = make(chan struct{})
			stop := stopTicker
			const slow = 5 * time.Second
			note := "a first build compiles the race-instrumented standard library: a minute or two"
			draw := func() {
				if !tty {
					// One line when the build starts, and one if it is slow.
					if time.Since(start) < time.Second {
						fmt.Fprintf(w, "building %s with -race\n", binaries(p.Total))
					} else {
						fmt.Fprintf(w, "still building after %s (%s)\n", slow, note)
					}
					return
				}
				line := fmt.Sprintf("\r\x1b[Kbuilding %s with -race… %s", binaries(p.Total), time.Since(start).Round(time.Second))
				if time.Since(start) >= slow {
					line += style.Dim(" (" + note + ")")
				}
				fmt.Fprint(w, line)
			}
			draw()
			go func() { // ends when the build ends
				tick := time.Second
				if !tty {
					tick = slow
				}
				t := time.NewTicker(tick)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						mu.Lock()
						if stopTicker == stop {
							draw()
						}
						mu.Unlock()
						if !tty {
							return // the one line about a slow build is said
						}
					}
				}
			}()
		case engine.Started:
			if stopTicker != nil {
				close(stopTicker)
				stopTicker = nil
			}
			running = append(running, p.Job.Name)
			if tty {
				fmt.Fprintf(w, "\r\x1b[Krunning %s…", strings.Join(running, ", "))
			}
		case engine.Finished:
			for i, r := range running {
				if r == p.Job.Name {
					running = append(running[:i], running[i+1:]...)
					break
				}
			}
			if tty {
				if p.Done == p.Total {
					fmt.Fprint(w, "\r\x1b[K")
				} else {
					fmt.Fprintf(w, "\r\x1b[K%d/%d done; running %s…", p.Done, p.Total, strings.Join(running, ", "))
				}
				return
			}
			fmt.Fprintf(w, "[%d/%d] %-28s %s %s\n", p.Done, p.Total, p.Job.Name, report.StatusText(p.Outcome),
				style.Dim(p.Outcome.Duration.Round(10*time.Millisecond).String()))
		}
	}
}

func binaries(n int) string {
	if n == 1 {
		return "1 test binary"
	}
	return fmt.Sprintf("%d test binaries", n)
}
