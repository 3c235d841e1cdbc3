package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/grade"
	"github.com/racelab/racelab/checker/internal/runner"
)

type gradeOptions struct {
	submissions stringList
	labs        string
	json        bool
	junit       string
	noColor     bool
	timeout     time.Duration
	parallel    int
	keep        bool
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (o *gradeOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.Var(&o.submissions, "submission", "a learner's copy of the repository (`DIR`); repeat it, or list more DIRs after the flags, to grade several")
	fs.StringVar(&o.labs, "labs", "", "comma-separated labs to grade (default: all)")
	fs.BoolVar(&o.json, "json", false, "print JSON (schema "+grade.Schema+"); one document per line when grading several submissions")
	fs.StringVar(&o.junit, "junit", "", "also write JUnit XML to `FILE` (one submission only)")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTime, "time limit for each lab's tests")
	fs.IntVar(&o.parallel, "parallel", 2, "labs to run at once")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (to debug the grader)")
	return fs
}

// Validate checks the options' values.
func (o *gradeOptions) Validate() error {
	switch {
	case len(o.submissions) == 0:
		return usagef("name the submission to grade: --submission DIR")
	case o.timeout < time.Second || o.timeout > 10*time.Minute:
		return usagef("-timeout must be between 1s and 10m")
	case o.parallel < 1 || o.parallel > 64:
		return usagef("-parallel must be between 1 and 64")
	case o.junit != "" && len(o.submissions) > 1:
		return usagef("-junit takes one submission; use -json for several")
	}
	return nil
}

func runGrade(ctx context.Context, env Env, args []string) error {
	o := &gradeOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	o.submissions = append(o.submissions, pos...)
	if err := o.Validate(); err != nil {
		return err
	}
	var ids []string
	if o.labs != "" {
		ids = strings.Split(o.labs, ",")
	}
	labs, err := selectLabs(env.Catalog, ids)
	if err != nil {
		return err
	}
	ws, err := openWorkspace(ctx, env)
	if err != nil {
		return err
	}
	s := styleFor(env.Stdout, o.noColor)
	opts := func(abs string) grade.Options {
		return grade.Options{
			Root: ws.root, Submission: abs, Labs: labs, Toolchain: ws.tc,
			Limits: runner.Limits{Time: o.timeout}, Parallel: o.parallel, Keep: o.keep,
		}
	}
	// The build cache's seed compiles trusted code only, once per
	// toolchain and catalog: not charged to the first submission.
	if len(o.submissions) > 0 {
		if !o.json {
			fmt.Fprintln(env.Stderr, "preparing the build cache…")
		}
		if err := grade.PrepareCache(ctx, opts("")); err != nil && ctx.Err() == nil {
			fmt.Fprintf(env.Stderr, "racelab grade: %v\n", err)
		}
	}
	// Every submission named gets a result, in the order named: one that
	// cannot be graded gets an error for every lab, with the reason.
	var missing []string
	failed, errored := false, false
	for i, sub := range o.submissions {
		abs := sub
		if !filepath.IsAbs(sub) {
			abs = filepath.Join(env.Dir, sub)
		}
		abs = filepath.Clean(abs)
		var res grade.Result
		var err error
		if st, serr := os.Stat(abs); serr != nil || !st.IsDir() {
			why := fmt.Sprintf("%s does not exist", sub)
			if serr == nil {
				why = fmt.Sprintf("%s is not a folder", sub)
			} else if !os.IsNotExist(serr) {
				why = fmt.Sprintf("cannot read %s: %v", sub, serr)
			}
			missing = append(missing, why)
			res = grade.Failed(opts(abs), why+": name the folder that holds the learner's go.mod and labs/")
		} else {
			if !o.json {
				fmt.Fprintf(env.Stderr, "grading %s (bound %s)…\n", grade.Printable(abs), grade.Bound(opts(abs), len(labs)).Round(time.Second))
			}
			res, err = grade.Grade(ctx, opts(abs))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				fmt.Fprintf(env.Stderr, "racelab grade: %s: %s\n", grade.Printable(abs), grade.Printable(err.Error()))
			}
		}
		if o.json {
			enc := json.NewEncoder(env.Stdout)
			if len(o.submissions) == 1 {
				enc.SetIndent("", "  ")
			}
			if err := enc.Encode(grade.NewDocument(res)); err != nil {
				return err
			}
		} else {
			if i > 0 {
				fmt.Fprintln(env.Stdout)
			}
			if err := grade.WriteText(env.Stdout, s, res); err != nil {
				return err
			}
		}
		if o.junit != "" {
			if err := writeFile(o.junit, func(w io.Writer) error { return grade.JUnit(w, res) }); err != nil {
				return fmt.Errorf("write the JUnit report: %w", err)
			}
		}
		for _, l := range res.Labs {
			switch l.Status {
			case grade.Fail:
				failed = true
			case grade.Error:
				errored = true
			}
		}
	}
	switch {
	case len(missing) > 0:
		return usagef("%s", strings.Join(missing, "; "))
	case errored:
		return fmt.Errorf("some labs could not be graded (status error): see the reasons above")
	case failed:
		return errFailed
	}
	return nil
}
