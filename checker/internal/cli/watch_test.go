package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestWatchInATerminal drives watch mode the way a learner does, in a
// pseudo-terminal: it starts on the first lab, shows its diagnosis, sees
// the fix saved, says fixed, moves on when asked, and quits with the
// terminal as it found it and no process left behind.
func TestWatchInATerminal(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("needs a pseudo-terminal")
	}
	dir := copyRepo(t, nil)
	cat, err := loadCatalog(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, second := cat[0], cat.IDs()[1]
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 60, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	var screen syncBuffer
	go io.Copy(&screen, ptmx) // ends when ptmx is closed

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Stdin: tty, Stdout: tty, Stderr: tty, Dir: dir}, []string{"watch"})
	}()
	expect := func(what string, d time.Duration) {
		t.Helper()
		if !waitFor(d, func() bool { return strings.Contains(screen.String(), what) }) {
			t.Fatalf("the screen never showed %q within %s:\n%s", what, d, tail(screen.String(), 40))
		}
	}
	expect("lab 1/", time.Minute)
	expect("broken: ", 2*time.Minute)
	expect("h hint", 5*time.Second)

	// Save the fix, as an editor does.
	saved := time.Now()
	for _, f := range first.Files {
		fixed, err := os.ReadFile(filepath.Join(root(t), "solutions", first.ID, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "labs", first.ID, f), fixed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect("✓ fixed", 2*time.Minute)
	t.Logf("verdict %s after the save", time.Since(saved).Round(10*time.Millisecond))
	expect("Press enter (or n) for the next lab", 5*time.Second)

	ptmx.Write([]byte("\r"))
	expect("lab 2/", 10*time.Second)
	ptmx.Write([]byte("h"))
	expect("Hint 1 of", 2*time.Minute)
	ptmx.Write([]byte("q"))
	select {
	case code := <-done:
		if code != ExitPass {
			t.Errorf("exit %d after q, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("watch did not quit on q:\n%s", tail(screen.String(), 20))
	}

	after, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag != after.Lflag || before.Iflag != after.Iflag || before.Oflag != after.Oflag {
		t.Errorf("the terminal was not restored: flags %x/%x/%x, were %x/%x/%x",
			after.Lflag, after.Iflag, after.Oflag, before.Lflag, before.Iflag, before.Oflag)
	}
	if p := loadProgress(dir); p.Current != second || p.Done[first.ID].IsZero() {
		t.Errorf("progress: current %q, done %v; want on %s with %s done", p.Current, p.Done, second, first.ID)
	}
	if kids := children(); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
}

// children lists this process's child processes (Linux only; elsewhere
// none are reported).
func children() []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == self && f[0] != "Z" {
			out = append(out, e.Name()+" "+s[:i+1])
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
