package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/racelab/racelab/checker/internal/diagnose"
	"github.com/racelab/racelab/checker/internal/test2json"
)

// Limits bound one run of a test binary. Zero fields take the defaults.
type Limits struct {
	// Time is the test binary's own -test.timeout; the whole process group
	// is killed Grace later if it is still running.
	Time  time.Duration
	Grace time.Duration
	// Memory is the most resident memory, summed over the process group.
	Memory int64
	// Output is how much output is kept; a run that prints more than
	// 8 times this is killed.
	Output int64
	// FileSize is the largest file any process of the group may write
	// (RLIMIT_FSIZE); 0 sets no limit.
	FileSize int64
}

// The default limits: generous for the labs (which finish in seconds),
// tight enough that a runaway submission cannot hurt the machine.
const (
	DefaultTime   = 30 * time.Second
	DefaultGrace  = 5 * time.Second
	DefaultMemory = 2 << 30
	DefaultOutput = 4 << 20
)

func (l Limits) withDefaults() Limits {
	if l.Time <= 0 {
		l.Time = DefaultTime
	}
	if l.Grace <= 0 {
		l.Grace = DefaultGrace
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.Output <= 0 {
		l.Output = DefaultOutput
	}
	return l
}

// Exec says how to run one test binary.
type Exec struct {
	Binary  string
	Dir     string // working directory: the package directory, as go test does
	Package string // import path, for the test2json events
	Args    []string
	Env     []string // the whole environment; os.Environ when nil
	// ExtraFiles are inherited by the test binary as fd 3, 4, ...; Run
	// closes them once the binary has started, so a reader of a pipe sees
	// EOF when the binary exits.
	ExtraFiles []*os.File
	Limits     Limits
}

// A Result is what happened when a test binary ran.
type Result struct {
	Output    []byte // stdout and stderr, interleaved as written, up to Limits.Output
	Truncated bool
	Exit      int    // the exit status; -1 when the process was killed
	Killed    string // why the runner killed it, if it did
	Duration  time.Duration
	PeakRSS   int64 // the most resident memory the group was seen using
	Events    []diagnose.Event
}

// Run runs the test binary in a new process group and waits for it. When
// it returns, no process of that group is left: whatever the binary started
// and left behind is killed. The error is non-nil only when the binary
// could not be started or its output could not be converted.
func Run(ctx context.Context, e Exec) (Result, error) {
	lim := e.Limits.withDefaults()
	args := append([]string{"-test.v=test2json", "-test.paniconexit0", "-test.timeout=" + lim.Time.String()}, e.Args...)
	cmd := exec.Command(e.Binary, args...)
	cmd.Dir = e.Dir
	cmd.Env = e.Env
	cmd.ExtraFiles = e.ExtraFiles
	cmd.SysProcAttr = groupAttr()
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("create a pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	closeInheritedFDs()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		for _, f := range e.ExtraFiles {
			f.Close()
		}
		return Result{}, fmt.Errorf("start %s: %w", filepath.Base(e.Binary), err)
	}
	pw.Close()
	for _, f := range e.ExtraFiles {
		f.Close()
	}
	pgid := cmd.Process.Pid
	setFileLimits(pgid, lim.FileSize)

	var (
		mu     sync.Mutex // protects killed
		killed string
	)
	kill := func(why string) {
		mu.Lock()
		if killed == "" {
			killed = why
		}
		mu.Unlock()
		syscall.Kill(-pgid, syscall.SIGKILL)
	}

	// Read the output, keeping up to lim.Output and killing a flood. The
	// output is converted to events as it arrives, so each event carries
	// the time it really happened (how long a test ran before a timeout
	// killed it, say).
	var out, events bytes.Buffer
	conv := test2json.NewConverter(&events, e.Package, test2json.Timestamp)
	truncated := false
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 32*1024)
		var total int64
		for {
			n, err := pr.Read(buf)
			total += int64(n)
			if keep := lim.Output - int64(out.Len()); keep > 0 {
				kept := buf[:min(int64(n), keep)]
				out.Write(kept)
				conv.Write(kept)
			}
			if total > lim.Output {
				truncated = true
			}
			if total > 8*lim.Output {
				kill(fmt.Sprintf("output limit (%s)", bytesString(8*lim.Output)))
			}
			if err != nil {
				return
			}
		}
	}()

	// Watch time and memory until the binary exits.
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	hard := time.NewTimer(lim.Time + lim.Grace)
	defer hard.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
	var peak int64
loop:
	for {
		select {
		case waitErr = <-waitDone:
			break loop
		case <-hard.C:
			kill(fmt.Sprintf("time limit (%s)", lim.Time+lim.Grace))
		case <-ctx.Done():
			kill("cancelled")
		case <-tick.C:
			rss := groupRSS(pgid)
			peak = max(peak, rss)
			if rss > lim.Memory {
				kill(fmt.Sprintf("memory limit (%s)", bytesString(lim.Memory)))
			}
		}
	}
	// Whatever the binary started and left behind goes with it.
	left := GroupMembers(pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
	reapAdopted(left)
	<-readDone
	pr.Close()

	res := Result{Output: out.Bytes(), Truncated: truncated, Duration: time.Since(start), PeakRSS: peak}
	mu.Lock()
	res.Killed = killed
	mu.Unlock()
	res.Exit = exitCode(waitErr)
	if res.Killed != "" {
		res.Exit = -1
	}
	conv.Exited(waitErr)
	if err := conv.Close(); err != nil {
		return res, err
	}
	res.Events, err = ParseEvents(&events)
	if err != nil {
		return res, err
	}
	return res, nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1
		}
		return ee.ExitCode()
	}
	return -1
}

// ParseEvents reads a `go test -json` stream.
func ParseEvents(r io.Reader) ([]diagnose.Event, error) {
	var events []diagnose.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		var ev diagnose.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("read test2json event %q: %w", sc.Text(), err)
		}
		events = append(events, ev)
	}
	return events, sc.Err()
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
