package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/shipped"
	"github.com/racelab/racelab/checker/internal/verify"
)

type verifyOptions struct {
	runs       int
	gomaxprocs string
	noVariants bool
	noColor    bool
	slowAfter  time.Duration
	shipped    bool
	quiet      bool
	rotate     bool
	procs      []int
}

func (o *verifyOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.IntVar(&o.runs, "runs", 5, "runs of every lab, solution and variant, per GOMAXPROCS value")
	fs.StringVar(&o.gomaxprocs, "gomaxprocs", "1,2", "comma-separated GOMAXPROCS values to run with")
	fs.BoolVar(&o.noVariants, "no-variants", false, "skip the variants in solutions/*/testdata/variants")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
	fs.DurationVar(&o.slowAfter, "slow", 10*time.Second, "fail any run slower than this: verdicts must arrive in seconds")
	fs.BoolVar(&o.shipped, "shipped", false, "verify the labs as shipped: their Go files as committed or staged in git, not a learner's edits (make test)")
	fs.BoolVar(&o.quiet, "quiet", false, "print only problems, subjects that did not end as wanted, and the totals")
	fs.BoolVar(&o.rotate, "rotate", false, "run each subject -runs times in all, taking the -gomaxprocs values in turn, instead of -runs times at each value (make test)")
	return fs
}

// Validate checks the options' values and parses -gomaxprocs.
func (o *verifyOptions) Validate() error {
	if o.runs < 1 || o.runs > 1000 {
		return usagef("-runs must be between 1 and 1000")
	}
	o.procs = nil
	for _, f := range strings.Split(o.gomaxprocs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return usagef("-gomaxprocs takes positive numbers separated by commas, like 1,2 (got %q)", o.gomaxprocs)
		}
		o.procs = append(o.procs, n)
	}
	return nil
}

func runVerify(ctx context.Context, env Env, args []string) error {
	o := &verifyOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	start := time.Now()
	if o.shipped {
		root, err := engine.FindRoot(env.Dir)
		if err != nil {
			return err
		}
		snap := filepath.Join(root, ".racelab", "shipped")
		if err := shipped.Copy(ctx, root, snap); err != nil {
			return fmt.Errorf("copy the labs as shipped: %w", err)
		}
		if env.Catalog, err = loadCatalog(snap); err != nil {
			return err
		}
		env.Dir = snap
	}
	labs, err := selectLabs(env.Catalog, pos)
	if err != nil {
		return err
	}
	ws, err := openWorkspace(ctx, env)
	if err != nil {
		return err
	}
	rep, err := verify.Verify(ctx, ws.engine, env.Catalog, labs, verify.Options{
		Runs: o.runs, GOMAXPROCS: o.procs, Rotate: o.rotate, Variants: !o.noVariants, SlowAfter: o.slowAfter,
		Progress: progressPrinter(env.Stderr, o.noColor),
	})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s := styleFor(env.Stdout, o.noColor)
	w := env.Stdout
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%s %s\n", s.Red("problem:"), p)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(w)
	}
	idw := len("LAB")
	for _, r := range rep.Results {
		idw = max(idw, len(r.Subject.Lab.ID))
	}
	if !o.quiet {
		fmt.Fprintf(w, "%s\n", s.Bold(fmt.Sprintf("%-*s %-26s %-22s %-9s %s", idw, "LAB", "SUBJECT", "WANT", "RUNS OK", "SLOWEST")))
	}
	subjects, runs, bad := 0, 0, 0
	var slowest time.Duration
	for _, r := range rep.Results {
		subjects++
		runs += r.Runs
		slowest = max(slowest, r.Slowest)
		if r.OK != r.Runs || r.Runs == 0 {
			bad++
		} else if o.quiet {
			continue
		}
		ok := fmt.Sprintf("%d/%d", r.OK, r.Runs)
		if r.OK == r.Runs {
			ok = s.Green(fmt.Sprintf("%-9s", ok))
		} else {
			ok = s.Red(fmt.Sprintf("%-9s", ok))
		}
		fmt.Fprintf(w, "%-*s %-26s %-22s %s %s\n", idw, r.Subject.Lab.ID, r.Subject.Name, r.Subject.Want, ok, r.Slowest.Round(10*time.Millisecond))
		for i, b := range r.Bad {
			if i == 5 {
				fmt.Fprintf(w, "    … and %d more\n", len(r.Bad)-5)
				break
			}
			fmt.Fprintf(w, "    %s %s\n", s.Red("✗"), b)
		}
	}
	fmt.Fprintf(w, "\n%d labs, %d subjects (labs, solutions, variants), %d runs; %d subjects did not end as wanted; slowest run %s.\n",
		len(labs), subjects, runs, bad, slowest.Round(10*time.Millisecond))
	per := "per GOMAXPROCS value"
	if o.rotate {
		per = "in all, GOMAXPROCS taken in turn"
	}
	fmt.Fprintf(w, "%d runs per subject %s (%s), %s in all.\n", o.runs, per, o.gomaxprocs, time.Since(start).Round(time.Second))
	if !rep.OK() {
		fmt.Fprintln(w, s.Red("verify failed: see the problems and runs above."))
		return errFailed
	}
	fmt.Fprintln(w, s.Green("verify passed: every lab fails as declared, every solution and variant ends as wanted."))
	return nil
}
