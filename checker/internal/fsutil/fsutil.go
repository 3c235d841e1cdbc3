// Package fsutil copies parts of a repository, for the grader's scratch
// trees, the benchmark's copy and the tests' copies, and writes files
// atomically.
package fsutil

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CopyPaths copies each of paths (files or directories, relative to src)
// from src to dst. Symbolic links are not followed, and not copied.
func CopyPaths(src, dst string, paths ...string) error {
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(src, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, path)
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			case !d.Type().IsRegular():
				return nil
			}
			return CopyFile(path, filepath.Join(dst, rel))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// CopyFile copies one regular file, creating dst's directory.
func CopyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// WriteAtomic writes path through a temporary file in its folder, synced
// and renamed into place only when fill succeeds: a reader, or a process
// killed at any moment, sees the old file or the new one, whole.
func WriteAtomic(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".racelab-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
