package renderfarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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
	dieEnv         = "RENDERFARM_DIE_AT" // frame numbers at which a worker process dies: "2,5"
	workerLifetime = 20 * time.Second    // a worker exits after this, whatever happens

	liveCap  = 32  // the test launcher refuses to run more processes than this at once
	startCap = 100 // or to start more than this in one test

	// holdWait bounds how long a test holds the workers' answers, waiting
	// for as many frames to render at once as Farm.Workers allows, when the
	// farm never settles (see procWatch.settle).
	holdWait = 5 * time.Second
	// patience bounds every call of RenderAll.
	patience = 6 * time.Second
	// stuckFor is how long RenderAll's goroutines must all stay blocked in
	// the farm's own code, with nothing else of the farm running, for a
	// test to call it a deadlock before patience.
	stuckFor = 50 * time.Millisecond
)

func init() {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	// This process is a worker started by procWatch.launch. It renders
	// frames until its stdin closes, which also happens when the test
	// process dies; the timer makes sure it never outlives a stuck test.
	time.AfterFunc(workerLifetime, func() { os.Exit(3) })
	var in io.Reader = os.Stdin
	if die := os.Getenv(dieEnv); die != "" {
		in = &dyingReader{r: bufio.NewReader(os.Stdin), at: strings.Split(die, ","), die: func() { os.Exit(1) }}
	}
	if err := Serve(in, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "renderfarm worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// A dyingReader is a worker process's stdin that ends the process (die),
// with no answer, when it is sent one of the frames numbered in at: a
// renderer that crashes partway.
type dyingReader struct {
	r   *bufio.Reader
	at  []string
	die func()
}

func (d *dyingReader) Read(p []byte) (int, error) {
	line, err := d.r.ReadString('\n')
	if n, _, _ := strings.Cut(line, " "); slices.Contains(d.at, n) {
		d.die()
	}
	return copy(p, line), err // lines are far shorter than p
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

// TestRenderAll renders frames on farms of several sizes, from one worker
// to more workers than frames, and checks that at most Workers processes
// ran at once, that as many frames rendered at once as Workers allows,
// that every process was waited for, and that the images are right and in
// order. The first farm runs real worker processes; the others simulated
// ones, which start in microseconds.
func TestRenderAll(t *testing.T) {
	for i, tt := range []struct{ workers, frames int }{{3, 4}, {1, 3}, {2, 5}, {5, 3}, {3, 0}} {
		others := goleak.IgnoreCurrent() // goroutines left by earlier tests are theirs
		w := newProcWatch(t, tt.workers, watchOpts{target: min(tt.workers, tt.frames), simulated: i > 0})
		farm := &Farm{Launch: w.launch, Workers: tt.workers}
		frames := testFrames(tt.frames)

		images, err, ok := w.renderAll(t.Context(), farm, frames)
		if !ok {
			return
		}
		s := w.stats()
		if s.maxLive > tt.workers {
			t.Errorf("overspawn: %d worker processes were running at once; Farm.Workers is %d, so at most %d may run at the same time (Python: ProcessPoolExecutor(max_workers=%d)); %d processes were started for %d frames, launched at %s",
				s.maxLive, tt.workers, tt.workers, tt.workers, s.started, tt.frames, s.caller)
		} else if want := min(tt.workers, tt.frames); s.maxRendering < want {
			t.Errorf("serialized: at most %d of %d frames were rendering at once; with Farm.Workers = %d, %d frames should render at the same time, each in its own worker process",
				s.maxRendering, tt.frames, tt.workers, want)
		}
		w.checkWaited()
		if assert.NoError(t, err, "RenderAll(%d frames) with Workers: %d returned an error", tt.frames, tt.workers) && assert.Len(t, images, len(frames), "one image per frame") {
			for i, f := range frames {
				assert.Equal(t, Render(f), images[i], "images[%d]: images must be in frame order", i)
			}
		}
		w.stop()
		goleak.VerifyNone(t, others)
		if t.Failed() {
			return
		}
	}
}

// TestRenderAllCancelled cancels RenderAll's context, before the call and
// while frames render (the launcher's processes die with the context), and
// checks that RenderAll returns an error, the context's own when it was
// cancelled before the call, and leaves nothing behind.
func TestRenderAllCancelled(t *testing.T) {
	others := goleak.IgnoreCurrent()
	w := newProcWatch(t, 3, watchOpts{simulated: true})
	farm := &Farm{Launch: w.launch, Workers: 3}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err, ok := w.renderAll(ctx, farm, testFrames(6))
	if !ok {
		return
	}
	assert.ErrorIs(t, err, context.Canceled, "RenderAll with a cancelled context must return the context's error")
	w.checkWaited()
	w.stop()
	goleak.VerifyNone(t, others)

	// Cancelled once two frames are rendering in real worker processes,
	// their answers held back.
	others = goleak.IgnoreCurrent()
	w = newProcWatch(t, 2, watchOpts{target: 2, cancelAtTarget: true})
	farm = &Farm{Launch: w.launch, Workers: 2}
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go func() { // exits once two frames render, or the test is over
		select {
		case <-w.target:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err, ok = w.renderAll(ctx, farm, testFrames(4))
	if !ok {
		return
	}
	assert.Error(t, err, "RenderAll whose context was cancelled while frames rendered must return an error")
	if s := w.stats(); s.maxLive > 2 {
		t.Errorf("overspawn: %d worker processes were running at once; Farm.Workers is 2, launched at %s", s.maxLive, s.caller)
	}
	w.checkWaited()
	w.stop()
	goleak.VerifyNone(t, others)
}

// TestRenderAllWorkerDies has worker processes crash partway: a worker
// process exits, without an answer, when it is sent one of the frames in
// die. RenderAll must return an error, wait for every process and leave
// no goroutine behind, however many workers die. The first farm runs real
// worker processes; the others simulated ones.
func TestRenderAllWorkerDies(t *testing.T) {
	for i, tt := range []struct {
		workers, frames int
		die             []int
	}{{1, 2, []int{1}}, {3, 5, []int{3}}, {2, 5, []int{1, 3}}} {
		others := goleak.IgnoreCurrent()
		w := newProcWatch(t, tt.workers, watchOpts{dieAt: tt.die, simulated: i > 0})
		farm := &Farm{Launch: w.launch, Workers: tt.workers}
		_, err, ok := w.renderAll(t.Context(), farm, testFrames(tt.frames))
		if !ok {
			return
		}
		assert.Error(t, err, "RenderAll(%d frames) with Workers: %d, whose worker process dies at frame %v, must return an error", tt.frames, tt.workers, tt.die)
		if s := w.stats(); s.maxLive > tt.workers {
			t.Errorf("overspawn: %d worker processes were running at once; Farm.Workers is %d, launched at %s", s.maxLive, tt.workers, s.caller)
		}
		w.checkWaited()
		w.stop()
		goleak.VerifyNone(t, others)
		if t.Failed() {
			return
		}
	}
}

// TestRenderAllLaunchFails has the launcher fail: the second call of
// Launch, or every one. RenderAll must return an error that wraps the
// launcher's, wait for the processes it did start, and leave no goroutine
// behind.
func TestRenderAllLaunchFails(t *testing.T) {
	for _, tt := range []struct {
		workers, frames int
		fail            func(n int) bool // whether the nth call of Launch (from 1) fails
		what            string
	}{
		{3, 5, func(n int) bool { return n == 2 }, "the second call of Launch fails"},
		{2, 4, func(int) bool { return true }, "every call of Launch fails"},
	} {
		others := goleak.IgnoreCurrent()
		w := newProcWatch(t, tt.workers, watchOpts{failLaunch: tt.fail, simulated: true})
		farm := &Farm{Launch: w.launch, Workers: tt.workers}
		_, err, ok := w.renderAll(t.Context(), farm, testFrames(tt.frames))
		if !ok {
			return
		}
		if w.stats().failed > 0 { // a farm that launches once never meets a second call that fails
			assert.ErrorIs(t, err, errNoCore, "RenderAll(%d frames) with Workers: %d, where %s, must return the launcher's error", tt.frames, tt.workers, tt.what)
		}
		w.checkWaited()
		w.stop()
		goleak.VerifyNone(t, others)
		if t.Failed() {
			return
		}
	}
}

// errNoCore is the test launcher's error when told to fail.
var errNoCore = errors.New("test launcher: no core to spare")

// renderAll calls farm.RenderAll, bounded: it gives up when RenderAll's
// goroutines are all blocked in the farm's code for stuckFor with nothing
// else of the farm running, or after patience, and fails the test.
func (w *procWatch) renderAll(ctx context.Context, farm *Farm, frames []Frame) ([]Image, error, bool) {
	w.t.Helper()
	type result struct {
		images []Image
		err    error
	}
	done := make(chan result, 1) // buffered: the goroutine ends even if the test gave up
	ids := make(chan int)
	go func() {
		ids <- goid()
		images, err := farm.RenderAll(ctx, frames)
		w.mu.Lock()
		w.returned = true
		w.mu.Unlock()
		done <- result{images, err}
	}()
	id := <-ids
	deadline := time.Now().Add(patience)
	var stuckSince time.Time
	for pause := 100 * time.Microsecond; ; pause = min(2*pause, 10*time.Millisecond) {
		select {
		case r := <-done:
			return r.images, r.err, true
		case <-time.After(pause):
		}
		gs := goroutines()
		w.settle(gs)
		now := time.Now()
		if stuck(gs, id) {
			if stuckSince.IsZero() {
				stuckSince = now
			} else if now.Sub(stuckSince) >= stuckFor {
				w.t.Errorf("deadlock: RenderAll(%d frames) with Workers: %d can never return: its goroutines are blocked in the farm's code, waiting for each other, and no worker process is left to answer them. Where they wait:\n%s",
					len(frames), farm.Workers, farmGoroutines(gs))
				return nil, nil, false
			}
		} else {
			stuckSince = time.Time{}
		}
		if now.After(deadline) {
			w.t.Errorf("deadlock: RenderAll(%d frames) with Workers: %d has not returned after %v. Its goroutines:\n%s",
				len(frames), farm.Workers, patience, farmGoroutines(gs))
			return nil, nil, false
		}
	}
}

// --- the test's launcher --------------------------------------------------

// A procWatch is the test's Launcher: it starts real worker processes and
// watches how many run at once, how many frames render at once, and
// whether RenderAll waited for each process before it returned.
//
// The watch alone waits for a process (os/exec's Wait): a goroutine per
// process reaps it as soon as it exits, and a Worker's Close waits for that.
//
// To make overlap certain on a loaded machine, it can hold the workers'
// answers: a held answer is not delivered until the farm has settled with
// as many frames rendering at once as the test wants (target), or short
// of them (see settle), until more processes run than Workers (the farm
// overspawned), or until holdWait has passed (the farm never settles). A
// process that dies is never held: its stdout ends at once.
type procWatch struct {
	t       *testing.T
	exe     string
	workers int           // Farm.Workers: the most processes allowed at once
	opts    watchOpts     // read-only
	release chan struct{} // closed when held answers may go
	target  chan struct{} // closed when the hold ends (cancel mode) or the answers are released

	launches sync.WaitGroup // calls of launch in progress

	mu           sync.Mutex // protects the fields below
	stopped      bool       // the test is over: launch refuses
	released     bool       // release is closed
	reached      bool       // target is closed
	returned     bool       // RenderAll returned
	calls        int        // calls of launch
	failed       int        // calls of launch that failed as told (opts.failLaunch)
	launching    int        // calls of launch in progress
	short        int        // polls in a row that found the farm settled short of target
	live         int        // processes started and not yet exited
	maxLive      int        // the most processes live at once
	rendering    int        // frames sent to workers and not yet answered
	maxRendering int        // the most frames rendering at once
	procs        []*proc    // every process started, in start order
	caller       string     // where Launch was first called from, "file.go:line"
	holdTimer    *time.Timer
}

// watchOpts says how a procWatch behaves.
type watchOpts struct {
	// simulated: worker processes are goroutines behind two pipes, which
	// start in microseconds, instead of this test binary in worker mode.
	// To a Worker, and so to the farm, they look the same.
	simulated  bool
	target     int            // hold answers until this many frames render at once; 0 or 1 holds nothing
	dieAt      []int          // frame numbers at which worker processes die
	failLaunch func(int) bool // whether the nth call of Launch (from 1) fails
	// cancelAtTarget: when the hold ends, close target and release
	// nothing, for the test to cancel RenderAll's context; the answers
	// held then never arrive.
	cancelAtTarget bool
}

// A proc is one worker process started by a procWatch: a real one, or one
// simulated by a goroutine behind two pipes.
type proc struct {
	name   string         // "worker process 3 (pid 1234)"
	stdin  io.WriteCloser // the write end of its stdin, closed by stop
	stdout io.ReadCloser  // the read end of its stdout, closed by stop
	kill   func()         // kills it; it then exits soon
	exited chan struct{}  // closed when the watch has reaped it
	err    error          // how it exited, once exited is closed
	waited bool           // RenderAll waited for it (Close); protected by procWatch.mu
	late   bool           // it was waited for after RenderAll returned
}

// newProcWatch returns a launcher for a farm of workers.
func newProcWatch(t *testing.T, workers int, opts watchOpts) *procWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &procWatch{t: t, exe: exe, workers: workers, opts: opts,
		release: make(chan struct{}), target: make(chan struct{})}
	if opts.target <= 1 {
		w.reachLocked()
	} else {
		w.holdTimer = time.AfterFunc(holdWait, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if opts.cancelAtTarget {
				w.reachLocked()
			} else {
				w.releaseLocked()
			}
		})
	}
	t.Cleanup(w.stop)
	return w
}

// launch is a Launcher.
func (w *procWatch) launch(ctx context.Context) (*Worker, error) {
	_, file, line, _ := runtime.Caller(1)
	w.mu.Lock()
	if w.caller == "" {
		w.caller = fmt.Sprintf("%s:%d", filepath.Base(file), line)
	}
	w.calls++
	var err error
	switch {
	case w.stopped:
		err = errors.New("test launcher: the test is over")
	case w.opts.failLaunch != nil && w.opts.failLaunch(w.calls):
		err = errNoCore
		w.failed++
	case w.live >= liveCap || len(w.procs) >= startCap:
		err = fmt.Errorf("test launcher: refusing to run more than %d worker processes at once or %d in all", liveCap, startCap)
	default:
		w.launches.Add(1) // stop waits for this launch
		w.launching++
	}
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer w.launches.Done()
	defer func() {
		w.mu.Lock()
		w.launching--
		w.mu.Unlock()
	}()

	start := w.start
	if w.opts.simulated {
		start = w.simulate
	}
	p, wait, err := start(ctx)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.procs = append(w.procs, p)
	p.name = fmt.Sprintf("worker process %d (%s)", len(w.procs), p.name)
	w.live++
	w.maxLive = max(w.maxLive, w.live)
	if w.live > w.workers && !w.opts.cancelAtTarget {
		w.releaseLocked() // overspawn seen: no need to hold anyone any longer
	}
	go func() { // the only wait for this process; exits when the process does
		err := wait()
		w.mu.Lock()
		p.err = err
		w.live--
		w.mu.Unlock()
		close(p.exited)
	}()
	reap := func() error {
		<-p.exited
		w.mu.Lock()
		defer w.mu.Unlock()
		if !p.waited {
			p.waited, p.late = true, w.returned
		}
		return p.err
	}
	return NewWorker(&countingWriter{w, p.stdin}, &heldReader{w, p}, reap), nil
}

// start starts one worker process, this test binary in worker mode. wait
// waits for it to exit.
func (w *procWatch) start(ctx context.Context) (p *proc, wait func() error, err error) {
	cmd := exec.CommandContext(ctx, w.exe, "-test.run=^$")
	var die []string
	for _, n := range w.opts.dieAt {
		die = append(die, strconv.Itoa(n))
	}
	cmd.Env = append(os.Environ(),
		workerEnv+"=1",
		dieEnv+"="+strings.Join(die, ","),
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	// Pipes of its own, not StdinPipe and StdoutPipe: Wait then closes
	// nothing the farm may still read.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, nil, err
	}
	p = &proc{
		name:   fmt.Sprintf("pid %d", cmd.Process.Pid),
		stdin:  inW,
		stdout: outR,
		kill:   func() { cmd.Process.Kill() }, // an error means it has exited already
		exited: make(chan struct{}),
	}
	return p, cmd.Wait, nil
}

// errKilled is how a simulated worker process ends when it is killed.
var errKilled = errors.New("signal: killed (simulated)")

// simulate starts a simulated worker process: a goroutine that serves
// frames from one pipe to another, as a worker process does from its stdin
// to its stdout. Like a process started with exec.CommandContext, it is not
// started if ctx is done, and is killed when ctx is done.
func (w *procWatch) simulate(ctx context.Context) (p *proc, wait func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var at []string
	for _, n := range w.opts.dieAt {
		at = append(at, strconv.Itoa(n))
	}
	var in io.Reader = inR
	if len(at) > 0 {
		in = &dyingReader{r: bufio.NewReader(inR), at: at, die: func() { panic(errDied) }}
	}
	kill := func() {
		inR.CloseWithError(errKilled)
		outW.CloseWithError(errKilled)
	}
	exited := make(chan error, 1)
	go func() { // the simulated process: exits at the end of its stdin, when it dies, or when killed
		exited <- func() (err error) {
			defer func() {
				if recover() != nil {
					err = errors.New("exit status 1 (simulated)")
				}
				inR.CloseWithError(err) // a dead process reads nothing more
				outW.CloseWithError(err)
			}()
			return Serve(in, outW)
		}()
	}()
	stop := context.AfterFunc(ctx, kill)
	p = &proc{name: "simulated", stdin: inW, stdout: outR, kill: kill, exited: make(chan struct{})}
	return p, func() error {
		err := <-exited
		stop()
		return err
	}, nil
}

// errDied ends a simulated worker process that is sent a frame it dies at.
var errDied = errors.New("died")

func (w *procWatch) releaseLocked() {
	if !w.released {
		w.released = true
		close(w.release)
	}
}

// settle ends the hold once the farm has settled: no Launch is in progress
// and every goroutine running the farm's code is blocked (gs), on a held
// answer or on the farm's own channels and locks. Nothing of the farm can
// move then until an answer arrives. A farm that would start more
// processes than Workers has started them all, so the overspawn is seen
// before any answer lets a process finish; and a farm with fewer than
// target frames rendering will not get there (seen twice in a row, to be
// sure), so holding its answers longer proves nothing.
func (w *procWatch) settle(gs map[int]gstack) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reached || w.opts.target <= 1 {
		return
	}
	settled := w.launching == 0
	for _, g := range gs {
		if g.inLab && !g.parked() {
			settled = false
		}
	}
	switch {
	case !settled:
		w.short = 0
	case w.rendering >= w.opts.target:
		w.reachLocked()
	default:
		if w.short++; w.short >= 2 {
			w.reachLocked()
		}
	}
}

// reachLocked closes target and, unless the test is to cancel, releases
// the held answers.
func (w *procWatch) reachLocked() {
	if !w.reached {
		w.reached = true
		close(w.target)
	}
	if !w.opts.cancelAtTarget {
		w.releaseLocked()
	}
}

// watchStats is what a procWatch saw.
type watchStats struct {
	maxLive, maxRendering, started int
	failed                         int // calls of Launch that failed as told
	caller                         string
}

func (w *procWatch) stats() watchStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return watchStats{w.maxLive, w.maxRendering, len(w.procs), w.failed, w.caller}
}

// checkWaited reports every worker process that RenderAll did not wait for
// before it returned.
func (w *procWatch) checkWaited() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var left []string
	for _, p := range w.procs {
		if p.waited && !p.late {
			continue
		}
		state := "still running"
		select {
		case <-p.exited:
			state = "exited"
		default:
		}
		left = append(left, fmt.Sprintf("%s is %s", p.name, state))
	}
	if len(left) > 0 {
		w.t.Errorf("leak: RenderAll returned but %d of its %d worker processes had not been waited for (Python: a process that was never joined):\n\t%s\nWorker.Close stops a worker process and waits for it",
			len(left), len(w.procs), strings.Join(left, "\n\t"))
	}
}

// stop ends the test's use of the watch: it refuses further launches,
// releases held answers, kills every process still running and waits until
// the watch has reaped them all.
func (w *procWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	w.releaseLocked()
	if w.holdTimer != nil {
		w.holdTimer.Stop()
	}
	w.mu.Unlock()
	w.launches.Wait() // no process starts after this
	w.mu.Lock()
	procs := slices.Clone(w.procs)
	w.mu.Unlock()
	for _, p := range procs {
		p.kill()
		<-p.exited
		p.stdin.Close()
		p.stdout.Close()
	}
}

// A countingWriter is a worker's stdin: each line written is a frame
// starting to render.
type countingWriter struct {
	w *procWatch
	io.WriteCloser
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	w := cw.w
	w.mu.Lock()
	w.rendering += strings.Count(string(p), "\n")
	w.maxRendering = max(w.maxRendering, w.rendering)
	w.mu.Unlock()
	return cw.WriteCloser.Write(p)
}

// A heldReader is a worker's stdout: each line read is a frame finished.
// Reads wait until the procWatch releases held answers, or the process has
// exited. In cancel mode, an answer held until the process was killed never
// arrives.
type heldReader struct {
	w *procWatch
	p *proc
}

func (hr *heldReader) Read(b []byte) (int, error) {
	select {
	case <-hr.w.release:
	case <-hr.p.exited:
		if hr.w.opts.cancelAtTarget {
			return 0, io.ErrUnexpectedEOF
		}
	}
	n, err := hr.p.stdout.Read(b)
	hr.w.mu.Lock()
	hr.w.rendering -= strings.Count(string(b[:n]), "\n")
	hr.w.mu.Unlock()
	return n, err
}

// --- reading the goroutines' stacks --------------------------------------

// thisPackage is "<import path>." of the package under test.
var thisPackage = func() string {
	pc, _, _, _ := runtime.Caller(0)
	fn := runtime.FuncForPC(pc).Name() // "<import path>.init.func1" or the like
	slash := strings.LastIndex(fn, "/")
	return fn[:slash+1+strings.Index(fn[slash+1:], ".")+1]
}()

// A gstack is one goroutine as runtime.Stack prints it.
type gstack struct {
	state string // what it waits for: "chan send", "running", ...
	text  string // the goroutine's stack, as printed
	inLab bool   // it runs the farm's code (renderfarm.go, worker.go)
	// ownLab: its innermost frame of this package is in the farm's code,
	// not in the tests (such as the test launcher and its pipes).
	ownLab bool
}

func (g gstack) parked() bool {
	switch g.state {
	case "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock", "semacquire",
		"chan send", "chan receive", "select", "select (no cases)", "sync.Cond.Wait",
		"nil chan send", "nil chan receive", "sync.WaitGroup.Wait":
		return true
	}
	return false
}

// goroutines returns every goroutine of the process, by id.
func goroutines() map[int]gstack {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	gs := map[int]gstack{}
	for text := range strings.SplitSeq(string(buf), "\n\n") {
		header, frames, _ := strings.Cut(text, "\n")
		fields := strings.SplitN(strings.TrimPrefix(header, "goroutine "), " ", 2)
		if len(fields) < 2 {
			continue
		}
		id, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		state := strings.TrimSuffix(strings.TrimPrefix(fields[1], "["), "]:")
		state, _, _ = strings.Cut(state, ",")
		g := gstack{state: strings.TrimSuffix(state, " (durable)"), text: text}
		lines := strings.Split(frames, "\n")
		first := true
		for i := 0; i+1 < len(lines); i += 2 {
			if !strings.HasPrefix(lines[i], thisPackage) {
				continue
			}
			file := strings.TrimSpace(lines[i+1])
			file, _, _ = strings.Cut(file[strings.LastIndex(file, "/")+1:], ":")
			lab := !strings.HasSuffix(file, "_test.go")
			if first {
				g.ownLab, first = lab, false
			}
			g.inLab = g.inLab || lab
		}
		gs[id] = g
	}
	return gs
}

// stuck reports whether RenderAll (goroutine id) and every goroutine that
// runs the farm's code are blocked in the farm's own code: nothing of the
// farm is left that could wake them, and no test code holds them.
func stuck(gs map[int]gstack, id int) bool {
	if g, ok := gs[id]; !ok || !g.parked() || !g.ownLab {
		return false
	}
	for _, g := range gs {
		if g.inLab && !(g.parked() && g.ownLab) {
			return false
		}
	}
	return true
}

// farmGoroutines returns the stacks of the goroutines that run the farm's
// code, at most eight.
func farmGoroutines(gs map[int]gstack) string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(gs)) {
		if gs[id].inLab {
			out = append(out, gs[id].text)
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("...and %d more", len(out)-8))
	}
	return strings.Join(out, "\n\n")
}

// goid returns the id of the calling goroutine, as stack dumps print it.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)] // "goroutine 7 [running]:..."
	id, _ := strconv.Atoi(strings.Fields(string(buf))[1])
	return id
}
