package cli

import (
	"archive/tar"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/racelab/racelab/checker/internal/class"
	"github.com/racelab/racelab/checker/internal/grade"
)

// TestGradeEverySubmissionGetsALine: a class graded at once gets one JSON
// line per submission named, in order, whether it could be graded or not;
// a path that does not exist is a usage error, said plainly, after the
// others are graded.
func TestGradeEverySubmissionGetsALine(t *testing.T) {
	if testing.Short() {
		t.Skip("prepares the grader's build cache")
	}
	dir := t.TempDir()
	dangling := filepath.Join(dir, "dangling")
	flat := filepath.Join(dir, "flat")
	for _, d := range []string{dangling, flat} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dangling, "nowhere"), filepath.Join(dangling, "labs")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flat, "labs"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	code, out, errOut := run(t, root(t), "grade", "-json", "-labs", "hitcounter,bank", dangling, flat, missing)
	if code != ExitUsage || !strings.Contains(errOut, "missing does not exist") {
		t.Errorf("exit %d, stderr %q; want %d and a message naming the missing path", code, errOut, ExitUsage)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d JSON lines, want one per submission:\n%s", len(lines), out)
	}
	for i, want := range []struct{ sub, why string }{
		{dangling, "labs/ is a symbolic link"},
		{flat, "not a folder"},
		{missing, "does not exist"},
	} {
		var d grade.Document
		if err := json.Unmarshal([]byte(lines[i]), &d); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if d.Submission != want.sub || !strings.Contains(d.Error, want.why) || len(d.Labs) != 2 {
			t.Errorf("line %d: submission %s, error %q, %d labs; want %s, an error containing %q, 2 labs", i+1, d.Submission, d.Error, len(d.Labs), want.sub, want.why)
		}
		for _, l := range d.Labs {
			if l.Status != string(grade.Error) || l.Points != 0 {
				t.Errorf("line %d: %s is %s with %d points; want error, 0", i+1, l.ID, l.Status, l.Points)
			}
		}
	}
}

// tarGz archives the folder src as dst, under the folder prefix.
func tarGz(t *testing.T, src, dst, prefix string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: prefix + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestGradeClass grades a small class for real: a fixed copy (a
// folder), the labs as shipped (an archive) and a corrupt archive, then
// again, which grades nothing and writes the same gradebook.
func TestGradeClass(t *testing.T) {
	if testing.Short() {
		t.Skip("grades three submissions")
	}
	dir := t.TempDir()
	class := filepath.Join(dir, "class")
	if err := os.Rename(copyRepo(t, map[string]string{"labs/hitcounter/hitcounter.go": "solutions/hitcounter/hitcounter.go"}), filepath.Join(dir, "fixed")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(class, 0o755)
	if err := os.Rename(filepath.Join(dir, "fixed"), filepath.Join(class, "fixed")); err != nil {
		t.Fatal(err)
	}
	tarGz(t, shared(t), filepath.Join(class, "shipped.tar.gz"), "racelab-main")
	if err := os.WriteFile(filepath.Join(class, "corrupt.zip"), []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "grades")
	start := time.Now()
	code, stdout, stderr := run(t, root(t), "grade", "--class", class, "-out", out, "-labs", "hitcounter", "-jobs", "2")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("graded a class of 3 in %v:\n%s", time.Since(start).Round(time.Second), stdout)
	if !strings.Contains(stderr, "[3/3] ") {
		t.Errorf("no plain progress line for the third submission when piped:\n%s", stderr)
	}
	csvText, err := os.ReadFile(filepath.Join(out, "gradebook.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "submission,hitcounter,total,max,warnings,error\n" +
		"corrupt,0,0,10,0,cannot unpack corrupt.zip: bad archive: zip: not a valid zip file\n" +
		"fixed,10,10,10,0,\n" +
		"shipped,0,0,10,0,\n"
	if string(csvText) != want {
		t.Errorf("gradebook.csv:\n%s\nwant\n%s", csvText, want)
	}
	md, err := os.ReadFile(filepath.Join(out, "reports", "fixed.md"))
	if err != nil || !strings.Contains(string(md), "| hitcounter | ✅ pass | 10/10 |") {
		t.Errorf("reports/fixed.md: %v\n%s", err, md)
	}
	book, _ := os.ReadFile(filepath.Join(out, "gradebook.json"))

	code, stdout, stderr = run(t, root(t), "grade", "--class", class, "-out", out, "-labs", "hitcounter")
	if code != ExitPass || !strings.Contains(stdout, "0 submissions graded, 3 already done") {
		t.Errorf("second run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "gradebook.json")); string(again) != string(book) {
		t.Errorf("the second run changed the gradebook:\n%s\nwas\n%s", again, book)
	}
}

// TestMergeCommand: merge writes the combined gradebook, fails on gaps
// and refuses overlaps, as a usage error.
func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	shard := func(k int, rows ...string) string {
		g := class.Gradebook{Schema: class.GradebookSchema, Class: class.ClassID{Size: 3, Fingerprint: "f"},
			Shards: []class.Shard{{K: k, N: 2}}, Labs: []class.LabColumn{{ID: "bank", MaxPoints: 20}}, Missing: []string{}}
		for _, r := range rows {
			g.Rows = append(g.Rows, class.Row{Name: r, Labs: []class.Cell{{ID: "bank", Status: "pass", Points: 20}}, Points: 20, MaxPoints: 20, Warnings: []string{}})
		}
		p := filepath.Join(dir, fmt.Sprintf("shard-%d-%s", k, strings.Join(rows, "")))
		os.MkdirAll(p, 0o755)
		if err := g.Write(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one, two := shard(1, "alice", "bob"), shard(2, "carol")
	out := filepath.Join(dir, "merged")
	code, stdout, stderr := run(t, dir, "merge", "-out", out, one, two)
	if code != ExitPass || !strings.Contains(stdout, "3 of 3 submissions") {
		t.Errorf("merge: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if csvText, _ := os.ReadFile(filepath.Join(out, "gradebook.csv")); !strings.Contains(string(csvText), "carol,20,20,20,0,\n") {
		t.Errorf("merged gradebook.csv:\n%s", csvText)
	}
	code, _, stderr = run(t, dir, "merge", "-out", out, one)
	if code != ExitFail || !strings.Contains(stderr, "gap: shard 2/2 has no gradebook") {
		t.Errorf("merge of one shard of two: exit %d, stderr %q; want %d and the gap", code, stderr, ExitFail)
	}
	code, _, stderr = run(t, dir, "merge", "-out", out, one, shard(2, "bob"))
	if code != ExitUsage || !strings.Contains(stderr, "overlap") {
		t.Errorf("merge of overlapping shards: exit %d, stderr %q; want %d and the overlap", code, stderr, ExitUsage)
	}
}

// TestGradeFormatsForOneSubmission: -classroom and -markdown write their
// files for one submission, and the class flags are checked.
func TestGradeFormatsForOneSubmission(t *testing.T) {
	if testing.Short() {
		t.Skip("prepares the grader's build cache")
	}
	dir := t.TempDir()
	flat := filepath.Join(dir, "flat")
	os.MkdirAll(flat, 0o755)
	os.WriteFile(filepath.Join(flat, "labs"), []byte("not a folder"), 0o644)
	classroom, md := filepath.Join(dir, "result.b64"), filepath.Join(dir, "summary.md")
	code, _, errOut := run(t, root(t), "grade", "-labs", "hitcounter", "-classroom", classroom, "-markdown", md, flat)
	if code != ExitError {
		t.Errorf("exit %d (%s), want %d: the submission cannot be graded", code, errOut, ExitError)
	}
	b64, err := os.ReadFile(classroom)
	if err != nil {
		t.Fatal(err)
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	var res grade.Classroom
	if err != nil || json.Unmarshal(data, &res) != nil || res.Status != "error" || res.MaxScore != 10 || len(res.Tests) != 1 {
		t.Errorf("the Classroom result %s (%v): want status error, max_score 10, one test", data, err)
	}
	if text, err := os.ReadFile(md); err != nil || !strings.Contains(string(text), "0/10 points") {
		t.Errorf("the Markdown summary: %v\n%s", err, text)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-classroom", classroom, flat, flat}, "take one submission"},
		{[]string{"--shard", "1/2", flat}, "go with --class"},
		{[]string{"--class", dir, "--shard", "3/2"}, "1 ≤ K ≤ N"},
		{[]string{"--class", dir, flat}, "name no --submission"},
		{[]string{"--class", dir, "-json"}, "for one submission"},
	} {
		code, _, errOut := run(t, root(t), append([]string{"grade"}, c.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("grade %q: exit %d, %q; want %d and %q", c.args, code, errOut, ExitUsage, c.want)
		}
	}
}

// TestClassProgress: on a terminal one line is redrawn with done/total,
// errors and the time left; piped, each submission gets a plain line
// with no control characters.
func TestClassProgress(t *testing.T) {
	p := class.Progress{Name: "alice\x1b[2J", Total: 10, Done: 3, Errors: 1, Left: 95 * time.Second, Took: 2 * time.Second,
		Doc: grade.Document{Points: 20, MaxPoints: 80}}
	var live, plain strings.Builder
	showProgress(&live, true, p)
	showProgress(&plain, false, p)
	if want := "\r\033[K[#######.................] 3/10 · 1 with errors · about 1m35s left"; live.String() != want {
		t.Errorf("on a terminal: %q, want %q", live.String(), want)
	}
	if want := "[3/10] alice\\x1b[2J: 20/80 points in 2s · 1 with errors · about 1m35s left\n"; plain.String() != want {
		t.Errorf("piped: %q, want %q", plain.String(), want)
	}
}

// TestWriteReport: a report replaces a file, except the job summary a CI
// runner names in $GITHUB_STEP_SUMMARY, which is appended to.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	summary, other := filepath.Join(dir, "step_summary"), filepath.Join(dir, "report.md")
	for _, f := range []string{summary, other} {
		if err := os.WriteFile(f, []byte("before\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	for _, f := range []string{summary, other} {
		if err := writeReport(f, func(w io.Writer) error { _, err := io.WriteString(w, "grade\n"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(summary); string(got) != "before\ngrade\n" {
		t.Errorf("the job summary holds %q, want the grade appended", got)
	}
	if got, _ := os.ReadFile(other); string(got) != "grade\n" {
		t.Errorf("another file holds %q, want it replaced", got)
	}
}
