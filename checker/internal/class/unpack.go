package class

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Limits bound unpacking one archived submission. A learner's copy of
// the repository is well under a MiB of source; the limits leave room
// for a .git folder and stop a bomb long before it fills a disk.
type Limits struct {
	Files int   // entries (files and folders), default 20,000
	Bytes int64 // bytes written in all, and the archive's own size, default 256 MiB
}

func (l Limits) withDefaults() Limits {
	if l.Files <= 0 {
		l.Files = 20000
	}
	if l.Bytes <= 0 {
		l.Bytes = 256 << 20
	}
	return l
}

// archiveKind says how a file name is unpacked: "zip", "tar.gz" or "".
func archiveKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".zip"):
		return "zip"
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return "tar.gz"
	}
	return ""
}

// trimArchive is name without its archive extension.
func trimArchive(name string) string {
	for _, ext := range []string{".zip", ".tar.gz", ".tgz"} {
		if s, ok := strings.CutSuffix(name, ext); ok {
			return s
		}
	}
	return name
}

// errBadArchive marks an error in the archive itself (not the disk).
var errBadArchive = errors.New("bad archive")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadArchive}, args...)...)
}

// Unpack unpacks the archive src (.zip, .tar.gz or .tgz) into the empty
// folder dst and returns the folder that holds the submission: dst, or
// its only folder when the archive wraps the repository in one (as
// GitHub's "Download ZIP" and git archive --prefix do).
//
// The archive is untrusted. Only regular files and folders are made,
// with modes 0644 and 0755; an entry whose name is absolute, climbs out
// with "..", or is a link, a device or a FIFO makes the whole archive
// bad, as does one named twice. Unpacking stops with an error once it
// has made lim.Files entries or written lim.Bytes. Since nothing but
// folders and regular files is ever made below dst, and every name is
// local, nothing is written outside it.
func Unpack(src, dst string, lim Limits) (string, error) {
	lim = lim.withDefaults()
	u := &unpacker{dst: dst, lim: lim}
	var err error
	switch archiveKind(src) {
	case "zip":
		err = u.zip(src)
	case "tar.gz":
		err = u.tarGz(src)
	default:
		return "", fmt.Errorf("%s is not a .zip or .tar.gz archive", filepath.Base(src))
	}
	if err != nil {
		return "", err
	}
	return submissionRoot(dst), nil
}

// submissionRoot is dst, or its one folder when dst holds exactly one
// entry, a folder, and no labs/.
func submissionRoot(dst string) string {
	ents, err := os.ReadDir(dst)
	if err != nil || len(ents) != 1 || !ents[0].IsDir() || ents[0].Name() == "labs" {
		return dst
	}
	return filepath.Join(dst, ents[0].Name())
}

// unpacker makes entries below dst within lim.
type unpacker struct {
	dst     string
	lim     Limits
	entries int
	written int64
}

// target checks an entry's name and returns where it goes.
func (u *unpacker) target(name string) (string, error) {
	u.entries++
	if u.entries > u.lim.Files {
		return "", bad("more than %d entries: submit the repository without build outputs", u.lim.Files)
	}
	clean := strings.TrimSuffix(name, "/")
	if clean == "" || !filepath.IsLocal(clean) || strings.ContainsRune(clean, 0) {
		return "", bad("entry %q is outside the archive's folder", name)
	}
	return filepath.Join(u.dst, filepath.FromSlash(clean)), nil
}

func (u *unpacker) mkdir(name string) error {
	p, err := u.target(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return bad("folder %q: %v", name, err)
	}
	return nil
}

// file writes one regular file from r, made anew (O_EXCL: an entry
// named twice is refused, never followed or overwritten).
func (u *unpacker) file(name string, r io.Reader) error {
	p, err := u.target(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return bad("folder of %q: %v", name, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return bad("entry %q appears twice", name)
	}
	if err != nil {
		return bad("file %q: %v", name, err)
	}
	left := u.lim.Bytes - u.written
	n, err := io.Copy(f, io.LimitReader(r, left+1))
	u.written += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case u.written > u.lim.Bytes:
		return bad("it unpacks to more than %s: submit the repository without build outputs", size(u.lim.Bytes))
	case err != nil:
		return bad("file %q: %v", name, err)
	}
	return nil
}

func (u *unpacker) zip(src string) error {
	if st, err := os.Stat(src); err == nil && st.Size() > u.lim.Bytes {
		return bad("the archive is over %s", size(u.lim.Bytes))
	}
	zr, err := zip.OpenReader(src)
	if err != nil {
		return bad("%v", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return bad("entry %q is a symbolic link: archive the files themselves", f.Name)
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := u.mkdir(f.Name); err != nil {
				return err
			}
		case mode.IsRegular():
			r, err := f.Open()
			if err != nil {
				return bad("entry %q: %v", f.Name, err)
			}
			err = u.file(f.Name, r)
			r.Close()
			if err != nil {
				return err
			}
		default:
			return bad("entry %q is not a regular file or a folder", f.Name)
		}
	}
	return nil
}

func (u *unpacker) tarGz(src string) error {
	fh, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fh.Close()
	// The compressed size is bounded too: a stream of empty blocks
	// costs nothing to unpack but time.
	zr, err := gzip.NewReader(io.LimitReader(fh, u.lim.Bytes))
	if err != nil {
		return bad("%v", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bad("%v", err)
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			// git archive's commit id: metadata, not a file.
		case tar.TypeDir:
			if err := u.mkdir(h.Name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := u.file(h.Name, tr); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return bad("entry %q is a link: archive the files themselves", h.Name)
		default:
			return bad("entry %q is not a regular file or a folder", h.Name)
		}
	}
}

func size(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
