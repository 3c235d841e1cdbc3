package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
