package class

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/grade"
)

// The labs of the fake catalog the tests grade against.
var fakeLabs = []catalog.Lab{{ID: "alpha", Points: 10}, {ID: "beta", Points: 20}}

// fakeGrader grades a submission by its file "verdict": a line per lab
// ("alpha pass"), counting the submissions it grades. It never builds
// anything, so these tests take milliseconds.
type fakeGrader struct {
	mu     sync.Mutex // protects graded
	graded []string   // the base names of the submissions graded, in order
	// block, when set, is called before grading a submission; it may
	// wait.
	block func(ctx context.Context, sub string) error
}

func (f *fakeGrader) grade(ctx context.Context, o grade.Options) (grade.Result, error) {
	name := filepath.Base(o.Submission)
	if f.block != nil {
		if err := f.block(ctx, name); err != nil {
			return grade.Failed(o, "grading was cancelled"), err
		}
	}
	f.mu.Lock()
	f.graded = append(f.graded, name)
	f.mu.Unlock()
	data, err := os.ReadFile(filepath.Join(o.Submission, "verdict"))
	if err != nil {
		return grade.Failed(o, "it has no labs/ folder"), nil
	}
	res := grade.Result{Submission: o.Submission, Warnings: []string{}}
	for _, l := range o.Labs {
		st := grade.Fail
		if strings.Contains(string(data), l.ID+" pass") {
			st = grade.Pass
		}
		lr := grade.LabResult{Lab: l, Status: st, Reason: "fake"}
		if st == grade.Pass {
			lr.Points = l.Points
		}
		res.Labs = append(res.Labs, lr)
	}
	if strings.Contains(string(data), "warn") {
		res.Warnings = append(res.Warnings, "go.mod differs from the original; the original was used")
	}
	return res, nil
}

func (f *fakeGrader) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.graded)
}

func (f *fakeGrader) options(dir, out string) Options {
	return Options{Dir: dir, Out: out, Jobs: 3, Grade: grade.Options{Labs: fakeLabs},
		GradeFunc: f.grade, Prepare: func(context.Context, grade.Options) error { return nil }}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

type entry struct {
	name, body string
	typ        byte // tar type; 0 for a regular file
	link       string
}

func makeZip(t *testing.T, path string, entries []entry) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch e.typ {
		case tar.TypeSymlink:
			h.SetMode(os.ModeSymlink | 0o777)
		case tar.TypeDir:
			h.SetMode(os.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body + e.link))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, path, b.String())
}

func makeTarGz(t *testing.T, path string, entries []entry) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: typ, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	zw.Close()
	write(t, path, b.String())
}

// TestUnpack: a good archive unpacks (a wrapping folder is looked
// through; git archive's global header is not a file), and every kind of
// bad one is refused with a reason, writing nothing outside its folder.
func TestUnpack(t *testing.T) {
	good := []entry{{name: "repo/", typ: tar.TypeDir}, {name: "repo/labs/alpha/a.go", body: "package alpha\n"}, {name: "repo/verdict", body: "alpha pass\n"}}
	for _, ext := range []string{".zip", ".tar.gz"} {
		t.Run("good"+ext, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "sub"+ext)
			if ext == ".zip" {
				makeZip(t, src, good)
			} else {
				makeTarGz(t, src, append([]entry{{typ: tar.TypeXGlobalHeader}}, good...))
			}
			dst := filepath.Join(dir, "out")
			os.Mkdir(dst, 0o755)
			root, err := Unpack(src, dst, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if root != filepath.Join(dst, "repo") {
				t.Errorf("root %s, want the wrapping folder %s", root, filepath.Join(dst, "repo"))
			}
			if data, err := os.ReadFile(filepath.Join(root, "labs/alpha/a.go")); err != nil || string(data) != "package alpha\n" {
				t.Errorf("labs/alpha/a.go: %q, %v", data, err)
			}
		})
	}
	many := make([]entry, 30)
	for i := range many {
		many[i] = entry{name: fmt.Sprintf("f%d", i), body: "x"}
	}
	for _, c := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"climbs out", []entry{{name: "../evil", body: "x"}}, "outside"},
		{"absolute", []entry{{name: "/tmp/racelab-evil", body: "x"}}, "outside"},
		{"symlink", []entry{{name: "labs", typ: tar.TypeSymlink, link: "/etc"}}, "link"},
		{"hard link", []entry{{name: "x", typ: tar.TypeLink, link: "/etc/passwd"}}, "link"},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, "not a regular file"},
		{"twice", []entry{{name: "a", body: "1"}, {name: "a", body: "2"}}, "twice"},
		{"too many", many, "more than 20 entries"},
		{"too big", []entry{{name: "big", body: strings.Repeat("x", 6000)}}, "more than 5000 bytes"},
	} {
		for _, ext := range []string{".zip", ".tar.gz"} {
			if ext == ".zip" && (c.entries[0].typ == tar.TypeLink || c.entries[0].typ == tar.TypeFifo) {
				continue // zip has neither
			}
			t.Run(c.name+ext, func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(dir, "sub"+ext)
				if ext == ".zip" {
					makeZip(t, src, c.entries)
				} else {
					makeTarGz(t, src, c.entries)
				}
				dst := filepath.Join(dir, "a", "out")
				os.MkdirAll(dst, 0o755)
				_, err := Unpack(src, dst, Limits{Files: 20, Bytes: 5000})
				if !errors.Is(err, errBadArchive) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v, want a bad archive error containing %q", err, c.want)
				}
				for _, p := range []string{filepath.Join(dir, "evil"), filepath.Join(dir, "a", "evil"), "/tmp/racelab-evil"} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("unpacking wrote %s, outside its folder", p)
					}
				}
			})
		}
	}
}

// TestList: folders and archives are submissions, named without the
// extension; dot files, other files and the output folder are not; two
// entries of one name are each an error, named by their entries.
func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"bob", "carol", "dave", ".git", "grades"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	makeZip(t, filepath.Join(dir, "alice.zip"), nil)
	makeZip(t, filepath.Join(dir, "carol.zip"), nil)
	makeTarGz(t, filepath.Join(dir, "erin.tgz"), nil)
	write(t, filepath.Join(dir, "notes.txt"), "not a submission")
	subs, err := List(dir, filepath.Join(dir, "grades"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range subs {
		got = append(got, fmt.Sprintf("%s:%s:%v", s.Name, filepath.Base(s.Path), s.Problem != ""))
	}
	want := []string{"alice:alice.zip:false", "bob:bob:false", "carol:carol:true", "carol.zip:carol.zip:true", "dave:dave:false", "erin:erin.tgz:false"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestShard: every submission is in exactly one shard of N, the same
// one whatever else is in the class; K/N is checked.
func TestShard(t *testing.T) {
	var subs []Submission
	for i := range 100 {
		subs = append(subs, Submission{Name: fmt.Sprintf("learner-%03d", i)})
	}
	for _, n := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for k := 1; k <= n; k++ {
			part := Shard{K: k, N: n}.Pick(subs)
			if n > 1 && (len(part) == 0 || len(part) == len(subs)) {
				t.Errorf("shard %d/%d holds %d of %d: not a split", k, n, len(part), len(subs))
			}
			for _, s := range part {
				seen[s.Name]++
			}
		}
		for _, s := range subs {
			if seen[s.Name] != 1 {
				t.Errorf("N=%d: %s is in %d shards", n, s.Name, seen[s.Name])
			}
		}
	}
	// Holds depends on the name alone.
	if a, b := (Shard{K: 2, N: 3}).Pick(subs[:10]), (Shard{K: 2, N: 3}).Pick(subs); len(a) > 0 && !slices.Contains(b, a[0]) {
		t.Errorf("a submission changed shards when the class grew")
	}
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted it", bad)
		}
	}
	if s, err := ParseShard("2/4"); err != nil || s != (Shard{K: 2, N: 4}) {
		t.Errorf("ParseShard(2/4) = %v, %v", s, err)
	}
}

// makeClass makes a class folder: three folders, a good archive, a bad
// archive.
func makeClass(t *testing.T) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "alice/verdict"), "alpha pass\nbeta pass\n")
	write(t, filepath.Join(dir, "bob/verdict"), "alpha pass\n")
	write(t, filepath.Join(dir, "=carol/verdict"), "warn\n")
	makeZip(t, filepath.Join(dir, "dave.zip"), []entry{{name: "dave/verdict", body: "beta pass\n"}})
	makeTarGz(t, filepath.Join(dir, "erin.tar.gz"), []entry{{name: "../../escape", body: "x"}})
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestRunGradesAndResumes: every submission is graded once into a
// record, report and gradebook row; a bad archive is an error for that
// submission alone; a second run grades nothing and writes the same
// gradebook; a changed submission, and --force, are graded again.
func TestRunGradesAndResumes(t *testing.T) {
	dir, out := makeClass(t), t.TempDir()
	f := &fakeGrader{}
	var progress []Progress
	o := f.options(dir, out)
	o.Progress = func(p Progress) { progress = append(progress, p) }
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 4 || sum.Graded != 5 || sum.Skipped != 0 {
		t.Errorf("graded %d by the grader, %d in all, skipped %d; want 4 (the bad archive is never graded), 5, 0", f.count(), sum.Graded, sum.Skipped)
	}
	if len(progress) != 5 || progress[4].Done != 5 || progress[4].Total != 5 || progress[4].Errors != 1 {
		t.Errorf("last progress %+v of %d; want 5/5 with 1 error (erin's archive is bad)", progress[len(progress)-1], len(progress))
	}
	csvText := readFile(t, filepath.Join(out, "gradebook.csv"))
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"submission", "alpha", "beta", "total", "max", "warnings", "error"},
		{"'=carol", "10", "0", "10", "30", "1", ""},
		{"alice", "10", "20", "30", "30", "0", ""},
		{"bob", "10", "0", "10", "30", "0", ""},
		{"dave", "0", "20", "20", "30", "0", ""},
		{"erin", "0", "0", "0", "30", "0", "cannot unpack erin.tar.gz: bad archive: entry \"../../escape\" is outside the archive's folder"},
	}
	_ = want
	if len(rows) != 6 {
		t.Fatalf("gradebook.csv has %d rows, want a header and 5:\n%s", len(rows), csvText)
	}
	for _, c := range []struct{ row, col int }{{1, 0}, {2, 3}, {3, 1}, {3, 2}, {4, 2}, {5, 3}} {
		if rows[c.row][c.col] != want[c.row][c.col] {
			t.Errorf("gradebook.csv row %d column %s: %q, want %q", c.row, rows[0][c.col], rows[c.row][c.col], want[c.row][c.col])
		}
	}
	if !strings.Contains(rows[5][6], "outside the archive") {
		t.Errorf("erin's error %q does not say why the archive is bad", rows[5][6])
	}
	for _, name := range []string{"alice", "bob", "=carol", "dave", "erin"} {
		for _, p := range []string{"submissions/" + name + ".json", "reports/" + name + ".txt", "reports/" + name + ".md"} {
			if _, err := os.Stat(filepath.Join(out, p)); err != nil {
				t.Errorf("no %s: %v", p, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Errorf("erin's archive wrote outside its folder")
	}
	book := readFile(t, filepath.Join(out, "gradebook.json"))

	// Again: nothing to grade, the same gradebook.
	f.graded = nil
	sum, err = Run(context.Background(), f.options(dir, out))
	if err != nil || f.count() != 0 || sum.Skipped != 5 {
		t.Errorf("second run: %v, graded %d, skipped %d; want nothing graded, 5 skipped", err, f.count(), sum.Skipped)
	}
	if again := readFile(t, filepath.Join(out, "gradebook.json")); again != book {
		t.Errorf("the gradebook changed on a run that graded nothing:\n%s\nwas\n%s", again, book)
	}

	// A changed submission is graded again, and only it.
	write(t, filepath.Join(dir, "bob/verdict"), "alpha pass\nbeta pass\n")
	f.graded = nil
	sum, err = Run(context.Background(), f.options(dir, out))
	if err != nil || !slices.Equal(f.graded, []string{"bob"}) || sum.Gradebook.Rows[2].Points != 30 {
		t.Errorf("after bob's change: %v, graded %q, bob has %d points; want bob alone graded again, 30", err, f.graded, sum.Gradebook.Rows[2].Points)
	}

	// New points for a lab, or a new Go release: every submission again.
	o = f.options(dir, out)
	o.Grade.Labs = []catalog.Lab{fakeLabs[0], {ID: "beta", Points: 30}}
	f.graded = nil
	if sum, err := Run(context.Background(), o); err != nil || f.count() != 4 || sum.Gradebook.Rows[1].MaxPoints != 40 {
		t.Errorf("after beta's points changed: %v, graded %d; want all 4 gradable graded again, out of 40", err, f.count())
	}
	o = f.options(dir, out)
	o.Grade.Toolchain.Version = "go1.99"
	f.graded = nil
	if _, err := Run(context.Background(), o); err != nil || f.count() != 4 {
		t.Errorf("under another Go release: %v, graded %d; want all 4 gradable graded again", err, f.count())
	}

	o = f.options(dir, out)
	o.Force = true
	f.graded = nil
	if _, err := Run(context.Background(), o); err != nil || f.count() != 4 {
		t.Errorf("--force: %v, graded %d; want all 4 gradable graded again", err, f.count())
	}
}

// TestRunKilledAndRestarted: a run cancelled in the middle records the
// submissions it finished and none it was grading; run again, it grades
// only the rest, and its gradebook is identical to an uninterrupted
// run's.
func TestRunKilledAndRestarted(t *testing.T) {
	dir := makeClass(t)
	whole := t.TempDir()
	if _, err := Run(context.Background(), (&fakeGrader{}).options(dir, whole)); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := &fakeGrader{block: func(ctx context.Context, sub string) error {
		if sub == "bob" || sub == "dave" {
			cancel() // killed while grading bob or dave
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	o := stopped.options(dir, out)
	o.Jobs = 1
	if _, err := Run(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run returned %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(out, "submissions/bob.json")); err == nil {
		t.Errorf("bob, being graded when the run was cancelled, was recorded")
	}
	partial, err := ReadGradebook(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(partial.Missing) == 0 || len(partial.Rows)+len(partial.Missing) != 5 {
		t.Errorf("the cancelled run's gradebook has %d rows and missing %q; want some missing, 5 in all", len(partial.Rows), partial.Missing)
	}

	again := &fakeGrader{}
	if _, err := Run(context.Background(), again.options(dir, out)); err != nil {
		t.Fatal(err)
	}
	if again.count() != len(partial.Missing) && !(again.count() == len(partial.Missing)-1 && slices.Contains(partial.Missing, "erin")) {
		t.Errorf("the second run graded %q; want just the missing %q", again.graded, partial.Missing)
	}
	for _, f := range []string{"gradebook.json", "gradebook.csv"} {
		if a, b := readFile(t, filepath.Join(out, f)), readFile(t, filepath.Join(whole, f)); a != b {
			t.Errorf("%s after a cancelled run and a second one differs from an uninterrupted run's:\n%s\nwant\n%s", f, a, b)
		}
	}
}

// TestGraderProblemIsNotRecorded: a submission the grader itself failed
// on is not done: not recorded, named, and graded by the next run.
func TestGraderProblemIsNotRecorded(t *testing.T) {
	dir, out := makeClass(t), t.TempDir()
	f := &fakeGrader{block: func(_ context.Context, sub string) error {
		if sub == "alice" {
			return errors.New("no scratch space")
		}
		return nil
	}}
	sum, err := Run(context.Background(), f.options(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0], "no scratch space") || !slices.Equal(sum.Gradebook.Missing, []string{"alice"}) {
		t.Errorf("problems %q, missing %q; want alice's problem, alice missing", sum.Problems, sum.Gradebook.Missing)
	}
	f.block = nil
	f.graded = nil
	sum, err = Run(context.Background(), f.options(dir, out))
	if err != nil || !slices.Equal(f.graded, []string{"alice"}) || len(sum.Gradebook.Missing) != 0 {
		t.Errorf("second run: %v, graded %q, missing %q; want alice graded, none missing", err, f.graded, sum.Gradebook.Missing)
	}
}

// TestMerge: the gradebooks of a class's shards merge into the
// gradebook of the whole class; a shard given twice, another class's
// gradebook and a missing shard are refused or reported.
func TestMerge(t *testing.T) {
	dir := makeClass(t)
	whole := t.TempDir()
	sum, err := Run(context.Background(), (&fakeGrader{}).options(dir, whole))
	if err != nil {
		t.Fatal(err)
	}
	var books []Gradebook
	for k := 1; k <= 3; k++ {
		o := (&fakeGrader{}).options(dir, t.TempDir())
		o.Shard = Shard{K: k, N: 3}
		s, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		books = append(books, s.Gradebook)
	}
	merged, gaps, err := Merge([]Gradebook{books[2], books[0], books[1]})
	if err != nil || len(gaps) > 0 {
		t.Fatalf("merge: %v, gaps %q", err, gaps)
	}
	want := sum.Gradebook
	want.Shards = []Shard{{1, 3}, {2, 3}, {3, 3}}
	var a, b bytes.Buffer
	merged.WriteJSON(&a)
	want.WriteJSON(&b)
	if a.String() != b.String() {
		t.Errorf("merged shards:\n%s\nwant the whole class's:\n%s", a.String(), b.String())
	}

	if _, _, err := Merge([]Gradebook{books[0], books[0]}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a shard given twice: %v, want refused", err)
	}
	overlap := books[1]
	overlap.Shards = []Shard{{K: 3, N: 3}}
	overlap.Rows = append(overlap.Rows, books[0].Rows...)
	if _, _, err := Merge([]Gradebook{books[0], overlap}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping shards: %v, want refused", err)
	}
	other := books[1]
	other.Class.Fingerprint = "0000"
	if _, _, err := Merge([]Gradebook{books[0], other}); err == nil || !strings.Contains(err.Error(), "another class") {
		t.Errorf("another class's gradebook: %v, want refused", err)
	}
	_, gaps, err = Merge([]Gradebook{books[0], books[2]})
	if err != nil || !slices.ContainsFunc(gaps, func(g string) bool { return strings.Contains(g, "shard 2/3 has no gradebook") }) {
		t.Errorf("a missing shard: %v, gaps %q; want it reported", err, gaps)
	}
}

// TestOneRunPerOutput: a second run into an output folder in use is
// refused, and a run clears what a killed one left in its scratch
// folder.
func TestOneRunPerOutput(t *testing.T) {
	dir, out := makeClass(t), t.TempDir()
	left := filepath.Join(out, ".scratch", "racelab-unpack-123", "stale")
	write(t, left, "from a run killed while unpacking")
	started, release := make(chan struct{}), make(chan struct{})
	first := &fakeGrader{block: func(_ context.Context, sub string) error {
		if sub == "alice" {
			close(started)
			<-release
		}
		return nil
	}}
	o := first.options(dir, out)
	o.Jobs = 1
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), o); done <- err }()
	<-started
	if _, err := os.Stat(left); err == nil {
		t.Errorf("the killed run's scratch %s is still there", left)
	}
	_, err := Run(context.Background(), (&fakeGrader{}).options(dir, out))
	if err == nil || !strings.Contains(err.Error(), "another run is grading into") {
		t.Errorf("a second run into the same folder: %v, want it refused", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), (&fakeGrader{}).options(dir, out)); err != nil {
		t.Errorf("a run after the first finished: %v", err)
	}
}
