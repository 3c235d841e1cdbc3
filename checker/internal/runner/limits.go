package runner

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// GoLimits bound one go command and every compiler, linker and vet it
// starts: they share its process group. The zero value sets no limit
// beyond the context, as before these limits existed.
type GoLimits struct {
	Time time.Duration // the whole command, from start to exit
	// Memory is the most resident memory, summed over the process group,
	// checked every PollEvery.
	Memory int64
	// FileSize is the largest file any process of the group may write
	// (RLIMIT_FSIZE): a compile or link that writes more is stopped by
	// the kernel, before the disk fills.
	FileSize int64
	// Disk is how much the Watch directories may grow while the command
	// runs, checked every DiskEvery.
	Disk  int64
	Watch []string
	// Output is how much of the command's output is kept; the rest is
	// counted and dropped. 0 keeps 4 MiB.
	Output int64
}

// GoResult is what a go command did under GoLimits.
type GoResult struct {
	Output    []byte // stdout and stderr, up to GoLimits.Output
	Truncated bool
	// Killed says which limit stopped the command, when one did: "time
	// limit (2m0s)", "memory limit (2 GiB)", "disk limit (512 MiB)", or
	// "file size limit (128 MiB)".
	Killed  string
	PeakRSS int64 // the most resident memory the group was seen using
	Elapsed time.Duration
}

// How often a running group's memory and disk use are checked.
const (
	PollEvery = 50 * time.Millisecond
	DiskEvery = 250 * time.Millisecond
)

// GoWithLimits runs the go command in dir under lim, in a process group
// of its own that is killed when a limit is hit, when ctx ends, and after
// the command exits. The error is non-nil when the command could not
// start or exited unsuccessfully (an *exec.ExitError), as with
// exec.Cmd.Run; a kill is reported in GoResult.Killed, with a non-nil
// error.
func GoWithLimits(ctx context.Context, goPath, dir string, env []string, lim GoLimits, args ...string) (GoResult, error) {
	if lim.Output <= 0 {
		lim.Output = DefaultOutput
	}
	out := &cappedBuffer{max: lim.Output}
	cmd := exec.Command(goCmd(goPath), args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = out, out
	st, err := runGroup(ctx, cmd, lim)
	return GoResult{Output: out.Bytes(), Truncated: out.dropped > 0, Killed: st.killed, PeakRSS: st.peakRSS, Elapsed: st.elapsed}, err
}

// groupStats is what watching a process group found.
type groupStats struct {
	killed  string
	peakRSS int64
	elapsed time.Duration
}

// runGroup runs cmd in a new process group under lim, killing the group
// when a limit is hit, when ctx ends, and after cmd exits.
func runGroup(ctx context.Context, cmd *exec.Cmd, lim GoLimits) (groupStats, error) {
	closeInheritedFDs()
	cmd.SysProcAttr = groupAttr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return groupStats{}, err
	}
	pgid := cmd.Process.Pid
	// The go command forks its compilers only after loading packages,
	// long after this: they inherit the limits.
	setFileLimits(pgid, lim.FileSize)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var st groupStats
	kill := func(why string) {
		if st.killed == "" {
			st.killed = why
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	var deadline <-chan time.Time
	if lim.Time > 0 {
		t := time.NewTimer(lim.Time)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(PollEvery)
	defer tick.Stop()
	var baseline int64
	lastDisk := start
	if lim.Disk > 0 {
		baseline = diskUsage(lim.Watch)
	}
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-deadline:
			kill(fmt.Sprintf("time limit (%s)", lim.Time))
		case <-ctx.Done():
			// The go command removes its work directory on an interrupt,
			// not on a kill: ask first, then insist.
			st.killed = "cancelled"
			syscall.Kill(-pgid, syscall.SIGINT)
			select {
			case err = <-done:
				break loop
			case <-time.After(interruptGrace):
				kill("cancelled")
			}
		case <-tick.C:
			rss := groupRSS(pgid)
			st.peakRSS = max(st.peakRSS, rss)
			if lim.Memory > 0 && rss > lim.Memory {
				kill(fmt.Sprintf("memory limit (%s)", bytesString(lim.Memory)))
			}
			if lim.Disk > 0 && time.Since(lastDisk) >= DiskEvery {
				lastDisk = time.Now()
				if diskUsage(lim.Watch)-baseline > lim.Disk {
					kill(fmt.Sprintf("disk limit (%s)", bytesString(lim.Disk)))
				}
			}
		}
	}
	left := GroupMembers(pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
	reapAdopted(left)
	if st.killed == "" && lim.Disk > 0 && diskUsage(lim.Watch)-baseline > lim.Disk {
		st.killed = fmt.Sprintf("disk limit (%s)", bytesString(lim.Disk))
	}
	if st.killed == "" && lim.FileSize > 0 && err != nil && fileLimitHit(cmd) {
		st.killed = fmt.Sprintf("file size limit (%s)", bytesString(lim.FileSize))
	}
	st.elapsed = time.Since(start)
	if st.killed == "cancelled" {
		return st, ctx.Err()
	}
	return st, err
}

// fileLimitHit reports whether a tool of the go command's said it could
// not write a file over the size limit. Go programs ignore SIGXFSZ, so a
// compiler or linker reports the write's EFBIG on a line of its own
// ("compile: writing output: write $WORK/b001/_pkg_.a: file too large");
// the compiler's messages about the code, which graded code could word,
// all carry a position ("x.go:3:5:"), and are not taken for it.
func fileLimitHit(cmd *exec.Cmd) bool {
	for _, w := range []any{cmd.Stdout, cmd.Stderr} {
		b, ok := w.(*cappedBuffer)
		if !ok {
			continue
		}
		for _, line := range bytes.Split(b.Bytes(), []byte("\n")) {
			if (bytes.Contains(line, []byte(": file too large")) || bytes.Contains(line, []byte("file size limit exceeded"))) && !bytes.Contains(line, []byte(".go:")) {
				return true
			}
		}
	}
	return false
}

// diskUsage is the space the files under dirs take, each inode counted
// once. Links to files outside dirs count too: a directory seeded with
// hard links starts with their size, and only growth is compared.
func diskUsage(dirs []string) int64 {
	seen := map[uint64]bool{}
	var total int64
	for _, d := range dirs {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok || seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
			total += st.Blocks * 512
			return nil
		})
	}
	return total
}

// cappedBuffer keeps the first max bytes written to it and counts the
// rest. It is safe for the concurrent writes of a command's stdout and
// stderr.
type cappedBuffer struct {
	mu      sync.Mutex // protects buf and dropped
	max     int64
	buf     bytes.Buffer
	dropped int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(int64(len(p)), max(0, b.max-int64(b.buf.Len())))
	b.buf.Write(p[:keep])
	b.dropped += int64(len(p)) - keep
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// closeInheritedFDs marks close-on-exec every descriptor of this process
// from 3 up. Go opens its own descriptors close-on-exec, but descriptors
// the checker inherited from whatever started it are not, and every
// child would inherit them in turn: a child gets exactly its standard
// streams and the files passed to it (os/exec's ExtraFiles, which are
// duplicated into place without the flag). It is cheap and runs before
// every start, so descriptors inherited or made later are covered too.
func closeInheritedFDs() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		ents, err = os.ReadDir("/dev/fd") // macOS
	}
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		syscall.CloseOnExec(fd)
	}
}
