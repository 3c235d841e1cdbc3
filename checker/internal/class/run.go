package class

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/fsutil"
	"github.com/racelab/racelab/checker/internal/grade"
	"github.com/racelab/racelab/checker/internal/report"
)

// Options say what class to grade and how. Zero fields take the
// defaults.
type Options struct {
	Dir   string // the class folder
	Out   string // the output folder
	Shard Shard  // the part of the class to grade; the zero value is all of it
	Jobs  int    // submissions graded at once (default 1)
	Force bool   // grade every submission again, even those already done
	// Grade is the template for grading one submission: its Submission
	// is set for each.
	Grade grade.Options
	// Unpack bounds unpacking an archived submission.
	Unpack Limits
	// Scratch is where archives are unpacked (default Out/.scratch,
	// emptied when a run starts).
	Scratch string
	// Progress, when set, is called after each submission is done or
	// skipped, from one goroutine at a time.
	Progress func(Progress)
	// GradeFunc grades one submission (default grade.Grade), and Prepare
	// fills the build cache first (default grade.PrepareCache); tests
	// replace them.
	GradeFunc func(context.Context, grade.Options) (grade.Result, error)
	Prepare   func(context.Context, grade.Options) error
}

// Progress is where a run is after one more submission.
type Progress struct {
	Name    string
	Total   int // submissions in this run's part of the class
	Done    int // of them, done: graded now, or before and skipped
	Skipped bool
	// Errors counts the submissions so far with a lab graded error, or
	// that the grader could not grade (Err set).
	Errors int
	Doc    grade.Document // the grade, also when skipped
	Err    error          // a problem of the grader: the submission is not done
	Took   time.Duration  // grading it
	Left   time.Duration  // the time left, estimated; 0 when unknown
}

// Summary says what a run did.
type Summary struct {
	Gradebook Gradebook
	Graded    int      // submissions graded in this run
	Skipped   int      // already done, and unchanged
	Problems  []string // submissions the grader could not grade, and why
	// Prepare is the time taken to make the build cache ready (minutes
	// the first time on a machine, else moments), and Elapsed the time
	// taken grading after it.
	Prepare, Elapsed time.Duration
}

// Run grades the class's submissions in o.Shard, o.Jobs at a time,
// writing each one's reports and Record as it is done, then the
// gradebook. A submission the grader could not grade (grade.Grade's own
// error) is not recorded, and named in Summary.Problems; a cancelled run
// records nothing more, writes the gradebook of what is done, and
// returns ctx.Err(). Run calls grade.PrepareCache first, so the first
// submission does not pay for it.
func Run(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	if o.Jobs <= 0 {
		o.Jobs = 1
	}
	if o.GradeFunc == nil {
		o.GradeFunc = grade.Grade
	}
	if o.Prepare == nil {
		o.Prepare = grade.PrepareCache
	}
	all, err := List(o.Dir, o.Out)
	if err != nil {
		return Summary{}, err
	}
	mine := o.Shard.Pick(all)
	for _, d := range []string{"submissions", "reports"} {
		if err := os.MkdirAll(filepath.Join(o.Out, d), 0o755); err != nil {
			return Summary{}, fmt.Errorf("create the output folder: %w", err)
		}
	}
	unlock, err := lockOut(o.Out)
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	if o.Scratch == "" {
		// What a run killed at any moment left here is removed by the
		// next, which holds the lock.
		o.Scratch = filepath.Join(o.Out, ".scratch")
		os.RemoveAll(o.Scratch)
		if err := os.MkdirAll(o.Scratch, 0o755); err != nil {
			return Summary{}, fmt.Errorf("create the output folder: %w", err)
		}
		defer os.RemoveAll(o.Scratch)
	}
	labIDs := LabKeys(o.Grade)
	if len(mine) > 0 {
		// Its error comes back from every Grade, where it belongs: as an
		// Error for a lab whose own build fails, or as the grader's
		// problem.
		_ = o.Prepare(ctx, o.Grade)
	}
	sum := Summary{Prepare: time.Since(start)}
	start = time.Now()

	type outcome struct {
		sub     Submission
		rec     Record
		res     grade.Result
		skipped bool
		err     error
		took    time.Duration
	}
	todo := make(chan Submission)
	done := make(chan outcome)
	var wg sync.WaitGroup
	for range min(o.Jobs, max(1, len(mine))) {
		// Each worker exits when todo is closed (every submission handed
		// out, or the run cancelled).
		wg.Go(func() {
			for sub := range todo {
				t := time.Now()
				rec, res, skipped, err := gradeOne(ctx, o, sub, labIDs)
				done <- outcome{sub, rec, res, skipped, err, time.Since(t)}
			}
		})
	}
	go func() {
		defer close(todo)
		for _, s := range mine {
			select {
			case todo <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	p := Progress{Total: len(mine)}
	hashes := map[string]string{} // of the submissions done
	var writeErr error
	for oc := range done {
		p.Name, p.Skipped, p.Err, p.Took, p.Doc = oc.sub.Name, oc.skipped, nil, oc.took, oc.rec.Grade
		switch {
		case ctx.Err() != nil:
			continue // what a cancelled grading says is not a grade
		case oc.err != nil:
			p.Err = oc.err
			p.Errors++
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s: %v", grade.Printable(oc.sub.Name), oc.err))
		case oc.skipped:
			sum.Skipped++
			hashes[oc.sub.Name] = oc.rec.Hash
		default:
			if err := save(o.Out, oc.rec, oc.res); err != nil {
				writeErr = fmt.Errorf("record %s: %w", oc.sub.Name, err)
				continue
			}
			sum.Graded++
			hashes[oc.sub.Name] = oc.rec.Hash
		}
		if oc.err == nil && hasError(oc.rec.Grade) {
			p.Errors++
		}
		p.Done++
		if sum.Graded > 0 {
			per := time.Since(start) / time.Duration(sum.Graded)
			p.Left = per * time.Duration(p.Total-p.Done)
		}
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	sum.Gradebook = Build(o.Out, all, mine, hashes, o.Shard, o.Grade.Labs, o.Grade.Toolchain)
	sum.Elapsed = time.Since(start)
	if err := sum.Gradebook.Write(o.Out); err != nil {
		return sum, err
	}
	if writeErr != nil {
		return sum, writeErr
	}
	return sum, ctx.Err()
}

func hasError(d grade.Document) bool {
	if d.Error != "" {
		return true
	}
	for _, l := range d.Labs {
		if l.Status == string(grade.Error) {
			return true
		}
	}
	return false
}

// gradeOne grades one submission, or finds it done.
func gradeOne(ctx context.Context, o Options, sub Submission, labs []string) (Record, grade.Result, bool, error) {
	hash, err := ContentHash(sub.Path)
	if err != nil {
		return Record{}, grade.Result{}, false, fmt.Errorf("read it: %w", err)
	}
	if !o.Force {
		if rec, err := readRecord(recordPath(o.Out, sub.Name)); err == nil && rec.fresh(hash, labs) {
			return rec, grade.Result{}, true, nil
		}
	}
	opts := o.Grade
	var res grade.Result
	switch {
	case sub.Problem != "":
		opts.Submission = sub.Path
		res = grade.Failed(opts, sub.Problem)
	case sub.Archive():
		res, err = gradeArchive(ctx, o, opts, sub)
	default:
		opts.Submission = sub.Path
		res, err = o.GradeFunc(ctx, opts)
	}
	if err != nil {
		return Record{}, res, false, err
	}
	res.Submission = sub.Path
	rec := Record{Schema: RecordSchema, Name: sub.Name, Hash: hash, Labs: labs, Grade: grade.NewDocument(res)}
	return rec, res, false, nil
}

// gradeArchive unpacks an archived submission into a scratch folder of
// its own and grades it there; a bad archive is that submission's error.
func gradeArchive(ctx context.Context, o Options, opts grade.Options, sub Submission) (grade.Result, error) {
	tmp, err := os.MkdirTemp(o.Scratch, "racelab-unpack-")
	if err != nil {
		return grade.Result{}, fmt.Errorf("make a folder to unpack it: %w", err)
	}
	defer os.RemoveAll(tmp)
	root, err := Unpack(sub.Path, tmp, o.Unpack)
	switch {
	case errors.Is(err, errBadArchive):
		opts.Submission = sub.Path
		return grade.Failed(opts, fmt.Sprintf("cannot unpack %s: %v", filepath.Base(sub.Path), err)), nil
	case err != nil:
		return grade.Result{}, fmt.Errorf("unpack it: %w", err)
	}
	opts.Submission = root
	return o.GradeFunc(ctx, opts)
}

// lockOut takes the output folder for this run alone: two runs writing
// into one folder would grade the same submissions twice and empty each
// other's scratch folder.
func lockOut(out string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the output folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another run is grading into %s: wait for it to finish, or give this one another -out", out)
	}
	return func() { f.Close() }, nil
}

func recordPath(out, name string) string {
	return filepath.Join(out, "submissions", name+".json")
}

func readRecord(path string) (Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Record{}, err
	}
	var r Record
	err = json.Unmarshal(data, &r)
	return r, err
}

// save writes a graded submission's reports, then its Record, which says
// it is done.
func save(out string, rec Record, res grade.Result) error {
	reports := filepath.Join(out, "reports", rec.Name)
	if err := fsutil.WriteAtomic(reports+".txt", func(w io.Writer) error { return grade.WriteText(w, report.Style{}, res) }); err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(reports+".md", func(w io.Writer) error { return grade.Markdown(w, res) }); err != nil {
		return err
	}
	return fsutil.WriteAtomic(recordPath(out, rec.Name), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	})
}

// LabKeys names what a grade depends on besides the submission: the Go
// release, and each lab with its points and how they split over its
// tests. A record made under other keys is graded again.
func LabKeys(o grade.Options) []string {
	keys := []string{"go " + o.Toolchain.Version}
	for _, l := range o.Labs {
		k := fmt.Sprintf("%s %d", l.ID, l.Points)
		for _, t := range slices.Sorted(maps.Keys(l.TestPoints)) {
			k += fmt.Sprintf(" %s=%d", t, l.TestPoints[t])
		}
		keys = append(keys, k)
	}
	return keys
}

// Build makes the gradebook of the submissions mine, out of the class
// all, from the Records in out: a submission is missing unless its
// Record is of its content hash, as hashes gives it (or as it is now,
// for one the run did not reach), and of LabKeys.
func Build(out string, all, mine []Submission, hashes map[string]string, s Shard, labs []catalog.Lab, tc engine.Toolchain) Gradebook {
	ids := LabKeys(grade.Options{Labs: labs, Toolchain: tc})
	if s.N == 0 {
		s = Shard{K: 1, N: 1}
	}
	g := Gradebook{Schema: GradebookSchema, Class: ClassID{Size: len(all), Fingerprint: Fingerprint(all)},
		Shards: []Shard{s}, Labs: labColumns(labs), Rows: []Row{}, Missing: []string{}}
	for _, sub := range mine {
		rec, err := readRecord(recordPath(out, sub.Name))
		h, ok := hashes[sub.Name]
		if !ok && err == nil {
			// Not reached by a cancelled run: done before, perhaps.
			h, _ = ContentHash(sub.Path)
		}
		if err != nil || !rec.fresh(h, ids) {
			g.Missing = append(g.Missing, sub.Name)
			continue
		}
		g.Rows = append(g.Rows, rowOf(rec))
	}
	return g
}
