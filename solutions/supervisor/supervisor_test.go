package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests run real jobs: the test binary is its own job process, and a
// job's helper (the database an integration job starts) is the test binary
// again. The test starter re-executes it with jobEnv set to what the job
// does, and init below turns such a process into that job.
//
// A job reports to the test through pipes it holds open: the job process
// holds one, its helper another. The first line on a pipe says the process
// is ready; end of file says every process holding it has exited. That is
// how the tests see, from the parent and on every platform, whether a job
// and its helper still run.
const (
	jobEnv = "SUPERVISOR_JOB" // what a job process does: see jobMain

	lifetime = 20 * time.Second // a job or helper exits after this, whatever happens
	// shutdown is how long a job or helper takes, unless its command says
	// otherwise, to exit once asked to stop (SIGTERM): it cleans up first,
	// as real jobs do.
	shutdown = 200 * time.Millisecond

	startCap = 16 // the test starter refuses to start more job processes than this in one test

	// quiet is how long the test waits, after the last job process
	// started, before it decides that Run has started all it will.
	quiet = time.Second
	// patience bounds every wait for Run and for processes to get ready,
	// unless the test binary's own deadline comes sooner (see bounded).
	patience = 20 * time.Second
	// grace is how long a helper may take to exit after its job was stopped.
	grace = 2 * time.Second
)

func init() {
	if mode := os.Getenv(jobEnv); mode != "" {
		os.Exit(jobMain(mode))
	}
}

// jobMain is the main function of a job process started by jobWatch.start,
// or of a helper started by a job. command is the job's Args, joined by
// spaces:
//
//	exit N                  exit at once with status N
//	serve [D]               run until asked to stop
//	serve+helper [D]        start a helper, then run until asked to stop
//	helper [D]              run until asked to stop (the helper of a serve+helper job)
//
// A process that runs says so on fd 3 ("ready" and its helper's pid). Asked
// to stop (SIGTERM), it takes D (default shutdown) to clean up, then exits.
// It also exits when its stdin ends (the test is over, or died) and after
// lifetime.
func jobMain(command string) int {
	time.AfterFunc(lifetime, func() { os.Exit(3) })
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(4)
	}()
	mode, arg, _ := strings.Cut(command, " ")
	if mode == "exit" {
		n, _ := strconv.Atoi(arg)
		return n
	}
	cleanup := shutdown
	if arg != "" {
		d, err := time.ParseDuration(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "supervisor test job:", err)
			return 1
		}
		cleanup = d
	}
	status := os.NewFile(3, "status")
	helperPid := 0
	if mode == "serve+helper" {
		// The helper is started before this process handles SIGTERM: a
		// SIGTERM for the group that arrives while the helper is being
		// started then kills this process at once, and a helper that did
		// get started was in the group when the signal was sent.
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "supervisor test job:", err)
			return 1
		}
		helperStatus := os.NewFile(4, "helper status")
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), jobEnv+"=helper "+cleanup.String())
		cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
		cmd.ExtraFiles = []*os.File{helperStatus}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "supervisor test job: starting its helper:", err)
			return 1
		}
		helperStatus.Close()
		helperPid = cmd.Process.Pid
		// Never waited for: if this job exits first, the helper is
		// orphaned, which is the point.
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Fprintf(status, "ready %d\n", helperPid)
	<-term
	time.Sleep(cleanup)
	return 128 + int(syscall.SIGTERM)
}

// Job commands, as the test starter understands them.
var (
	exitOK    = []string{"exit", "0"}
	exitFail  = []string{"exit", "1"}
	serve     = []string{"serve"}
	serveHelp = []string{"serve+helper"}
	// slowHelp takes a second to shut down, with its helper: a fix that
	// waits for the jobs by sleeping a while is caught returning early.
	slowHelp = []string{"serve+helper", "1s"}
)

// TestRunCancelled cancels a build while some of its jobs run, after
// others have finished, one of them failing; and a build whose context is
// already cancelled. Run must stop every job still running and every
// helper a job started, and reap every job process, before it returns.
func TestRunCancelled(t *testing.T) {
	concurrently(t, map[string]func(*testing.T){
		"while jobs run": func(t *testing.T) {
			w := newJobWatch(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// The integration job and its database take a second to shut down.
			jobs := []Job{{"vet", exitFail}, {"integration", slowHelp}, {"unit", serve}}
			run := w.run(ctx, jobs)

			// Cancel once vet has failed and Run has reaped it, and the
			// other two run.
			if w.awaitRunning(run, len(jobs), []string{"vet"}) {
				cancel()
			}
			r := w.result(run)
			checkCancelled(t, r.err)
			w.checkStopped(r)
			w.stop()
		},
		"before start": func(t *testing.T) {
			// Run may start the jobs or not; whatever it starts, it must
			// stop and reap.
			w := newJobWatch(t)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			r := w.result(w.run(ctx, []Job{{"e2e", serveHelp}}))
			checkCancelled(t, r.err)
			w.checkStopped(r)
			w.stop()
		},
	})
}

// TestRunFinishes runs builds whose jobs all end on their own: Run must
// wait for every job, reap every process and report every failure.
func TestRunFinishes(t *testing.T) {
	tests := map[string]func(*testing.T){}
	for _, tc := range []struct {
		name   string
		jobs   []Job
		failed []string // the jobs Run's error must name; none: Run must return nil
	}{
		{"no jobs", nil, nil},
		{"one job passes", []Job{{"lint", exitOK}}, nil},
		{"failures and a job that cannot start", []Job{
			{"lint", exitFail}, {"docs", nil}, {"e2e", []string{"exit", "2"}},
		}, []string{"lint", "docs", "e2e"}},
	} {
		tests[tc.name] = func(t *testing.T) {
			w := newJobWatch(t)
			r := w.result(w.run(t.Context(), tc.jobs))

			switch {
			case len(tc.failed) == 0 && r.err != nil:
				t.Errorf("Run returned %q; every job exited with status 0, so it must return nil", r.err)
			case len(tc.failed) > 0 && r.err == nil:
				t.Errorf("Run returned nil; jobs %s failed or could not start, so it must return an error", strings.Join(tc.failed, ", "))
			case len(tc.failed) > 0:
				for _, name := range tc.failed {
					if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(r.err.Error()) {
						t.Errorf("Run returned %q, which does not name job %s; its error must name every job that failed or could not start", r.err, name)
					}
				}
			}
			w.checkStopped(r)
			w.stop()
		}
	}
	concurrently(t, tests)
}

// checkCancelled checks Run's error for a cancelled build.
func checkCancelled(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v for a cancelled build; it must return an error that wraps ctx.Err() (context.Canceled)", err)
	}
}

// concurrently runs each test as a subtest, all at the same time (each
// starts processes, which takes a while). Once they have all ended and
// stopped their processes, it checks that no goroutine was left behind.
//
// The subtests are started from goroutines of their own rather than with
// t.Parallel, which would run at most GOMAXPROCS of them at a time.
func concurrently(t *testing.T, tests map[string]func(*testing.T)) {
	others := goleak.IgnoreCurrent() // goroutines left by earlier tests are theirs
	var wg sync.WaitGroup
	for _, name := range slices.Sorted(maps.Keys(tests)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, tests[name])
		}()
	}
	wg.Wait()
	goleak.VerifyNone(t, others)
}

// A jobWatch is the tests' Starter: it starts real job processes and
// watches them through their status pipes.
type jobWatch struct {
	t       *testing.T
	exe     string
	changed chan struct{} // receives a value (if none is pending) whenever a job starts, gets ready or exits

	mu        sync.Mutex // protects the fields below
	procs     []*jobProc // every job process started, in start order
	starting  int        // calls of start in progress
	lastStart time.Time  // when the last call of start began or ended (or Run was called)
	caller    string     // where Run first called Start, "file.go:line"
	stopped   bool
}

// A jobProc is one job process started by a jobWatch, and its helper.
type jobProc struct {
	job       Job
	p         *Process
	stdin     *os.File      // the write end of its stdin: closing it makes the job and its helper exit
	ready     chan struct{} // closed when the job process says it runs
	gone      chan struct{} // closed when the job process has exited
	watched   chan struct{} // closed when watchStatus has returned, after the process was reaped
	helper    bool          // the job starts a helper
	helperPid int           // set before ready is closed
	hready    chan struct{} // closed when the helper says it runs
	hgone     chan struct{} // closed when no process holds the helper's pipe: the helper has exited, or was never started and the job has exited
}

func newJobWatch(t *testing.T) *jobWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &jobWatch{t: t, exe: exe, changed: make(chan struct{}, 1)}
	t.Cleanup(w.stop)
	return w
}

func (w *jobWatch) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// start is a Starter: it runs job as a job process (see jobMain).
func (w *jobWatch) start(job Job) (*Process, error) {
	w.noteCaller()
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("job %s has no command", job.Name)
	}
	w.mu.Lock()
	if w.stopped || len(w.procs) >= startCap {
		w.mu.Unlock()
		return nil, fmt.Errorf("test starter: refusing to start more than %d job processes in one test", startCap)
	}
	w.starting++
	w.lastStart = time.Now()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.starting--
		w.lastStart = time.Now()
		w.mu.Unlock()
		w.notify()
	}()

	jp := &jobProc{
		job: job, helper: job.Args[0] == "serve+helper",
		ready: make(chan struct{}), gone: make(chan struct{}), watched: make(chan struct{}),
		hready: make(chan struct{}), hgone: make(chan struct{}),
	}
	var files []*os.File // the parent's copies of the child's ends, closed once it started
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			panic(err)
		}
		return r, w
	}
	statusR, statusW := pipe()
	stdinR, stdinW := pipe()
	files = append(files, statusW, stdinR)
	cmd := exec.Command(w.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		jobEnv+"="+strings.Join(job.Args, " "),
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stderr = stdinR, os.Stderr
	cmd.ExtraFiles = []*os.File{statusW}
	var helperR *os.File
	if jp.helper {
		var helperW *os.File
		helperR, helperW = pipe()
		files = append(files, helperW)
		cmd.ExtraFiles = append(cmd.ExtraFiles, helperW)
	} else {
		close(jp.hready)
		close(jp.hgone)
	}

	p, err := Start(cmd)
	if err != nil {
		statusR.Close()
		stdinW.Close()
		if helperR != nil {
			helperR.Close()
		}
		return nil, err
	}
	jp.p, jp.stdin = p, stdinW
	go w.watchStatus(jp, statusR)
	if jp.helper {
		go w.watchHelper(jp, helperR)
	}
	w.mu.Lock()
	w.procs = append(w.procs, jp)
	w.mu.Unlock()
	return p, nil
}

// watchStatus reads a job process's status pipe until it ends.
func (w *jobWatch) watchStatus(jp *jobProc, r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	if line, err := br.ReadString('\n'); err == nil {
		fmt.Sscanf(line, "ready %d", &jp.helperPid)
		close(jp.ready)
		w.notify()
	}
	io.Copy(io.Discard, br)
	close(jp.gone)
	w.notify()
	// awaitRunning also waits for Run to reap some jobs: tell it.
	<-jp.p.reaped
	w.notify()
	close(jp.watched)
}

// watchHelper reads a helper's status pipe until it ends.
func (w *jobWatch) watchHelper(jp *jobProc, r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	if _, err := br.ReadString('\n'); err == nil {
		close(jp.hready)
		w.notify()
	}
	io.Copy(io.Discard, br)
	close(jp.hgone)
	w.notify()
}

// noteCaller remembers where Run called Start from (the first time), so a
// failure can point at that line of the supervisor's code.
func (w *jobWatch) noteCaller() {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if f.File != "" && !strings.HasSuffix(f.File, "_test.go") && !strings.HasPrefix(f.Function, "runtime.") {
			w.mu.Lock()
			if w.caller == "" {
				w.caller = fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
			}
			w.mu.Unlock()
			return
		}
		if !more {
			return
		}
	}
}

// A runResult is how a call of Run ended, and the state of every job
// process at the moment it returned.
type runResult struct {
	err    error
	reaped map[*jobProc]bool // the job process had been reaped when Run returned
	exited map[*jobProc]bool // the job process had exited when Run returned
}

// run calls Run in a goroutine; the result arrives on the channel.
func (w *jobWatch) run(ctx context.Context, jobs []Job) <-chan runResult {
	s := &Supervisor{Start: w.start}
	w.mu.Lock()
	w.lastStart = time.Now()
	w.mu.Unlock()
	done := make(chan runResult, 1) // buffered: the goroutine ends even if the test gave up
	go func() {
		err := s.Run(ctx, jobs)
		r := runResult{err: err, reaped: map[*jobProc]bool{}, exited: map[*jobProc]bool{}}
		for _, jp := range w.all() {
			r.reaped[jp] = isClosed(jp.p.reaped)
			r.exited[jp] = isClosed(jp.gone)
		}
		done <- r
	}()
	return done
}

// result waits for Run to return, giving up after patience.
func (w *jobWatch) result(run <-chan runResult) runResult {
	w.t.Helper()
	limit := bounded(w.t, patience)
	select {
	case r := <-run:
		return r
	case <-time.After(limit):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		w.t.Fatalf("deadlock: Run has not returned after %v; %s\nits goroutines are stuck here:\n%s", limit, w.describe(), buf)
		return runResult{}
	}
}

// awaitRunning waits until n job processes have started, every one of
// them runs (with its helper), except the jobs named in finished, which
// must have exited and been reaped. It reports false, having failed the
// test, if Run returned first, or if Run stopped starting jobs before all
// n ran at once.
func (w *jobWatch) awaitRunning(run <-chan runResult, n int, finished []string) bool {
	w.t.Helper()
	limit := bounded(w.t, patience)
	deadline := time.After(limit)
	for {
		w.mu.Lock()
		procs := w.procs
		sinceStart := time.Since(w.lastStart)
		starting := w.starting
		w.mu.Unlock()

		all := len(procs) == n
		for _, jp := range procs {
			if slices.Contains(finished, jp.job.Name) {
				all = all && isClosed(jp.p.reaped)
				continue
			}
			if isClosed(jp.gone) && !isClosed(jp.ready) {
				w.t.Errorf("job %s's process exited before it ran, before the build was cancelled: killed by Run, or it failed (its output is above)", jp.job.Name)
				return true
			}
			if isClosed(jp.hgone) && !isClosed(jp.hready) {
				w.t.Errorf("the helper of job %s exited before it ran, before the build was cancelled (its output is above)", jp.job.Name)
				return true
			}
			all = all && isClosed(jp.ready) && isClosed(jp.hready)
		}
		if all {
			return true
		}
		var quietC <-chan time.Time
		if len(procs) < n && starting == 0 {
			quietC = time.After(quiet - sinceStart)
		}
		select {
		case <-w.changed:
		case <-quietC:
			w.mu.Lock()
			started, starting := len(w.procs), w.starting
			w.mu.Unlock()
			if started < n && starting == 0 {
				w.t.Errorf("serialized: Run started %d of the build's %d jobs and then no more for %v, waiting for the ones it started to finish (started at %s); every job must run at the same time, each in its own process",
					started, n, quiet, w.callerLine())
				return true // cancel, so that Run can return
			}
		case r := <-run:
			w.t.Errorf("Run returned (error: %v) before its jobs finished and before the build was cancelled; it must wait for every job", r.err)
			w.checkStopped(r)
			return false
		case <-deadline:
			w.t.Fatalf("the jobs were not all running after %v: %s", limit, w.describe())
		}
	}
}

// checkStopped checks that, when Run returned, every job process had been
// reaped, and that no helper of a stopped job outlives it by more than
// grace.
func (w *jobWatch) checkStopped(r runResult) {
	w.t.Helper()
	procs := w.all()
	var unreaped []string
	for _, jp := range procs {
		if r.reaped[jp] {
			continue
		}
		state := "still running when Run returned (an orphan once the supervisor is gone)"
		if r.exited[jp] {
			state = "exited, but never waited for: a zombie"
		}
		unreaped = append(unreaped, fmt.Sprintf("job %s (pid %d) was %s", jp.job.Name, jp.p.Pid(), state))
	}
	if len(unreaped) > 0 {
		w.t.Errorf("leak: Run returned but %d of the %d job processes it started (at %s) had not been reaped:\n\t%s\nRun must stop every job still running when the build is cancelled, and wait for every job process (Process.Wait) before it returns (Python: a process that was never joined)",
			len(unreaped), len(procs), w.callerLine(), strings.Join(unreaped, "\n\t"))
	}

	// The helpers of the jobs that were stopped must die with them.
	timeout := time.After(grace)
	var orphans []string
	for _, jp := range procs {
		// A reaped job has exited, even if its status pipe's end has not
		// been seen yet.
		if !(r.reaped[jp] || r.exited[jp]) || !jp.helper {
			continue // a job still running keeps its helper: reported above
		}
		select {
		case <-jp.hgone:
		case <-timeout:
		}
		if !isClosed(jp.hgone) {
			orphans = append(orphans, fmt.Sprintf("job %s's helper (%s), started by job process %d", jp.job.Name, jp.helperID(), jp.p.Pid()))
		}
	}
	if len(orphans) > 0 {
		w.t.Errorf("leak: Run stopped the job processes, but %d processes they started were still running %v later:\n\t%s\nA job's helpers are in the job's process group: stopping the job's process alone orphans them (Python: terminate() does not stop a process's children)",
			len(orphans), grace, strings.Join(orphans, "\n\t"))
	}
}

// describe says what state every job process is in.
func (w *jobWatch) describe() string {
	var b strings.Builder
	procs := w.all()
	fmt.Fprintf(&b, "%d job processes started (at %s)", len(procs), w.callerLine())
	for _, jp := range procs {
		state := "starting"
		switch {
		case isClosed(jp.p.reaped):
			state = "reaped"
		case isClosed(jp.gone):
			state = "exited, not reaped"
		case isClosed(jp.ready):
			state = "running"
		}
		fmt.Fprintf(&b, "; job %s (pid %d) %s", jp.job.Name, jp.p.Pid(), state)
	}
	return b.String()
}

// callerLine says where Run called Start from.
func (w *jobWatch) callerLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.caller
}

func (w *jobWatch) all() []*jobProc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs
}

// stop kills every process the test started, reaps every job process and
// waits until the status pipes have ended. It is safe to call again.
func (w *jobWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	procs := w.procs
	w.mu.Unlock()
	for _, jp := range procs {
		// The group id is still the job's while its leader is unreaped or
		// its helper runs; after that, leave it alone.
		if !isClosed(jp.p.reaped) || !isClosed(jp.hgone) {
			syscall.Kill(-jp.p.Pid(), syscall.SIGKILL)
		}
		jp.stdin.Close() // whatever is left exits on its own
	}
	deadline := time.After(patience)
	for _, jp := range procs {
		// Wait may run at the same time in a goroutine of Run: Process
		// makes that safe, and both return once the process is reaped.
		jp.p.Wait()
		for _, c := range []chan struct{}{jp.watched, jp.hgone} {
			select {
			case <-c:
			case <-deadline:
				w.t.Errorf("the processes of job %s still hold their status pipes %v after being killed", jp.job.Name, patience)
				return
			}
		}
	}
}

// helperID names the helper's process.
func (jp *jobProc) helperID() string {
	if !isClosed(jp.ready) { // helperPid is set before ready is closed
		return "pid unknown"
	}
	return fmt.Sprintf("pid %d", jp.helperPid)
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
