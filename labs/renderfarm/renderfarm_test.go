package renderfarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// The tests run real worker processes: the test binary is its own worker.
// The test launcher re-executes it with workerEnv set, and init below turns
// such a process into a worker that serves frames on stdin and stdout.
const (
	workerEnv      = "RENDERFARM_WORKER" // "1" in a worker process
	workerLifetime = 20 * time.Second    // a worker exits after this, whatever happens

	liveCap  = 32  // the test launcher refuses to run more processes than this at once
	startCap = 100 // or to start more than this in one test

	// quiet is how long the test waits, after the last worker process
	// started, before it decides that the farm has started all it will and
	// lets the held workers answer.
	quiet = 500 * time.Millisecond
	// patience is how long RenderAll may take before the test gives up.
	patience = 6 * time.Second
)

func init() {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	// This process is a worker started by procWatch.launch. It renders
	// frames until its stdin closes, which also happens when the test
	// process dies; the timer makes sure it never outlives a stuck test.
	time.AfterFunc(workerLifetime, func() { os.Exit(3) })
	if err := Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "renderfarm worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// testFrames returns the first n frames of a zoom into the Mandelbrot set.
func testFrames(n int) []Frame {
	frames := make([]Frame, n)
	size := 3.0
	for i := range frames {
		frames[i] = Frame{N: i, X: -0.743643887037151, Y: 0.13182590420533, Size: size}
		size *= 0.7
	}
	return frames
}

// TestRenderAll renders 12 frames on a farm of 3 workers and checks that at
// most 3 worker processes ran at once, that frames did render in parallel,
// that every process was reaped, and that the images are right and in order.
func TestRenderAll(t *testing.T) {
	others := goleak.IgnoreCurrent() // goroutines left by earlier tests are theirs
	const workers = 3
	frames := testFrames(12)
	w := newProcWatch(t, workers, true)
	farm := &Farm{Launch: w.launch, Workers: workers}

	images, err := w.renderAll(t.Context(), farm, frames)

	w.mu.Lock()
	maxLive, maxRendering, started := w.maxLive, w.maxRendering, len(w.procs)
	w.mu.Unlock()
	if maxLive > workers {
		t.Errorf("overspawn: %d worker processes were running at once; Farm.Workers is %d, so at most %d may run at the same time (Python: ProcessPoolExecutor(max_workers=%d)); %d processes were started for %d frames, launched at %s",
			maxLive, workers, workers, workers, started, len(frames), w.launchedFrom())
	}
	switch {
	case maxLive < 2:
		t.Errorf("serialized: only one worker process ran at a time, so the frames rendered one after another; with Farm.Workers = %d, %d frames should render in parallel, each in its own process",
			workers, workers)
	case maxRendering < 2:
		t.Errorf("serialized: %d worker processes ran, but only one frame was rendering at any time; with Farm.Workers = %d, %d frames should render in parallel",
			maxLive, workers, workers)
	}
	w.checkReaped()

	if assert.NoError(t, err, "RenderAll returned an error") && assert.Len(t, images, len(frames), "one image per frame") {
		for i, f := range frames {
			assert.Equal(t, Render(f), images[i], "images[%d]: images must be in frame order", i)
		}
	}

	w.stop()
	goleak.VerifyNone(t, others)
}

// TestRenderAllCancelled checks that RenderAll gives up on a cancelled
// context, with its error, and leaves no process behind.
func TestRenderAllCancelled(t *testing.T) {
	others := goleak.IgnoreCurrent()
	const workers = 3
	w := newProcWatch(t, workers, false)
	farm := &Farm{Launch: w.launch, Workers: workers}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	images, err := w.renderAll(ctx, farm, testFrames(6))

	assert.ErrorIs(t, err, context.Canceled, "RenderAll with a cancelled context must return the context's error")
	assert.Nil(t, images, "RenderAll with a cancelled context must return no images")
	w.checkReaped()
	w.stop()
	goleak.VerifyNone(t, others)
}

// renderAll calls farm.RenderAll, giving up after patience.
func (w *procWatch) renderAll(ctx context.Context, farm *Farm, frames []Frame) ([]Image, error) {
	w.t.Helper()
	type result struct {
		images []Image
		err    error
	}
	done := make(chan result, 1) // buffered: the goroutine ends even if the test gave up
	go func() {
		images, err := farm.RenderAll(ctx, frames)
		done <- result{images, err}
	}()
	select {
	case r := <-done:
		w.mu.Lock()
		w.returned = true
		w.mu.Unlock()
		return r.images, r.err
	case <-time.After(patience):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		w.t.Fatalf("deadlock: RenderAll has not returned after %v; its goroutines are stuck here:\n%s", patience, buf)
		return nil, nil
	}
}

// A procWatch is the test's Launcher: it starts real worker processes and
// watches how many run at once, how many frames render at once, and
// whether each process is reaped.
//
// To make overlap certain on a loaded machine, it can hold the workers: a
// held worker's answer is not delivered until the watch releases them all,
// which it does as soon as more than Workers processes are running (the
// farm overspawned), or when no worker process has been started for quiet
// (the farm has started all it will). After that nothing is held.
type procWatch struct {
	t       *testing.T
	exe     string
	workers int           // Farm.Workers: the most processes allowed at once
	release chan struct{} // closed when held workers may answer

	mu           sync.Mutex  // protects the fields below
	released     bool        // release is closed
	returned     bool        // RenderAll returned
	quietTimer   *time.Timer // releases after quiet with no process starting
	launching    int         // Launch calls in progress
	live         int         // processes started and not yet waited for
	maxLive      int         // the most processes live at once
	rendering    int         // frames sent to workers and not yet answered
	maxRendering int         // the most frames rendering at once
	procs        []*proc     // every process started, in start order
	caller       string      // where Launch was first called from, "file.go:line"
}

// A proc is one worker process started by a procWatch.
type proc struct {
	cmd    *exec.Cmd
	waited bool // Wait returned; protected by procWatch.mu
}

func newProcWatch(t *testing.T, workers int, hold bool) *procWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &procWatch{t: t, exe: exe, workers: workers, release: make(chan struct{})}
	if !hold {
		w.releaseLocked()
	}
	t.Cleanup(w.stop)
	return w
}

// launch is a Launcher.
func (w *procWatch) launch(ctx context.Context) (*Worker, error) {
	w.noteCaller()
	w.mu.Lock()
	if w.live >= liveCap || len(w.procs) >= startCap {
		w.mu.Unlock()
		return nil, fmt.Errorf("test launcher: refusing to run more than %d worker processes at once or %d in all", liveCap, startCap)
	}
	w.launching++
	w.mu.Unlock()

	cmd, stdin, stdout, err := w.start(ctx)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.launching--
	if w.launching == 0 && !w.released {
		if w.quietTimer == nil {
			w.quietTimer = time.AfterFunc(quiet, w.onQuiet)
		} else {
			w.quietTimer.Reset(quiet)
		}
	}
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd}
	w.procs = append(w.procs, p)
	w.live++
	w.maxLive = max(w.maxLive, w.live)
	if w.live > w.workers {
		w.releaseLocked() // overspawn seen: no need to hold anyone any longer
	}
	wait := func() error {
		err := cmd.Wait()
		w.mu.Lock()
		if !p.waited {
			p.waited = true
			w.live--
		}
		w.mu.Unlock()
		return err
	}
	return NewWorker(&countingWriter{w, stdin}, &heldReader{w, stdout}, wait), nil
}

// noteCaller remembers where the farm called Launch from (the first time),
// so a failure can point at that line of the farm's code.
func (w *procWatch) noteCaller() {
	_, file, line, ok := runtime.Caller(2)
	w.mu.Lock()
	defer w.mu.Unlock()
	if ok && w.caller == "" {
		w.caller = fmt.Sprintf("%s:%d", filepath.Base(file), line)
	}
}

// launchedFrom says where the farm called Launch from.
func (w *procWatch) launchedFrom() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.caller
}

// start starts one worker process: this test binary in worker mode.
func (w *procWatch) start(ctx context.Context) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	cmd := exec.CommandContext(ctx, w.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		workerEnv+"=1",
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, stdout, nil
}

// onQuiet runs when no worker process has started for quiet.
func (w *procWatch) onQuiet() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.launching == 0 {
		w.releaseLocked()
	}
}

func (w *procWatch) releaseLocked() {
	if !w.released {
		w.released = true
		close(w.release)
	}
}

// checkReaped reports every worker process that RenderAll left behind
// without waiting for it.
func (w *procWatch) checkReaped() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var left []string
	for i, p := range w.procs {
		if !p.waited {
			left = append(left, fmt.Sprintf("worker process %d (pid %d) is %s", i+1, p.cmd.Process.Pid, procState(p.cmd.Process.Pid)))
		}
	}
	if len(left) > 0 {
		w.t.Errorf("leak: RenderAll returned but %d of its %d worker processes were never waited for (Python: a process that was never joined):\n\t%s\nWorker.Close stops a worker process and waits for it",
			len(left), len(w.procs), strings.Join(left, "\n\t"))
	}
}

// procState says whether the process pid still runs or is a zombie.
func procState(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "still running or a zombie"
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return "a zombie (exited, never waited for)"
	}
	return "still running"
}

// stop releases any held worker, then kills and reaps every worker process
// the farm left behind.
func (w *procWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked()
	if w.quietTimer != nil {
		w.quietTimer.Stop()
	}
	for _, p := range w.procs {
		if p.waited {
			continue
		}
		p.cmd.Process.Kill()
		if !w.returned {
			// The test gave up on RenderAll, which may still call
			// Worker.Close: reap the process without touching p.cmd.
			p.cmd.Process.Wait()
			continue
		}
		p.cmd.Wait()
		p.waited = true
		w.live--
	}
}

// A countingWriter is a worker's stdin: each line written is a frame
// starting to render.
type countingWriter struct {
	w *procWatch
	io.WriteCloser
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	cw.w.mu.Lock()
	cw.w.rendering += bytes.Count(p, []byte("\n"))
	cw.w.maxRendering = max(cw.w.maxRendering, cw.w.rendering)
	cw.w.mu.Unlock()
	return cw.WriteCloser.Write(p)
}

// A heldReader is a worker's stdout: each line read is a frame finished.
// Reads wait until the procWatch releases held workers.
type heldReader struct {
	w *procWatch
	r io.Reader
}

func (hr *heldReader) Read(p []byte) (int, error) {
	<-hr.w.release
	n, err := hr.r.Read(p)
	hr.w.mu.Lock()
	hr.w.rendering -= bytes.Count(p[:n], []byte("\n"))
	hr.w.mu.Unlock()
	return n, err
}
