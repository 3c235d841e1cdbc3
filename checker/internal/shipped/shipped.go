// Package shipped copies a Racelab repository's labs as shipped: a learner's
// edits to the labs' Go files are left out, so the project's own tests
// (`make test`) check the broken labs as committed, not the learner's fixes.
//
// The copy is the working tree's go.mod, go.sum, labs/ and solutions/,
// except that every Go file under labs/ that git tracks is taken as it is in
// git's index (committed, or staged with `git add`), a tracked Go file that
// was deleted is restored, and an untracked Go file inside a tracked lab is
// left out. Everything else (metadata, hints, solutions, a brand-new lab's
// untracked folder) comes from the working tree, so a maintainer's work in
// progress is tested as it is. Outside a git checkout the working tree is
// copied as it is.
package shipped

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/racelab/racelab/checker/internal/fsutil"
)

// Copy refreshes dst as a shipped copy of the repository at root. dst is
// emptied first; keep it at a stable path, so the checker's test binaries
// for it are reused from one run to the next.
func Copy(ctx context.Context, root, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, p := range []string{"go.mod", "go.sum", "labs", "solutions"} {
		if _, err := os.Lstat(filepath.Join(root, p)); os.IsNotExist(err) {
			continue // the checks that need it say so
		}
		if err := fsutil.CopyPaths(root, dst, p); err != nil {
			return fmt.Errorf("copy the repository: %w", err)
		}
	}
	if !isGit(ctx, root) {
		return nil
	}
	// Tracked lab Go files edited or deleted in the working tree: take the
	// index's version.
	changed, err := gitList(ctx, root, "ls-files", "-z", "--modified", "--deleted", "--", "labs/*.go")
	if err != nil {
		return err
	}
	if len(changed) > 0 {
		cmd := exec.CommandContext(ctx, "git", "checkout-index", "--force", "-z", "--stdin", "--prefix="+dst+string(filepath.Separator))
		cmd.Dir = root
		cmd.Stdin = strings.NewReader(strings.Join(changed, "\x00") + "\x00")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git checkout-index: %v: %s", err, bytes.TrimSpace(out))
		}
	}
	// Untracked Go files in labs git knows are a learner's additions.
	untracked, err := gitList(ctx, root, "ls-files", "-z", "--others", "--exclude-standard", "--", "labs/*.go")
	if err != nil {
		return err
	}
	tracked, err := gitList(ctx, root, "ls-files", "-z", "--", "labs")
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, f := range tracked {
		known[labDir(f)] = true
	}
	for _, f := range untracked {
		if known[labDir(f)] {
			if err := os.Remove(filepath.Join(dst, filepath.FromSlash(f))); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// labDir is "labs/<id>" for a path under a lab's folder.
func labDir(p string) string {
	parts := strings.SplitN(p, "/", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

func isGit(ctx context.Context, root string) bool {
	if _, err := exec.LookPath("git"); err != nil {
		return false
	}
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--show-prefix")
	cmd.Dir = root
	out, err := cmd.Output()
	// root must be the top of the work tree, not a folder inside another
	// repository (a copy of Racelab inside some other project).
	return err == nil && strings.TrimSpace(string(out)) == ""
}

func gitList(ctx context.Context, root string, args ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	var list []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			list = append(list, f)
		}
	}
	return list, nil
}
