package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/grade"
	"github.com/racelab/racelab/checker/internal/report"
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
	failed, errored := false, false
	for i, sub := range o.submissions {
		abs, err := filepath.Abs(filepath.Join(env.Dir, sub))
		if filepath.IsAbs(sub) {
			abs, err = filepath.Clean(sub), nil
		}
		if err != nil {
			return err
		}
		if !o.json {
			if i > 0 {
				fmt.Fprintln(env.Stdout)
			}
			fmt.Fprintf(env.Stderr, "grading %s (bound %s)…\n", abs, grade.Bound(grade.Options{Limits: runner.Limits{Time: o.timeout}, Parallel: o.parallel}, len(labs)).Round(time.Second))
		}
		res, err := grade.Grade(ctx, grade.Options{
			Root: ws.root, Submission: abs, Labs: labs, Toolchain: ws.tc,
			Limits: runner.Limits{Time: o.timeout}, Parallel: o.parallel, Keep: o.keep,
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if len(o.submissions) == 1 {
				return err
			}
			// One unreadable submission must not stop a class's grading.
			fmt.Fprintf(env.Stderr, "racelab grade: %s: %v\n", abs, err)
			errored = true
			continue
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
			printGrade(env.Stdout, s, res)
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
	case errored:
		return fmt.Errorf("some labs could not be graded (status error): see the reasons above")
	case failed:
		return errFailed
	}
	return nil
}

func printGrade(w io.Writer, s report.Style, res grade.Result) {
	got, most := res.Points()
	fmt.Fprintf(w, "%s %s\n", s.Bold("submission"), res.Submission)
	idw := len("LAB")
	for _, l := range res.Labs {
		idw = max(idw, len(l.Lab.ID))
	}
	fmt.Fprintf(w, "%s\n", s.Bold(fmt.Sprintf("%-*s  %-5s  %-7s  %s", idw, "LAB", "GRADE", "POINTS", "WHY")))
	for _, l := range res.Labs {
		g := fmt.Sprintf("%-5s", l.Status)
		switch l.Status {
		case grade.Pass:
			g = s.Green(g)
		case grade.Fail:
			g = s.Red(g)
		default:
			g = s.Yellow(g)
		}
		fmt.Fprintf(w, "%-*s  %s  %-7s  %s\n", idw, l.Lab.ID, g, fmt.Sprintf("%d/%d", l.Points, l.Lab.Points), l.Reason)
		for _, r := range l.Rejected[min(1, len(l.Rejected)):] {
			fmt.Fprintf(w, "%*s  also rejected: %s: %s\n", idw, "", r.File, r.Reason)
		}
	}
	fmt.Fprintf(w, "\n%s %d/%d points · %s (bound %s)\n", s.Bold("total"), got, most,
		res.Duration.Round(100*time.Millisecond), res.Bound.Round(time.Second))
	if len(res.Warnings) > 0 {
		fmt.Fprintf(w, "%s\n", s.Yellow("warnings:"))
		for _, warn := range res.Warnings {
			fmt.Fprintf(w, "  %s\n", warn)
		}
	}
	if res.Scratch != "" {
		fmt.Fprintf(w, "scratch kept at %s\n", res.Scratch)
	}
}
