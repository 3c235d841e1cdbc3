package engine

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// PruneCache removes the least recently built binaries of other clones
// once the cache is over its limit, but nothing of a clone whose binaries
// or variants another checker holds locked: a verify of one clone must not
// lose its builds to a check run in another.
func TestPruneCacheSparesWhatIsInUse(t *testing.T) {
	base := t.TempDir()
	fill := func(clone, unit string) string {
		p := filepath.Join(base, clone, unit)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "x.test"), make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idle := fill("idle", "bin/labs")
	busy := fill("busy", "variants/round0")
	keep := filepath.Join(base, "keep")
	os.MkdirAll(keep, 0o755)

	lock, err := os.OpenFile(filepath.Join(base, "busy", "variants", ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	PruneCache(base, 1<<20, keep) // two MiB of binaries, over a limit of one
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("the variants of a clone being verified were removed: %v", err)
	}
	if _, err := os.Stat(idle); err == nil {
		t.Errorf("the binaries of an idle clone were kept with the cache over its limit")
	}

	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	PruneCache(base, 1<<19, keep)
	if _, err := os.Stat(busy); err == nil {
		t.Errorf("the variants of a clone no longer in use were kept with the cache over its limit")
	}
}
