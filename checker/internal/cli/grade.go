package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/class"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/grade"
	"github.com/racelab/racelab/checker/internal/runner"
)

type gradeOptions struct {
	submissions stringList
	labs        string
	json        bool
	junit       string
	classroom   string
	markdown    string
	noColor     bool
	timeout     time.Duration
	parallel    int
	keep        bool

	// A class: see class.go.
	class string
	out   string
	jobs  int
	force bool
	shard string
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
	fs.StringVar(&o.classroom, "classroom", "", "also write the GitHub Classroom autograding result to `FILE`: base64 JSON, the output a runner hands the grading reporter (one submission only)")
	fs.StringVar(&o.markdown, "markdown", "", "also write a Markdown summary to `FILE`, such as $GITHUB_STEP_SUMMARY (one submission only)")
	fs.StringVar(&o.class, "class", "", "grade every submission in `DIR` (a folder, .zip or .tar.gz each) into -out, resumably")
	fs.StringVar(&o.out, "out", "grades", "with --class: the `DIR` for each submission's record and reports and the gradebook")
	fs.IntVar(&o.jobs, "jobs", max(1, runtime.NumCPU()/2), "with --class: submissions to grade at once (each runs -parallel labs)")
	fs.BoolVar(&o.force, "force", false, "with --class: grade again the submissions already graded")
	fs.StringVar(&o.shard, "shard", "", "with --class: grade only part `K/N` of the class (1 ≤ K ≤ N), for a CI matrix; see `merge`")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTime, "time limit for each lab's tests")
	fs.IntVar(&o.parallel, "parallel", 2, "labs to run at once")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (to debug the grader)")
	return fs
}

// Validate checks the options' values.
func (o *gradeOptions) Validate() error {
	one := o.junit != "" || o.classroom != "" || o.markdown != ""
	switch {
	case o.class != "" && len(o.submissions) > 0:
		return usagef("--class grades a folder of submissions; name no --submission with it")
	case o.class != "" && (one || o.json):
		return usagef("--class writes its reports into -out; -json, -junit, -classroom and -markdown are for one submission")
	case o.class == "" && (o.force || o.shard != ""):
		return usagef("--force and --shard go with --class DIR")
	case o.class != "" && (o.jobs < 1 || o.jobs > 64):
		return usagef("-jobs must be between 1 and 64")
	case o.class != "" && o.out == "":
		return usagef("name the output folder: -out DIR")
	case o.class == "" && len(o.submissions) == 0:
		return usagef("name the submission to grade: --submission DIR, or a class: --class DIR")
	case o.timeout < time.Second || o.timeout > 10*time.Minute:
		return usagef("-timeout must be between 1s and 10m")
	case o.parallel < 1 || o.parallel > 64:
		return usagef("-parallel must be between 1 and 64")
	case one && len(o.submissions) > 1:
		return usagef("-junit, -classroom and -markdown take one submission; use -json for several, or --class")
	}
	if o.shard != "" {
		if _, err := class.ParseShard(o.shard); err != nil {
			return usagef("%v", err)
		}
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
	if o.class != "" {
		return runClass(ctx, env, o, ws, labs)
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
		for _, f := range []struct {
			name, what string
			write      func(io.Writer, grade.Result) error
		}{
			{o.junit, "the JUnit report", grade.JUnit},
			{o.classroom, "the Classroom result", grade.WriteClassroom},
			{o.markdown, "the Markdown summary", grade.Markdown},
		} {
			if f.name == "" {
				continue
			}
			if err := writeReport(f.name, func(w io.Writer) error { return f.write(w, res) }); err != nil {
				return fmt.Errorf("write %s: %w", f.what, err)
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

// writeReport writes a report to name: atomically to a file, or
// appended to the Markdown summary's file when it exists and is one a CI
// runner gave (GitHub's $GITHUB_STEP_SUMMARY is appended to, not
// replaced), or to a device such as /dev/stdout as it is.
func writeReport(name string, fill func(io.Writer) error) error {
	if st, err := os.Stat(name); err == nil && (!st.Mode().IsRegular() || name == os.Getenv("GITHUB_STEP_SUMMARY")) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		if err := fill(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fsutil.WriteAtomic(name, fill)
}
