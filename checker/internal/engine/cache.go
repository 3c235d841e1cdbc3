package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// CacheLimit bounds the checker's cache of test binaries over every clone
// on the machine. A race-instrumented test binary is 10 to 20 MB, so this
// holds every lab, solution and variant of two or three clones.
const CacheLimit = 1 << 30

// rootFile, in a clone's cache folder, names the clone it belongs to.
const rootFile = "root"

// PruneCache keeps the cache under base (the folder that holds one folder
// per clone, see [CacheDir]) within limit bytes. It first removes the
// folders of clones that no longer exist, then whole groups of test
// binaries, least recently built first, until the cache is within 80% of
// limit. It never removes anything of the clone whose folder is keep,
// except its variants' binaries, which verify rebuilds when it needs them.
// Errors are ignored: the cache is a cache.
func PruneCache(base string, limit int64, keep string) {
	if keep != "" {
		markUsed(keep)
	}
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	type unit struct {
		path string
		size int64
		used time.Time
	}
	var units []unit
	var total int64
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		// Another checker building or running there: its binaries count,
		// but nothing of it is removed.
		busy := dir != keep && inUse(dir)
		if dir != keep && !busy && !cloneExists(dir) {
			os.RemoveAll(dir)
			continue
		}
		// A unit is a folder of binaries built together: bin/<group>, and
		// variants/round<k> with its overlay (verify's k-th round).
		for _, pattern := range []string{"bin/*", "variants/*"} {
			paths, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, p := range paths {
				if strings.HasPrefix(filepath.Base(p), ".") {
					continue // a lock
				}
				size, used := usage(p)
				total += size
				if busy || dir == keep && strings.HasPrefix(pattern, "bin") {
					continue // in use now
				}
				units = append(units, unit{p, size, used})
			}
		}
	}
	if total <= limit {
		return
	}
	slices.SortFunc(units, func(a, b unit) int { return a.used.Compare(b.used) })
	for _, u := range units {
		if total <= limit/10*8 {
			break
		}
		if os.RemoveAll(u.path) == nil {
			total -= u.size
		}
	}
}

// inUse reports whether a checker holds the lock of a clone's test
// binaries (a build or a run, see lockDir) or of its variants (a verify):
// what it is using must not be removed under it.
func inUse(dir string) bool {
	for _, lock := range []string{filepath.Join(dir, "bin", ".lock"), filepath.Join(dir, "variants", ".lock")} {
		f, err := os.OpenFile(lock, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		f.Close()
		if err != nil {
			return true
		}
	}
	return false
}

// markUsed records which clone a cache folder belongs to.
func markUsed(dir string) {
	os.MkdirAll(dir, 0o755)
	if _, err := os.Stat(filepath.Join(dir, rootFile)); err == nil {
		return
	}
	// CacheDir is a hash of the root; the root itself is kept to tell,
	// later, whether the clone still exists.
	if root, ok := cacheRoots.Load(dir); ok {
		os.WriteFile(filepath.Join(dir, rootFile), []byte(root.(string)), 0o644)
	}
}

// cloneExists reports whether the clone a cache folder belongs to is still
// on disk. A folder that does not say is kept.
func cloneExists(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, rootFile))
	if err != nil {
		return true
	}
	root := string(data)
	st, err := os.Stat(filepath.Join(root, "go.mod"))
	return err == nil && !st.IsDir() && CacheDir(root) == dir
}

// usage sums the sizes of the files under p and finds the latest time one
// of them was written.
func usage(p string) (int64, time.Time) {
	var size int64
	var latest time.Time
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			size += info.Size()
			if info.ModTime().After(latest) {
				latest = info.ModTime()
			}
		}
		return nil
	})
	return size, latest
}
