package grade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/racelab/racelab/checker/internal/catalog"
)

// Bounds on reading a submission.
const (
	// MaxFileSize is the largest editable file the grader accepts.
	MaxFileSize = 256 << 10
	// DefaultIntakeLimit is how long reading a submission may take.
	DefaultIntakeLimit = 30 * time.Second
	maxWarnings        = 50
	maxLooks           = 10000 // files and folders looked at, for warnings
	maxDepth           = 16    // folders deep, for warnings
	maxCompared        = 4 << 20
)

// submitted is what the grader takes from a submission: read once, into
// memory, within bounds, before anything is built.
type submitted struct {
	// problem says why the submission as a whole cannot be graded; every
	// lab is then an Error with it.
	problem  string
	files    map[string][]byte      // accepted editable files, by path ("labs/bank/bank.go")
	rejected map[string][]Rejection // by lab id
	warnings []string
}

// takeSubmission reads the submission within limit. Reading is all local
// file system calls, but a submission on a hung network or FUSE mount
// could block one forever: the reader is then abandoned and the grading
// goes on without it.
func takeSubmission(o Options) submitted {
	ch := make(chan submitted, 1)
	f := read
	go func() { ch <- f(o) }()
	t := time.NewTimer(o.IntakeLimit)
	defer t.Stop()
	select {
	case s := <-ch:
		return s
	case <-t.C:
		return submitted{problem: fmt.Sprintf("reading the submission took longer than %s: put it on a local disk", o.IntakeLimit)}
	}
}

// read is readSubmission; a test replaces it with one that hangs.
var read = readSubmission

func readSubmission(o Options) submitted {
	s := submitted{files: map[string][]byte{}, rejected: map[string][]Rejection{}}
	a, err := openArchive(o.Submission)
	if err != nil {
		s.problem = "cannot open the submission: " + err.Error()
		return s
	}
	defer a.Close()
	switch in, err := a.lstat("labs"); {
	case err != nil:
		s.problem = err.Error()
		return s
	case in.kind == missing:
		s.problem = "it has no labs/ folder: pass the folder that holds go.mod and labs/"
		return s
	case in.kind == symlink:
		s.problem = "its labs/ is a symbolic link: submit the folder itself, not a link to it"
		return s
	case in.kind != directory:
		s.problem = "its labs is " + in.kind.String() + ", not a folder"
		return s
	}
	for _, l := range o.Labs {
		s.readLab(a, o.Root, l)
	}
	s.warnings = compareSubmission(a, o.Root, o.Labs)
	return s
}

// readLab takes one lab's editable files, each checked by the policy.
func (s *submitted) readLab(a *archive, root string, l catalog.Lab) {
	reject := func(file, format string, args ...any) {
		s.rejected[l.ID] = append(s.rejected[l.ID], Rejection{File: file, Reason: fmt.Sprintf(format, args...)})
	}
	if in, err := a.lstat(l.Dir()); err != nil || in.kind != directory {
		switch {
		case err != nil:
			reject(l.Dir(), "%v", err)
		case in.kind == missing:
			reject(l.Dir(), "the submission has no %s/ folder: submit the lab's folder", l.Dir())
		case in.kind == symlink:
			reject(l.Dir(), "%s is a symbolic link: submit the folder itself", l.Dir())
		default:
			reject(l.Dir(), "%s is %s, not a folder", l.Dir(), in.kind)
		}
		return
	}
	for _, f := range l.Files {
		rel := path.Join(l.Dir(), f)
		data, in, err := a.readFile(rel, MaxFileSize)
		var pe *pathError
		switch {
		case errors.Is(err, errTooBig):
			reject(rel, "%s is %d bytes; the limit is %d", rel, in.size, MaxFileSize)
		case errors.As(err, &pe) && pe.Err == nil && pe.Kind == missing:
			reject(rel, "the submission has no %s: submit the lab's editable file", rel)
		case errors.As(err, &pe) && pe.Err == nil && pe.Kind == symlink:
			reject(rel, "%s is a symbolic link: submit the file itself", pe.Rel)
		case errors.As(err, &pe) && pe.Err == nil && pe.Kind == directory:
			reject(rel, "%s is a folder: submit the file itself", pe.Rel)
		case errors.As(err, &pe) && pe.Err == nil:
			reject(rel, "%s is not a regular file (a FIFO, a device or a socket): submit the file itself", pe.Rel)
		case err != nil:
			reject(rel, "%v", err)
		default:
			pristine, _ := readTrusted(filepath.Join(root, filepath.FromSlash(rel)))
			if rej := CheckSource(l, rel, data, pristine); len(rej) > 0 {
				s.rejected[l.ID] = append(s.rejected[l.ID], rej...)
				continue
			}
			s.files[rel] = data
		}
	}
}

// readTrusted reads a file of the grader's own repository, bounded all
// the same.
func readTrusted(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCompared+1))
	if err == nil && len(data) > maxCompared {
		err = fmt.Errorf("%s is over %d bytes", p, maxCompared)
	}
	return data, err
}

// compareSubmission lists files outside the editable ones that differ
// from the pristine repository; they were not used, and the learner
// should know. It looks at no more than maxLooks paths, follows no link,
// and reads a file only when it has the pristine copy's size.
func compareSubmission(a *archive, root string, labs []catalog.Lab) []string {
	var warns []string
	looks := 0
	warn := func(format string, args ...any) {
		if len(warns) < maxWarnings {
			warns = append(warns, fmt.Sprintf(format, args...))
		}
	}
	// check looks at one path and says whether it is a folder.
	check := func(rel string) bool {
		looks++
		in, err := a.lstat(rel)
		if err != nil || in.kind == missing {
			return false
		}
		pristine, errA := readTrusted(filepath.Join(root, filepath.FromSlash(rel)))
		switch {
		case in.kind == directory:
			return true
		case in.kind == symlink:
			warn("%s is a symbolic link; it was ignored", rel)
		case in.kind == other:
			warn("%s is not a regular file; it was ignored", rel)
		case errA != nil:
			warn("%s is not part of Racelab; it was ignored", rel)
		case in.size != int64(len(pristine)):
			warn("%s differs from the original; the original was used", rel)
		default:
			data, _, err := a.readFile(rel, int64(len(pristine)))
			if err != nil || !bytes.Equal(data, pristine) {
				warn("%s differs from the original; the original was used", rel)
			}
		}
		return false
	}
	for _, f := range []string{"go.mod", "go.sum", "Makefile"} {
		check(f)
	}
	for _, l := range labs {
		names, _, err := a.readDir(l.Dir(), maxLooks)
		if err != nil {
			continue
		}
		slices.Sort(names)
		for _, n := range names {
			if slices.Contains(l.Files, n) {
				continue
			}
			if looks >= maxLooks || len(warns) >= maxWarnings {
				return warns
			}
			check(l.Dir() + "/" + n)
		}
	}
	// The checker grades with its own code; an edited copy has no effect,
	// but the learner should hear that.
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > maxDepth {
			return
		}
		names, _, err := a.readDir(dir, maxLooks)
		if err != nil {
			return
		}
		slices.Sort(names)
		for _, n := range names {
			if looks >= maxLooks || len(warns) >= maxWarnings {
				return
			}
			if check(dir + "/" + n) {
				walk(dir+"/"+n, depth+1)
			}
		}
	}
	if in, err := a.lstat("checker"); err == nil && in.kind == directory {
		walk("checker", 1)
	} else if err == nil && in.kind != missing {
		check("checker")
	}
	return warns
}
