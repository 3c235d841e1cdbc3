package grade

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"strings"
)

// An archive is a submission read as an untrusted archive. Every path is
// resolved below the submission's folder one element at a time, each
// opened relative to its parent's descriptor with O_NOFOLLOW, so nothing
// outside the folder is ever reached: a symbolic link anywhere in a path
// is refused, not followed. A file is looked at (fstatat, not following
// links) before it is opened, so a FIFO or a device is never opened for
// reading; only regular files are read, and every read is bounded in size.
//
// The folder itself was named by whoever runs the grader and is opened
// as named.
type archive struct {
	fd int // the submission's folder
}

// The kinds of thing a path can name.
type kind int

const (
	missing kind = iota
	regular
	directory
	symlink
	other // a FIFO, a device, a socket
)

func (k kind) String() string {
	return [...]string{"missing", "a regular file", "a folder", "a symbolic link", "not a regular file"}[k]
}

// A pathError says what stopped a path from being read: the element that
// is not what it should be (the path itself, or a folder on the way).
type pathError struct {
	Rel  string // the element, relative to the submission
	Kind kind   // what it is
	Err  error  // an I/O error, when that is what happened
}

func (e *pathError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("cannot read %s: %v", e.Rel, e.Err)
	case e.Kind == missing:
		return e.Rel + " does not exist"
	case e.Kind == symlink:
		return e.Rel + " is a symbolic link"
	default:
		return e.Rel + " is " + e.Kind.String()
	}
}

// errTooBig is returned by readFile for a file over its limit.
var errTooBig = errors.New("too big")

func openArchive(path string) (*archive, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &archive{fd: fd}, nil
}

func (a *archive) Close() { unix.Close(a.fd) }

// info is what lstat found.
type info struct {
	kind kind
	size int64
	dev  uint64
	ino  uint64
}

func infoOf(st *unix.Stat_t) info {
	i := info{size: st.Size, dev: uint64(st.Dev), ino: st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		i.kind = regular
	case unix.S_IFDIR:
		i.kind = directory
	case unix.S_IFLNK:
		i.kind = symlink
	default:
		i.kind = other
	}
	return i
}

// lstatAt describes name in the folder dirfd without following a link
// and without opening the file for reading.
func lstatAt(dirfd int, name string) (info, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return info{kind: missing}, nil
	}
	if err != nil {
		return info{}, err
	}
	return infoOf(&st), nil
}

// split checks rel (slash-separated, relative) and returns its elements.
func split(rel string) ([]string, error) {
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("bad path %q", rel)
		}
	}
	return parts, nil
}

// openDir opens the folder rel ("" for the submission's own) and returns
// its descriptor, or a *pathError naming the element that is not a
// folder.
func (a *archive) openDir(rel string) (int, error) {
	fd, err := unix.Dup(a.fd)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	if rel == "" {
		return fd, nil
	}
	parts, err := split(rel)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	for i, p := range parts {
		next, err := unix.Openat(fd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			in, serr := lstatAt(fd, p)
			unix.Close(fd)
			here := strings.Join(parts[:i+1], "/")
			if serr != nil {
				return -1, &pathError{Rel: here, Err: serr}
			}
			if in.kind == directory {
				return -1, &pathError{Rel: here, Err: err}
			}
			return -1, &pathError{Rel: here, Kind: in.kind}
		}
		unix.Close(fd)
		fd = next
	}
	return fd, nil
}

// parent opens rel's folder and returns it with rel's last element.
func (a *archive) parent(rel string) (int, string, error) {
	dir, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	if _, err := split(name); err != nil {
		return -1, "", err
	}
	fd, err := a.openDir(dir)
	return fd, name, err
}

// lstat describes rel without following any link. A folder on the way
// that is a link, or not a folder, is reported as a *pathError.
func (a *archive) lstat(rel string) (info, error) {
	dirfd, name, err := a.parent(rel)
	if err != nil {
		return info{}, err
	}
	defer unix.Close(dirfd)
	in, err := lstatAt(dirfd, name)
	if err != nil {
		return info{}, &pathError{Rel: rel, Err: err}
	}
	return in, nil
}

// readFile reads rel, which must be a regular file of at most max bytes.
// Anything else is a *pathError, or errTooBig.
func (a *archive) readFile(rel string, max int64) ([]byte, info, error) {
	dirfd, name, err := a.parent(rel)
	if err != nil {
		return nil, info{}, err
	}
	defer unix.Close(dirfd)
	in, err := lstatAt(dirfd, name)
	switch {
	case err != nil:
		return nil, in, &pathError{Rel: rel, Err: err}
	case in.kind != regular:
		return nil, in, &pathError{Rel: rel, Kind: in.kind}
	case in.size > max:
		return nil, in, errTooBig
	}
	// Swapped for a FIFO since the look? O_NONBLOCK makes the open return
	// at once, and the check below refuses it.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, in, &pathError{Rel: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, in, &pathError{Rel: rel, Err: err}
	}
	if now := infoOf(&st); now.kind != regular || now.dev != in.dev || now.ino != in.ino {
		return nil, now, &pathError{Rel: rel, Kind: now.kind, Err: errors.New("it changed while being read")}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, in, &pathError{Rel: rel, Err: err}
	}
	if int64(len(data)) > max {
		return nil, in, errTooBig
	}
	return data, in, nil
}

// readDir lists the names in the folder rel, at most max of them; more
// says whether there were more.
func (a *archive) readDir(rel string, max int) (names []string, more bool, err error) {
	fd, err := a.openDir(rel)
	if err != nil {
		return nil, false, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err = f.Readdirnames(max + 1)
	if err != nil && err != io.EOF {
		return nil, false, &pathError{Rel: rel, Err: err}
	}
	if len(names) > max {
		return names[:max], true, nil
	}
	return names, false, nil
}
