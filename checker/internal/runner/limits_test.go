package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sh runs a shell command under lim, as GoWithLimits runs the go command.
func sh(t *testing.T, lim GoLimits, script string, env ...string) (GoResult, error) {
	t.Helper()
	return GoWithLimits(context.Background(), "/bin/sh", t.TempDir(), append(os.Environ(), env...), lim, "-c", script)
}

func TestGoTimeLimit(t *testing.T) {
	start := time.Now()
	res, err := sh(t, GoLimits{Time: 500 * time.Millisecond}, "sleep 30 & sleep 30")
	if err == nil || !strings.HasPrefix(res.Killed, "time limit") {
		t.Errorf("err = %v, Killed = %q; want a time limit kill", err, res.Killed)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v; the limit was 500ms", d)
	}
}

func TestGoMemoryLimit(t *testing.T) {
	bin := built(t)
	res, err := GoWithLimits(context.Background(), bin, t.TempDir(), append(os.Environ(), "MISBEHAVE=hog"),
		GoLimits{Memory: 256 << 20, Time: time.Minute}, "-test.run=Hog")
	if err == nil || !strings.HasPrefix(res.Killed, "memory limit") {
		t.Errorf("err = %v, Killed = %q; want a memory limit kill", err, res.Killed)
	}
	if res.PeakRSS < 256<<20 {
		t.Errorf("PeakRSS = %d MiB; the group was killed for going over 256 MiB", res.PeakRSS>>20)
	}
}

func TestGoFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "big")
	_, err := sh(t, GoLimits{FileSize: 1 << 20}, "head -c 4194304 /dev/zero > "+f)
	st, serr := os.Stat(f)
	if err == nil || serr != nil || st.Size() > 1<<20 {
		t.Errorf("err = %v; wrote %v; want the write stopped at 1 MiB", err, st)
	}
}

func TestGoDiskLimit(t *testing.T) {
	dir := t.TempDir()
	script := fmt.Sprintf("i=0; while [ $i -lt 200 ]; do head -c 1048576 /dev/zero > %s/f$i; i=$((i+1)); sleep 0.02; done", dir)
	res, err := sh(t, GoLimits{Disk: 16 << 20, Watch: []string{dir}, Time: time.Minute}, script)
	if err == nil || !strings.HasPrefix(res.Killed, "disk limit") {
		t.Errorf("err = %v, Killed = %q; want a disk limit kill", err, res.Killed)
	}
	if used := diskUsage([]string{dir}); used > 64<<20 {
		t.Errorf("%d MiB written; the limit was 16 MiB", used>>20)
	}
}

func TestGoOutputIsCapped(t *testing.T) {
	res, err := sh(t, GoLimits{Output: 1000}, "head -c 100000 /dev/zero | tr '\\0' x")
	if err != nil || len(res.Output) != 1000 || !res.Truncated {
		t.Errorf("err = %v, kept %d bytes, truncated %v; want 1000 bytes kept", err, len(res.Output), res.Truncated)
	}
}

// TestNoInheritedDescriptors: a descriptor this process inherited without
// close-on-exec (made here by a pipe without O_CLOEXEC) reaches no child.
func TestNoInheritedDescriptors(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", p[1]))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sh(t, GoLimits{}, "for f in /proc/$$/fd/*; do readlink $f; done; true")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Output), link) {
		t.Errorf("the child holds %s:\n%s", link, res.Output)
	}
}
