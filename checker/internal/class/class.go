// Package class grades a whole class of submissions with grade.Grade:
// in parallel with a bound, resumably, and split into shards for a CI
// matrix, collecting the grades into a Gradebook.
//
// # The class folder
//
// A class is a folder with one entry per submission: a folder (a
// learner's copy of the repository), or a .zip, .tar.gz or .tgz archive
// of one, unpacked with Unpack into a scratch folder. The submission's
// name is the entry's name without the archive's extension; entries
// whose names start with a dot, and files that are not archives, are not
// submissions. Two entries with the same name ("alice" and "alice.zip")
// are each an error, for those submissions alone, named by their
// entries.
//
// # The output folder
//
//	OUT/submissions/<name>.json  a Record: the grade and what was graded
//	OUT/reports/<name>.txt       the grade for a person
//	OUT/reports/<name>.md        the grade as Markdown
//	OUT/gradebook.json           the Gradebook (schema racelab.gradebook/v1)
//	OUT/gradebook.csv            one row per submission
//	OUT/.lock, OUT/.scratch      held by the run writing into OUT; archives unpacked
//
// Every file is written to a temporary name and renamed, so a run killed
// at any moment leaves every file whole, old or new. A submission's
// Record is written last, once its reports are in place: it is what
// says the submission is done. A run skips a submission whose Record
// names the same content hash, Go release and labs with their points
// (LabKeys), unless forced; the gradebook is
// rebuilt from the Records alone, so a run stopped and started again
// ends with the same gradebook as a run never stopped.
//
// # Shards
//
// Shard K of N holds the submissions whose name's SHA-256 is K-1 modulo
// N: the same split on every machine, whatever order the folder lists
// in, and a submission keeps its shard when others join the class. Each
// shard's gradebook says which submissions its shard holds and a
// fingerprint of the whole class, so that Merge can refuse gradebooks of
// different classes or shards that overlap, and report what is missing.
package class

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Submission is one entry of the class folder.
type Submission struct {
	Name string // the entry's name without its archive extension
	Path string // the entry: a folder or an archive
	// Problem says why the entry cannot be graded (its name is taken
	// twice); it is then graded as an error with this reason.
	Problem string
}

// Archive says whether the submission is an archive to unpack.
func (s Submission) Archive() bool { return archiveKind(s.Path) != "" }

// List returns the submissions in dir, sorted by name. skip names a
// folder to leave out (the output folder, when it is inside dir).
func List(dir, skip string) ([]Submission, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the class folder: %w", err)
	}
	var subs []Submission
	for _, e := range ents {
		n := e.Name()
		p := filepath.Join(dir, n)
		if strings.HasPrefix(n, ".") || skip != "" && sameFile(p, skip) {
			continue
		}
		// The class folder is the staff's: a link in it is followed.
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		switch {
		case st.IsDir():
		case st.Mode().IsRegular() && archiveKind(n) != "":
		default:
			continue
		}
		name := n
		if !st.IsDir() {
			name = trimArchive(n)
		}
		subs = append(subs, Submission{Name: name, Path: p})
	}
	// Entries' own names are unique; only a trimmed extension makes two
	// alike, and those two are then named by their entries.
	taken := map[string]int{}
	for _, s := range subs {
		taken[s.Name]++
	}
	for i, s := range subs {
		if taken[s.Name] > 1 {
			subs[i].Problem = fmt.Sprintf("two entries of the class folder are named %s (a folder and an archive?): keep one", s.Name)
			subs[i].Name = filepath.Base(s.Path)
		}
	}
	slices.SortFunc(subs, func(a, b Submission) int { return strings.Compare(a.Name, b.Name) })
	return subs, nil
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// Shard is part K of N of a class (1 ≤ K ≤ N); the zero value is the
// whole class.
type Shard struct {
	K int `json:"k"`
	N int `json:"n"`
}

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, errK := strconv.Atoi(ks)
	n, errN := strconv.Atoi(ns)
	if !ok || errK != nil || errN != nil || n < 1 || k < 1 || k > n {
		return Shard{}, fmt.Errorf("shard %q: write K/N with 1 ≤ K ≤ N, like 2/4", s)
	}
	return Shard{K: k, N: n}, nil
}

func (s Shard) String() string {
	if s.N == 0 {
		return "1/1"
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Holds says whether the submission named name is in shard s.
func (s Shard) Holds(name string) bool {
	if s.N <= 1 {
		return true
	}
	h := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint64(h[:8])%uint64(s.N) == uint64(s.K-1)
}

// Pick returns the submissions of subs in shard s.
func (s Shard) Pick(subs []Submission) []Submission {
	var out []Submission
	for _, sub := range subs {
		if s.Holds(sub.Name) {
			out = append(out, sub)
		}
	}
	return out
}

// Fingerprint names a class by its submissions' names, so that the
// gradebooks of its shards can be told from another class's.
func Fingerprint(subs []Submission) string {
	h := sha256.New()
	for _, s := range subs {
		fmt.Fprintf(h, "%s\x00", s.Name)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Bounds on hashing a submission folder's content.
const (
	hashMaxFiles = 50000
	hashMaxBytes = 1 << 30
)

// ContentHash hashes what a submission holds: an archive's bytes, or a
// folder's names, kinds and regular files' content (its .git folder
// aside), without following links or opening anything but regular
// files. Past hashMaxFiles entries or hashMaxBytes read it stops, and
// says so in the hash: a submission that big is graded again only when
// its first part changes.
func ContentHash(path string) (string, error) {
	h := sha256.New()
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		if err := hashFile(h, path, hashMaxBytes); err != nil {
			return "", err
		}
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	files, read := 0, int64(0)
	errStop := fmt.Errorf("stop")
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(path, p)
		if err != nil {
			fmt.Fprintf(h, "unreadable %q\x00", rel)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && d.Name() == ".git" && rel == ".git" {
			return fs.SkipDir
		}
		files++
		if files > hashMaxFiles || read > hashMaxBytes {
			fmt.Fprintf(h, "truncated\x00")
			return errStop
		}
		switch t := d.Type(); {
		case t.IsDir():
			fmt.Fprintf(h, "dir %q\x00", rel)
		case t.IsRegular():
			fmt.Fprintf(h, "file %q\x00", rel)
			info, err := d.Info()
			if err != nil {
				return nil
			}
			read += info.Size()
			if err := hashFile(h, p, hashMaxBytes-read+info.Size()); err != nil {
				fmt.Fprintf(h, "unreadable\x00")
			}
		default:
			fmt.Fprintf(h, "other %q %v\x00", rel, t)
		}
		return nil
	})
	if err != nil && err != errStop {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashFile hashes the regular file p, at most max bytes of it. It is
// opened without following a link and without blocking, and refused if
// it is not a regular file once open.
func hashFile(h io.Writer, p string, max int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	n, err := io.Copy(h, io.LimitReader(f, max))
	fmt.Fprintf(h, "\x00%d\x00", n)
	return err
}
