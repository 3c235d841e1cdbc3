package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/racelab/racelab/checker/internal/doctor"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/report"
)

// doctorOptions are the flags of doctor.
type doctorOptions struct {
	json        bool
	sarif       string
	junit       string
	noColor     bool
	verbose     bool
	deadline    time.Duration
	timeout     time.Duration
	forDur      time.Duration
	settle      time.Duration
	count       int
	gomaxprocs  string
	parallel    int
	run         string
	tags        string
	noLocks     bool
	noLeaks     bool
	leakProfile bool
	procs       []int
}

func (o *doctorOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print a JSON document (schema "+doctor.Schema+") instead of text")
	fs.StringVar(&o.sarif, "sarif", "", "also write the findings as SARIF 2.1.0 to `FILE` (for code scanning)")
	fs.StringVar(&o.junit, "junit", "", "also write JUnit XML to `FILE`")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	fs.BoolVar(&o.verbose, "v", false, "also print each finding's evidence")
	fs.DurationVar(&o.deadline, "deadline", doctor.DefaultDeadline, "how long each top-level test may run before its goroutines are examined")
	fs.DurationVar(&o.timeout, "timeout", doctor.DefaultTimeout, "bound on one run of one package's tests")
	fs.DurationVar(&o.forDur, "for", 0, "keep re-running packages without findings until this much time has passed (e.g. 60s)")
	fs.DurationVar(&o.settle, "settle", doctor.DefaultSettle, "how long a test's leftover goroutines get to finish before they count as leaked")
	fs.IntVar(&o.count, "count", 1, "runs of each package per GOMAXPROCS value; a package stops at its first finding")
	fs.StringVar(&o.gomaxprocs, "gomaxprocs", "", "comma-separated GOMAXPROCS values to run with, e.g. 1,2,8 (default: the machine's)")
	fs.IntVar(&o.parallel, "parallel", 0, "test binaries to run at once (default: the number of CPUs)")
	fs.StringVar(&o.run, "run", "", "run only the tests matching this `regexp`, as go test -run")
	fs.StringVar(&o.tags, "tags", "", "build tags, as go test -tags")
	fs.BoolVar(&o.noLocks, "no-locks", false, "keep sync.Mutex and sync.RWMutex as they are: no lock-order or double-lock checks")
	fs.BoolVar(&o.noLeaks, "no-leaks", false, "do not check for goroutines left behind by each test")
	fs.BoolVar(&o.leakProfile, "leakprofile", false, "also use the runtime's leak detector (GOEXPERIMENT=goroutineleakprofile, Go 1.26): a one-time rebuild of the standard library")
	return fs
}

// Validate checks the options' values and parses -gomaxprocs.
func (o *doctorOptions) Validate() error {
	switch {
	case o.deadline < 10*time.Millisecond:
		return usagef("-deadline must be at least 10ms, got %v", o.deadline)
	case o.timeout < time.Second:
		return usagef("-timeout must be at least 1s, got %v", o.timeout)
	case o.timeout < o.deadline:
		return usagef("-timeout (%v) must be longer than -deadline (%v)", o.timeout, o.deadline)
	case o.forDur < 0:
		return usagef("-for must not be negative")
	case o.settle < 0:
		return usagef("-settle must not be negative")
	case o.count < 1 || o.count > 10000:
		return usagef("-count must be between 1 and 10000")
	case o.parallel < 0:
		return usagef("-parallel must not be negative")
	case o.json && o.verbose:
		return usagef("-v and -json do not go together: the JSON document already holds the evidence")
	}
	o.procs = nil
	if o.gomaxprocs != "" {
		for _, f := range strings.Split(o.gomaxprocs, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return usagef("-gomaxprocs takes positive numbers separated by commas, like 1,2,8 (got %q)", o.gomaxprocs)
			}
			o.procs = append(o.procs, n)
		}
	}
	return nil
}

func runDoctor(ctx context.Context, env Env, args []string) error {
	o := &doctorOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	for _, p := range pos {
		if strings.HasPrefix(p, "-") {
			return usagef("flags go before the packages (got %q after them)", p)
		}
	}
	rep, err := doctor.Run(ctx, doctor.Options{
		Dir: env.Dir, Patterns: pos, Deadline: o.deadline, Count: o.count, GOMAXPROCS: o.procs, For: o.forDur,
		Timeout: o.timeout, Parallel: o.parallel, Run: o.run, Tags: o.tags, Locks: !o.noLocks, Leaks: !o.noLeaks,
		LeakProfile: o.leakProfile, Settle: o.settle, Progress: doctorProgress(env.Stderr, o.noColor),
	})
	if err != nil {
		return err
	}
	if o.json {
		if err := report.JSON(env.Stdout, doctor.NewDocument(rep)); err != nil {
			return err
		}
	} else {
		doctor.Text(env.Stdout, styleFor(env.Stdout, o.noColor), rep, o.verbose)
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		// Workflow commands are read from the step's output; keep them out
		// of a JSON document on stdout.
		w := env.Stdout
		if o.json {
			w = env.Stderr
		}
		doctor.Annotations(w, rep)
	}
	if o.sarif != "" {
		if err := fsutil.WriteAtomic(o.sarif, func(w io.Writer) error { return doctor.SARIF(w, rep, rep.Go) }); err != nil {
			return fmt.Errorf("write the SARIF report: %w", err)
		}
	}
	if o.junit != "" {
		if err := fsutil.WriteAtomic(o.junit, func(w io.Writer) error { return doctor.JUnit(w, rep) }); err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
	}
	if rep.Failed() {
		return errFailed
	}
	return nil
}

// doctorProgress shows what the doctor is doing on w: one redrawn line on
// a terminal, a line per package run otherwise.
func doctorProgress(w io.Writer, noColor bool) func(doctor.Progress) {
	tty := isTerminal(w)
	style := styleFor(w, noColor)
	var mu sync.Mutex // protects running
	running := map[string]bool{}
	buildStart := time.Time{}
	return func(p doctor.Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Phase {
		case doctor.Listing:
			if tty {
				fmt.Fprint(w, "\r\x1b[Klisting packages…")
			}
		case doctor.Building:
			buildStart = time.Now()
			bins := "test binaries"
			if p.Total == 1 {
				bins = "test binary"
			}
			msg := fmt.Sprintf("building %d %s with -race and the doctor's checks", p.Total, bins)
			if tty {
				fmt.Fprintf(w, "\r\x1b[K%s…", msg)
			} else {
				fmt.Fprintln(w, msg)
			}
		case doctor.Started:
			running[p.Package] = true
			if tty {
				fmt.Fprintf(w, "\r\x1b[Krunning %s…", short(running))
			}
		case doctor.Finished:
			delete(running, p.Package)
			status := string(p.Result.Status)
			if p.Result.Status == doctor.Findings {
				var ks []string
				for _, k := range p.Result.Kinds() {
					ks = append(ks, string(k))
				}
				status = style.Red(strings.Join(ks, ", "))
			}
			if tty {
				if len(running) == 0 {
					fmt.Fprint(w, "\r\x1b[K")
				} else {
					fmt.Fprintf(w, "\r\x1b[K%d/%d done; running %s…", p.Done, p.Total, short(running))
				}
				return
			}
			round := ""
			if p.Round > 0 {
				round = fmt.Sprintf(" (run %d)", p.Round+1)
			}
			_ = buildStart
			fmt.Fprintf(w, "[%d/%d] %s%s %s\n", p.Done, p.Total, p.Package, round, status)
		}
	}
}

func short(running map[string]bool) string {
	var names []string
	for n := range running {
		names = append(names, n[strings.LastIndex(n, "/")+1:])
	}
	if len(names) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
	}
	return strings.Join(names, ", ")
}
