package transcoder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests run a real tool: the test binary is its own transcoding tool.
// The test starter re-executes it with toolEnv set to a script, and init
// below turns such a process into a tool that follows it, writing its
// video and its log through real pipes.
//
// The tool reports each write on fd 3 before and after making it, so the
// test knows, from the parent and on every platform, when the tool is
// blocked writing to a full pipe.
const (
	toolEnv  = "TRANSCODER_TOOL" // the tool's script: see toolMain
	lifetime = 20 * time.Second  // the tool exits after this, whatever happens
	chunk    = 16 << 10          // the tool writes at most this much at a time

	// stall is how long the tool may stay blocked writing to a pipe that
	// Transcode is not reading, with nothing moving, before the test
	// calls it a deadlock.
	stall = 2 * time.Second
	// patience bounds every wait for Transcode, unless the test binary's
	// own deadline comes sooner (see bounded).
	patience = 20 * time.Second
)

// failLine is the last line a failing tool writes to its log.
const failLine = "error: unsupported codec hevc in trailer.mov"

func init() {
	if script, ok := os.LookupEnv(toolEnv); ok {
		os.Exit(toolMain(script))
	}
}

// toolMain is the main function of the tool started by toolWatch.start.
// The script is a list of steps separated by spaces:
//
//	o:N   write the next N bytes of the video to stdout
//	e:N   write the next N bytes of the log to stderr
//	fail  write failLine to stderr and exit with status 1
//	hang  stop and wait to be killed
//
// It exits with status 0 after the last step. It also exits when its stdin
// ends (the test is over, or died) and after lifetime.
func toolMain(script string) int {
	time.AfterFunc(lifetime, func() { os.Exit(3) })
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(4)
	}()
	progress := os.NewFile(3, "progress")
	video, log := newStreams(script)
	write := func(name string, f *os.File, b []byte, end int) {
		fmt.Fprintf(progress, "> %s %d\n", name, end)
		if _, err := f.Write(b); err != nil {
			os.Exit(5) // the test closed the pipe
		}
		fmt.Fprintf(progress, "< %s %d\n", name, end)
	}
	for _, step := range strings.Fields(script) {
		kind, arg, _ := strings.Cut(step, ":")
		n, _ := strconv.Atoi(arg)
		switch kind {
		case "o", "e":
			s, name, f := &video, "stdout", os.Stdout
			if kind == "e" {
				s, name, f = &log, "stderr", os.Stderr
			}
			for n > 0 {
				k := min(n, chunk)
				write(name, f, s.next(k), s.off)
				n -= k
			}
		case "fail":
			write("stderr", os.Stderr, []byte(failLine+"\n"), log.off+len(failLine)+1)
			return 1
		case "hang":
			fmt.Fprintln(progress, "hang")
			select {}
		}
	}
	return 0
}

// A stream is one of the tool's outputs: the video is pseudo-random bytes,
// the log is lines of progress, 64 bytes each.
type stream struct {
	data []byte // everything the stream will hold
	off  int    // bytes taken so far
}

// next returns the stream's next n bytes.
func (s *stream) next(n int) []byte {
	b := s.data[s.off : s.off+n]
	s.off += n
	return b
}

// newStreams returns the video and the log that script writes (but for
// the failLine of a failing tool). The tool and the tests compute the same
// bytes, only as many as the script needs.
func newStreams(script string) (video, log stream) {
	var nv, nl int
	for _, step := range strings.Fields(script) {
		kind, arg, _ := strings.Cut(step, ":")
		n, _ := strconv.Atoi(arg)
		switch kind {
		case "o":
			nv += n
		case "e":
			nl += n
		}
	}
	v := make([]byte, nv+8)
	for i := 0; i < nv; i += 8 {
		binary.LittleEndian.PutUint64(v[i:], uint64(i)*0x9e3779b97f4a7c15^0x5a5a5a5a)
	}
	// Lines of progress, 64 bytes each, numbered.
	const template = "frame=0000000 fps=29.97 q=28.0 size=000000000kB speed=1.02x    \n"
	l := make([]byte, nl+64)
	for i := 0; i*64 < nl; i++ {
		line := l[i*64 : i*64+64]
		copy(line, template)
		for j, n := 12, i; j >= 6; j, n = j-1, n/10 {
			line[j] = byte('0' + n%10)
		}
		for j, n := 44, i*3; j >= 36; j, n = j-1, n/10 {
			line[j] = byte('0' + n%10)
		}
	}
	return stream{data: v[:nv]}, stream{data: l[:nl]}
}

// expected returns what a script writes to stdout and to stderr.
func expected(script string) (video, log []byte) {
	v, l := newStreams(script)
	for _, step := range strings.Fields(script) {
		kind, arg, _ := strings.Cut(step, ":")
		n, _ := strconv.Atoi(arg)
		switch kind {
		case "o":
			video = append(video, v.next(n)...)
		case "e":
			log = append(log, l.next(n)...)
		case "fail":
			log = append(log, failLine+"\n"...)
		}
	}
	return video, log
}

// interleaved returns a script that writes video and log in turns, chunk
// by chunk, n bytes of each.
func interleaved(n int) string {
	var steps []string
	for ; n > 0; n -= chunk {
		steps = append(steps, fmt.Sprintf("o:%d e:%d", min(n, chunk), min(n, chunk)))
	}
	return strings.Join(steps, " ")
}

const (
	kib   = 1 << 10
	large = 512 * kib // much more than a pipe holds: 8 times a Linux pipe, 32 times a small macOS one
)

// TestTranscode runs the tool on jobs whose video and log have every mix
// of sizes: one much bigger than a pipe holds and the other small, both
// big, or both empty.
func TestTranscode(t *testing.T) {
	inParallel(t, []testCase{
		{"chatty log", fmt.Sprintf("e:%d o:%d e:64", large, 8*kib)},
		{"feature film", fmt.Sprintf("o:%d e:128", large)},
		{"feature film with a chatty log", interleaved(large)},
		{"silent tool", ""},
	}, func(t *testing.T, w *toolWatch) {
		res, err, ok := w.transcode(t.Context())
		if ok {
			video, log := expected(w.script)
			if err != nil {
				t.Errorf("Transcode returned %q; the tool exited with status 0, so it must not fail", err)
			}
			checkOutput(t, "video (the tool's stdout)", video, res.Video)
			checkOutput(t, "log (the tool's stderr)", log, res.Log)
		}
	})
}

// TestTranscodeFails runs a tool that fails after a long log.
func TestTranscodeFails(t *testing.T) {
	inParallel(t, []testCase{
		{"long log", fmt.Sprintf("o:%d e:%d fail", 64*kib, large)},
	}, func(t *testing.T, w *toolWatch) {
		_, err, ok := w.transcode(t.Context())
		switch {
		case !ok:
		case err == nil:
			t.Errorf("Transcode returned no error; the tool exited with status 1, so it must fail")
		case !strings.Contains(err.Error(), failLine):
			t.Errorf("Transcode returned %q; its error must include the last line of the tool's log, %q", err, failLine)
		}
	})
}

// TestTranscodeCancelled cancels a job while the tool runs, and one
// before it starts.
func TestTranscodeCancelled(t *testing.T) {
	inParallel(t, []testCase{
		{"while the tool runs", "o:8192 e:640 hang"},
		{"before the tool starts", "o:8192 e:640"},
	}, func(t *testing.T, w *toolWatch) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if strings.HasSuffix(w.script, "hang") {
			w.onHang = cancel // once the tool has written what it will and hangs
		} else {
			cancel()
		}
		_, err, ok := w.transcode(ctx)
		if ok && !errors.Is(err, context.Canceled) {
			t.Errorf("Transcode returned %v; when ctx is done, it must return an error that wraps ctx.Err() (context.Canceled)", err)
		}
	})
}

// A testCase is a tool's script, and the subtest's name.
type testCase struct {
	name, script string
}

// inParallel runs test once for each case, in subtests that run at the
// same time (each starts a process, which takes a while), each with a
// toolWatch for the case's script. Once they have all ended and stopped
// their tools, it checks that no goroutine was left behind.
//
// The subtests are started from goroutines of their own rather than with
// t.Parallel, which would run at most GOMAXPROCS of them at a time.
func inParallel(t *testing.T, cases []testCase, test func(*testing.T, *toolWatch)) {
	others := goleak.IgnoreCurrent() // goroutines left by earlier tests are theirs
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(tc.name, func(t *testing.T) {
				w := newToolWatch(t, tc.script)
				test(t, w)
				w.stop()
			})
		}()
	}
	wg.Wait()
	goleak.VerifyNone(t, others)
}

// checkOutput compares one of Transcode's outputs with what the tool wrote.
func checkOutput(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Errorf("the %s is wrong: the tool wrote %d bytes, Transcode returned %d, the same up to byte %d; each output must come back whole and apart from the other",
		what, len(want), len(got), i)
}

// A toolWatch is a test's Starter: it starts one real tool process and
// watches both sides of its pipes: what the tool writes, and what
// Transcode reads.
type toolWatch struct {
	t      *testing.T
	exe    string
	script string
	onHang func()        // called when the tool reaches a hang step
	events chan struct{} // receives a value (if none is pending) whenever something moves

	mu           sync.Mutex // protects the fields below
	proc         *Process
	cmd          *exec.Cmd
	pipes        []*pipeReader     // the Process's own pipe readers
	stdin        *os.File          // the write end of the tool's stdin
	toolGone     chan struct{}     // closed when the tool's progress pipe has ended
	started      bool              // the tool has reported something
	blocked      string            // "stdout" or "stderr" while the tool is in a write to it
	written      map[string]int    // bytes the tool has written, or is writing, to each pipe
	read         map[string]int    // bytes Transcode has read from each pipe
	reading      map[string]string // where Transcode is reading each pipe from, while it is
	waiting      string            // where Transcode called Wait from, while it waits
	lastActivity time.Time         // when the tool or Transcode last moved
}

func newToolWatch(t *testing.T, script string) *toolWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &toolWatch{
		t: t, exe: exe, script: script, events: make(chan struct{}, 1),
		written: map[string]int{}, read: map[string]int{}, reading: map[string]string{},
	}
	t.Cleanup(w.stop)
	return w
}

// notify records activity (if moved) and wakes the test.
func (w *toolWatch) notify(moved bool) {
	if moved {
		w.mu.Lock()
		w.lastActivity = time.Now()
		w.mu.Unlock()
	}
	select {
	case w.events <- struct{}{}:
	default:
	}
}

// start is a Starter: it runs the test binary as the tool.
func (w *toolWatch) start(ctx context.Context, job Job) (*Process, error) {
	w.mu.Lock()
	if w.proc != nil {
		w.mu.Unlock()
		return nil, fmt.Errorf("test starter: the tool was already started for this job")
	}
	w.mu.Unlock()
	progressR, progressW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		progressR.Close()
		progressW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, w.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		toolEnv+"="+w.script,
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stdin = stdinR
	cmd.ExtraFiles = []*os.File{progressW}
	p, err := Start(ctx, cmd)
	progressW.Close()
	stdinR.Close()
	if err != nil {
		progressR.Close()
		stdinW.Close()
		return nil, err
	}

	w.mu.Lock()
	w.proc, w.cmd, w.stdin = p, cmd, stdinW
	w.pipes = []*pipeReader{p.Stdout.(*pipeReader), p.Stderr.(*pipeReader)}
	w.toolGone = make(chan struct{})
	w.mu.Unlock()
	go w.watchProgress(progressR)

	p.Stdout = &watchedReader{w, "stdout", p.Stdout}
	p.Stderr = &watchedReader{w, "stderr", p.Stderr}
	wait := p.wait
	p.wait = func() error {
		w.mu.Lock()
		w.waiting = learnerLine()
		w.mu.Unlock()
		w.notify(true)
		err := wait()
		w.mu.Lock()
		w.waiting = ""
		w.mu.Unlock()
		w.notify(true)
		return err
	}
	return p, nil
}

// watchProgress reads the tool's reports until the tool exits.
func (w *toolWatch) watchProgress(r *os.File) {
	w.mu.Lock()
	gone := w.toolGone
	w.mu.Unlock()
	defer close(gone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var dir, name string
		var end int
		line := sc.Text()
		hang := line == "hang"
		if !hang {
			fmt.Sscanf(line, "%s %s %d", &dir, &name, &end)
		}
		w.mu.Lock()
		w.started = true
		switch dir {
		case ">":
			w.blocked, w.written[name] = name, end
		case "<":
			w.blocked = ""
		}
		w.mu.Unlock()
		w.notify(true)
		if hang && w.onHang != nil {
			w.onHang()
		}
	}
	w.notify(true)
}

// A watchedReader is one of the tool's pipes, as Transcode sees it.
type watchedReader struct {
	w    *toolWatch
	name string
	r    io.Reader
}

func (wr *watchedReader) Read(b []byte) (int, error) {
	w := wr.w
	w.mu.Lock()
	w.reading[wr.name] = learnerLine()
	w.mu.Unlock()
	n, err := wr.r.Read(b)
	w.mu.Lock()
	delete(w.reading, wr.name)
	w.read[wr.name] += n
	w.mu.Unlock()
	w.notify(n > 0 || err != nil)
	return n, err
}

// learnerLine returns "file.go:line" of the innermost caller in the
// transcoder's own code (not the tests, not tool.go).
func learnerLine() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		base := filepath.Base(f.File)
		if strings.Contains(f.Function, "/transcoder.") && !strings.HasSuffix(base, "_test.go") && base != "tool.go" {
			return fmt.Sprintf("%s:%d", base, f.Line)
		}
		if !more {
			return "an unknown place"
		}
	}
}

// transcode calls Transcode for the watch's job. It reports false, having
// failed the test, if Transcode deadlocked with the tool or did not return
// within patience, or returned before the tool was reaped.
func (w *toolWatch) transcode(ctx context.Context) (Result, error, bool) {
	w.t.Helper()
	tr := &Transcoder{Start: w.start}
	type result struct {
		res    Result
		err    error
		reaped bool // the tool had been reaped when Transcode returned
	}
	done := make(chan result, 1) // buffered: the goroutine ends even if the test gave up
	go func() {
		res, err := tr.Transcode(ctx, Job{Input: "trailer.mov", Format: "webm"})
		w.mu.Lock()
		p := w.proc
		w.mu.Unlock()
		done <- result{res, err, p == nil || isClosed(p.reaped)}
	}()
	limit := bounded(w.t, patience)
	deadline := time.After(limit)
	var checked time.Time // the last activity after which a stall was checked for
	for {
		w.mu.Lock()
		started, last := w.started, w.lastActivity
		w.mu.Unlock()
		// Check for a stall once per quiet spell: stall after the last
		// activity, and not again until something moves.
		var stallC <-chan time.Time
		if started && !last.Equal(checked) {
			stallC = time.After(stall - time.Since(last))
		}
		select {
		case r := <-done:
			if !r.reaped {
				w.t.Errorf("leak: Transcode returned before the tool had exited and been reaped (Process.Wait): a process nobody waits for stays behind as a zombie")
				return r.res, r.err, false
			}
			return r.res, r.err, true
		case <-w.events:
		case <-stallC:
			checked = last
			if msg := w.deadlocked(); msg != "" {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				w.t.Errorf("deadlock: %s\nAll goroutines:\n%s", msg, buf)
				w.kill()
				select {
				case <-done:
				case <-time.After(patience):
					w.t.Fatalf("Transcode has not returned %v after its tool was killed", patience)
				}
				return Result{}, nil, false
			}
		case <-deadline:
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			w.t.Fatalf("Transcode has not returned after %v; %s; all goroutines:\n%s", limit, w.describe(), buf)
		}
	}
}

// deadlocked says how Transcode and the tool wait for each other, if they
// do: the tool has been blocked writing to a pipe that Transcode is not
// reading for stall, and nothing moved.
func (w *toolWatch) deadlocked() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.lastActivity) < stall || w.blocked == "" || w.reading[w.blocked] != "" {
		return ""
	}
	what := map[string]string{"stdout": "video", "stderr": "log"}
	var doing []string
	for _, name := range []string{"stdout", "stderr"} {
		if at := w.reading[name]; at != "" {
			doing = append(doing, fmt.Sprintf("waits to read more of the tool's %s (Read called at %s), which the tool will not write to or close until its %s has been read",
				name, at, w.blocked))
		}
	}
	if w.waiting != "" {
		doing = append(doing, fmt.Sprintf("waits for the tool to exit (Wait called at %s), which it cannot do until its %s has been read", w.waiting, w.blocked))
	}
	if len(doing) == 0 {
		doing = append(doing, fmt.Sprintf("is not reading the tool's %s (see where its goroutines are below)", w.blocked))
	}
	return fmt.Sprintf("Transcode and the tool wait for each other: the tool is blocked writing its %s to its %s, whose pipe is full (the tool has written %d KiB to it, counting the write it is blocked in; Transcode has read %d KiB), while Transcode %s. Nothing has moved for %v; the tool has been killed",
		what[w.blocked], w.blocked, w.written[w.blocked]>>10, w.read[w.blocked]>>10, strings.Join(doing, ", and "), stall)
}

// kill kills the tool, if it was started.
func (w *toolWatch) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd != nil && !isClosed(w.proc.reaped) {
		w.cmd.Process.Kill() // safe while Wait runs in another goroutine
	}
}

// stop kills the tool, reaps it and closes its pipes. It is safe to call
// again.
func (w *toolWatch) stop() {
	w.kill()
	w.mu.Lock()
	p, pipes, stdin, gone := w.proc, w.pipes, w.stdin, w.toolGone
	w.mu.Unlock()
	if p == nil {
		return
	}
	stdin.Close()
	// Wait may run at the same time in a goroutine of Transcode: Process
	// makes that safe, and both return once the tool is reaped.
	p.Wait()
	for _, r := range pipes {
		r.close()
	}
	select {
	case <-gone:
	case <-time.After(patience):
		w.t.Errorf("the tool's progress pipe is still open %v after the tool was reaped", patience)
	}
}

// describe says what the tool and Transcode were doing.
func (w *toolWatch) describe() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil {
		return "the tool was never started"
	}
	state := "the tool is running"
	switch {
	case isClosed(w.proc.reaped):
		state = "the tool has been reaped"
	case isClosed(w.toolGone):
		state = "the tool has exited"
	case w.blocked != "":
		state = "the tool is writing to its " + w.blocked
	}
	return fmt.Sprintf("%s; it has written %d bytes to stdout and %d to stderr, Transcode has read %d and %d",
		state, w.written["stdout"], w.written["stderr"], w.read["stdout"], w.read["stderr"])
}

// bounded returns d, or less if the test binary's deadline (go test
// -timeout) would come first: a wait that gives up says more than the
// test binary's timeout.
func bounded(t *testing.T, d time.Duration) time.Duration {
	if dl, ok := t.Deadline(); ok {
		d = min(d, time.Until(dl)-3*time.Second)
	}
	return max(d, time.Second)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
