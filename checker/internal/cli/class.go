package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/class"
	"github.com/racelab/racelab/checker/internal/grade"
	"github.com/racelab/racelab/checker/internal/runner"
)

// runClass grades a class folder (grade --class DIR): see package class.
// It succeeds when every submission of its part of the class has a
// grade, whatever the grades are.
func runClass(ctx context.Context, env Env, o *gradeOptions, ws *workspace, labs []catalog.Lab) error {
	abs := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.Dir, p)
		}
		return filepath.Clean(p)
	}
	dir, out := abs(o.class), abs(o.out)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usagef("--class %s is not a folder: name the folder that holds one folder or archive per submission", o.class)
	}
	shard := class.Shard{}
	if o.shard != "" {
		shard, _ = class.ParseShard(o.shard)
	}
	live := isTerminal(env.Stderr)
	fmt.Fprintf(env.Stderr, "grading the class in %s (shard %s) into %s, %d at a time, once the build cache is ready (minutes, the first time)…\n", grade.Printable(o.class), shard, grade.Printable(o.out), o.jobs)
	sum, err := class.Run(ctx, class.Options{
		Dir: dir, Out: out, Shard: shard, Jobs: o.jobs, Force: o.force,
		Grade: grade.Options{Root: ws.root, Labs: labs, Toolchain: ws.tc,
			Limits: runner.Limits{Time: o.timeout}, Parallel: o.parallel, Keep: o.keep},
		Progress: func(p class.Progress) { showProgress(env.Stderr, live, p) },
	})
	if live {
		fmt.Fprint(env.Stderr, "\r\033[K")
	}
	g := sum.Gradebook
	fmt.Fprintf(env.Stdout, "%d submissions graded, %d already done, %d not graded, in %s (and %s making the build cache ready)\n",
		sum.Graded, sum.Skipped, len(g.Missing), sum.Elapsed.Round(time.Second), sum.Prepare.Round(time.Second))
	if sum.Graded > 0 {
		fmt.Fprintf(env.Stdout, "%.1f submissions per minute\n", float64(sum.Graded)/sum.Elapsed.Minutes())
	}
	fmt.Fprintf(env.Stdout, "gradebook: %s and %s\n", filepath.Join(o.out, "gradebook.csv"), filepath.Join(o.out, "gradebook.json"))
	for _, p := range sum.Problems {
		fmt.Fprintf(env.Stderr, "racelab grade: could not grade %s\n", p)
	}
	switch {
	case err != nil:
		return err
	case len(g.Missing) > 0:
		return fmt.Errorf("%d submission(s) not graded (%s): run the same command again to grade them", len(g.Missing), grade.Printable(strings.Join(g.Missing, ", ")))
	}
	return nil
}

// showProgress draws one line that is redrawn on a terminal, or prints
// a line per submission.
func showProgress(w io.Writer, live bool, p class.Progress) {
	left := ""
	if p.Left > 0 {
		left = fmt.Sprintf(" · about %s left", p.Left.Round(time.Second))
	}
	if live {
		const width = 24
		fill := width * p.Done / max(1, p.Total)
		fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d · %d with errors%s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.Done, p.Total, p.Errors, left)
		return
	}
	what := fmt.Sprintf("%d/%d points in %s", p.Doc.Points, p.Doc.MaxPoints, p.Took.Round(100*time.Millisecond))
	switch {
	case p.Err != nil:
		what = "not graded: " + grade.Printable(p.Err.Error())
	case p.Skipped:
		what = fmt.Sprintf("%d/%d points (graded before, unchanged)", p.Doc.Points, p.Doc.MaxPoints)
	case p.Doc.Error != "":
		what += " (cannot grade: " + grade.Printable(p.Doc.Error) + ")"
	}
	fmt.Fprintf(w, "[%d/%d] %s: %s · %d with errors%s\n", p.Done, p.Total, grade.Printable(p.Name), what, p.Errors, left)
}

type mergeOptions struct {
	out string
}

func (o *mergeOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "grades", "the `DIR` to write the merged gradebook.csv and gradebook.json into")
	return fs
}

// Validate checks the options' values.
func (o *mergeOptions) Validate(books []string) error {
	switch {
	case len(books) == 0:
		return usagef("name the shards' gradebooks: their -out folders or gradebook.json files")
	case o.out == "":
		return usagef("name the output folder: -out DIR")
	}
	return nil
}

// runMerge combines shard gradebooks. It writes the merged gradebook
// even when some of the class is missing, says what, and fails then.
func runMerge(_ context.Context, env Env, args []string) error {
	o := &mergeOptions{}
	books, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(books); err != nil {
		return err
	}
	var gbs []class.Gradebook
	for _, b := range books {
		if !filepath.IsAbs(b) {
			b = filepath.Join(env.Dir, b)
		}
		g, err := class.ReadGradebook(b)
		if err != nil {
			return usagef("%v", err)
		}
		gbs = append(gbs, g)
	}
	merged, gaps, err := class.Merge(gbs)
	if err != nil {
		return usagef("%v", err)
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(env.Dir, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := merged.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "merged %d gradebook(s): %d of %d submissions graded, into %s\n", len(gbs), len(merged.Rows), merged.Class.Size, filepath.Join(o.out, "gradebook.csv"))
	for _, g := range gaps {
		fmt.Fprintf(env.Stderr, "gap: %s\n", grade.Printable(g))
	}
	if len(gaps) > 0 {
		return errIncomplete
	}
	return nil
}

// errIncomplete is a merge with gaps: the exit code says so.
var errIncomplete = errors.New("the merged gradebook is incomplete")
