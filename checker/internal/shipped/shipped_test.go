package shipped

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, rel, text string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return "<missing>"
	}
	return string(data)
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestCopyTakesLabsAsShipped(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := t.TempDir()
	write(t, root, "go.mod", "module example\n")
	write(t, root, "go.sum", "")
	write(t, root, "labs/a/a.go", "broken a\n")
	write(t, root, "labs/a/a_test.go", "test a\n")
	write(t, root, "labs/a/lab.yaml", "meta a\n")
	write(t, root, "labs/b/b.go", "broken b\n")
	write(t, root, "solutions/a/a.go", "fixed a\n")
	git(t, root, "init", "-q")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "labs")

	// A learner fixes a, deletes b's file, adds a debug file; a maintainer
	// edits metadata and a solution, stages a change, and starts a new lab.
	write(t, root, "labs/a/a.go", "learner's fix\n")
	os.Remove(filepath.Join(root, "labs/b/b.go"))
	write(t, root, "labs/a/debug_test.go", "learner's debugging\n")
	write(t, root, "labs/a/lab.yaml", "meta a, edited\n")
	write(t, root, "solutions/a/a.go", "better fix\n")
	write(t, root, "labs/a/a_test.go", "staged test change\n")
	git(t, root, "add", "labs/a/a_test.go")
	write(t, root, "labs/c/c.go", "new lab\n")

	dst := filepath.Join(t.TempDir(), "shipped")
	write(t, dst, "stale", "from an earlier copy\n")
	if err := Copy(context.Background(), root, dst); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"labs/a/a.go":          "broken a\n",           // the learner's fix is left out
		"labs/b/b.go":          "broken b\n",           // restored
		"labs/a/debug_test.go": "<missing>",            // the learner's addition is left out
		"labs/a/a_test.go":     "staged test change\n", // staged: as the maintainer means it
		"labs/a/lab.yaml":      "meta a, edited\n",     // not Go: from the working tree
		"solutions/a/a.go":     "better fix\n",
		"labs/c/c.go":          "new lab\n", // a brand-new lab, not yet added
		"stale":                "<missing>",
	} {
		if got := read(t, dst, rel); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
}

func TestCopyOutsideGit(t *testing.T) {
	root := t.TempDir()
	write(t, root, "go.mod", "module example\n")
	write(t, root, "go.sum", "")
	write(t, root, "labs/a/a.go", "as it is\n")
	dst := filepath.Join(t.TempDir(), "shipped")
	if err := Copy(context.Background(), root, dst); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dst, "labs/a/a.go"); got != "as it is\n" {
		t.Errorf("got %q", got)
	}
}
