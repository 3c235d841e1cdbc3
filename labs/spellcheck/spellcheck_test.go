package spellcheck

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
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests run real checker processes: the test binary is its own
// checker. The test launcher re-executes it with checkerEnv set, and init
// below turns such a process into a checker that answers requests on its
// stdin and stdout, and crashes when the test says so.
const (
	checkerEnv = "SPELLCHECK_CHECKER"  // "1" in a checker process
	crashEnv   = "SPELLCHECK_CRASH_AT" // the request a checker crashes on, counting from 1; 0: none
	lifetime   = 20 * time.Second      // a checker exits after this, whatever happens

	// poisonLen: the checker has a bug, it crashes on any word this long
	// or longer, whichever process checks it.
	poisonLen = 40

	startCap = 32 // the test launcher never starts more processes than this in one test

	// quietTicks ticks of quietTick, with no checker starting and no page
	// sent in between, is how long the test waits before it decides that
	// CheckAll has as many pages in flight as it will have, and lets the
	// held checkers answer: a second at least, and longer when the machine
	// is so busy that the test process is starved, since every tick needs
	// the process to run again (and a goroutine of CheckAll's that was
	// ready to run gets its turn first). A wall-clock second was not
	// enough: at a load of 40 on 2 cores, a correct pool once went a
	// second between starting its first and its second checker.
	quietTick  = 10 * time.Millisecond
	quietTicks = 100
	// patience bounds every wait for CheckAll, unless the test binary's
	// own deadline comes sooner (see bounded).
	patience = 20 * time.Second
)

func init() {
	if os.Getenv(checkerEnv) != "1" {
		return
	}
	// This process is a checker started by poolWatch.launch. It checks
	// pages until its stdin closes, which also happens when the test
	// process dies; the timer makes sure it never outlives a stuck test.
	time.AfterFunc(lifetime, func() { os.Exit(3) })
	crashAt, _ := strconv.Atoi(os.Getenv(crashEnv))
	os.Exit(checkerMain(os.Stdin, os.Stdout, crashAt))
}

// checkerMain is Serve with crashes: the checker crashes on request number
// crashAt, and on every page with a word of poisonLen letters or more. It
// crashes partway through its answer, as a segfault would.
func checkerMain(r io.Reader, w io.Writer, crashAt int) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		id, page, err := parseRequest(sc.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "spellcheck test checker:", err)
			return 1
		}
		if n == crashAt || poisoned(page.Text) {
			fmt.Fprintf(w, "%d ok", id)
			return 2
		}
		if _, err := io.WriteString(w, answer(id, page)); err != nil {
			return 1
		}
	}
	return 0
}

// poisoned reports whether text has a word that crashes the checker.
func poisoned(text string) bool {
	n := 0
	for _, r := range text {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			n++
			if n >= poisonLen {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// typos are the misspellings the test pages carry.
var typos = []string{
	"recieve", "seperate", "definately", "occured", "teh", "adress",
	"enviroment", "dependancy", "wich", "untill", "sucessful", "paramter",
}

// testPages returns n pages of the site, each with its own text and typos.
// Their paths share prefixes and lengths: docs/p1.md, docs/p10.md, ...
func testPages(n int) []Page {
	words := slices.Sorted(maps.Keys(dictionary))
	pages := make([]Page, n)
	for i := range pages {
		var b strings.Builder
		for j := range 24 + i%5 {
			if j > 0 {
				b.WriteString(" ")
			}
			if (i+j)%7 == 3 {
				b.WriteString(typos[(i*5+j)%len(typos)])
			} else {
				b.WriteString(words[(i*11+j*7)%len(words)])
			}
			if j%9 == 8 {
				b.WriteString(".\n")
			}
		}
		pages[i] = Page{Path: fmt.Sprintf("docs/p%d.md", i+1), Text: b.String()}
	}
	return pages
}

// A poolCase is one call of CheckAll and what it must do.
type poolCase struct {
	workers int
	pages   []Page
	// crashAt makes checker process n (1 for the first started) crash on
	// its crashAt[n]th page.
	crashAt map[int]int
	// bad are the pages CheckAll must give up on; the other pages must be
	// reported right.
	bad []string
	// poison is the page that crashes every checker, if any.
	poison string
}

// TestCheckAll checks pages with pools of 1, 2, 3 and 4 workers, and no
// pages at all: CheckAll must start no more checker processes than
// Workers (nor than pages), plus one per crash; check that many pages at
// the same time; reap every process; and return the right reports in page
// order. Checkers crash partway through a page: the crashed checker must
// be reaped and replaced, and the page checked again; a page that crashes
// every checker, and a page the checker refuses, must be given up on and
// named in the error, and a checker that refused a page must go on to the
// next one.
//
// The cases run at the same time: each starts processes, which takes a
// while on a busy machine. There are few of them, with few pages, for the
// same reason.
func TestCheckAll(t *testing.T) {
	bad := testPages(5)
	bad[1].Text += " " + strings.Repeat("supercalifragilistic", 3)
	bad[3].Text += " caf\xe9 \xff\xfe"
	notText := testPages(4)
	notText[1].Text += " \xff"
	concurrently(t, map[string]func(*testing.T){
		"1 worker, a page that is not text, then its checker crashes on page 3": func(t *testing.T) {
			runCase(t, poolCase{workers: 1, pages: notText, crashAt: map[int]int{1: 3}, bad: []string{notText[1].Path}})
		},
		"2 workers, a page that crashes checkers and a page that is not text": func(t *testing.T) {
			runCase(t, poolCase{workers: 2, pages: bad, bad: []string{bad[1].Path, bad[3].Path}, poison: bad[1].Path})
		},
		"3 workers, 5 pages":  func(t *testing.T) { runCase(t, poolCase{workers: 3, pages: testPages(5)}) },
		"4 workers, 2 pages":  func(t *testing.T) { runCase(t, poolCase{workers: 4, pages: testPages(2)}) },
		"3 workers, no pages": func(t *testing.T) { runCase(t, poolCase{workers: 3, pages: nil}) },
	})
}

// runCase calls CheckAll for tc and checks everything it must do.
func runCase(t *testing.T, tc poolCase) {
	w := newPoolWatch(t, tc.workers, len(tc.pages), tc.crashAt)
	pool := &Pool{Launch: w.launch, Workers: tc.workers}

	reports, err := w.checkAll(t.Context(), pool, tc.pages)

	w.mu.Lock()
	refused, maxInFlight, released := w.refused, w.maxInFlight, w.released
	w.mu.Unlock()
	if refused > 0 {
		// Everything else follows from the refusal: say only that.
		t.Error("overspawn: " + w.overspawnReport())
		w.checkReaped()
		w.stop()
		return
	}
	if maxInFlight < w.want && released {
		t.Errorf("serialized: at most %d page(s) were being checked at the same time; with Workers = %d and %d pages, %d checker processes must each be checking a page at once (CheckAll started its checkers at %s)",
			maxInFlight, tc.workers, len(tc.pages), w.want, w.launchedFrom())
	}
	w.checkReaped()

	switch {
	case len(tc.bad) == 0 && err != nil:
		t.Errorf("CheckAll returned %q; every page can be checked (a checker that crashed once must be replaced and the page checked again), so it must return nil", err)
	case len(tc.bad) > 0 && err == nil:
		t.Errorf("CheckAll returned nil; it must return an error naming %s, which cannot be checked", strings.Join(tc.bad, " and "))
	case len(tc.bad) > 0:
		for _, path := range tc.bad {
			if !regexp.MustCompile(`(^|[^\w/.])` + regexp.QuoteMeta(path) + `($|[^\w/.])`).MatchString(err.Error()) {
				t.Errorf("CheckAll returned %q, which does not name %s; its error must name every page it gave up on", err, path)
			}
		}
	}
	if tc.poison != "" {
		if n := w.sentCount(tc.poison); n != 2 {
			t.Errorf("CheckAll sent %s to %d checker(s); it crashes every checker, so it must be tried in a second checker and then given up on: sent exactly twice", tc.poison, n)
		}
	}
	if len(reports) != len(tc.pages) {
		t.Errorf("CheckAll returned %d reports for %d pages; it must return one per page, in page order", len(reports), len(tc.pages))
	} else {
		for i, page := range tc.pages {
			if slices.Contains(tc.bad, page.Path) {
				continue
			}
			want := Report{Path: page.Path, Misspelled: Misspelled(page.Text)}
			if got := reports[i]; got.Path != want.Path || !slices.Equal(got.Misspelled, want.Misspelled) {
				t.Errorf("reports[%d] = %+v, want %+v: one report per page, in page order", i, got, want)
			}
		}
	}
	w.stop()
}

// TestCheckAllStops checks the ways CheckAll ends early: its context
// cancelled before the call and while checkers are checking pages, and a
// checker that cannot be started.
func TestCheckAllStops(t *testing.T) {
	concurrently(t, map[string]func(*testing.T){
		"cancelled before": func(t *testing.T) {
			w := newPoolWatch(t, 3, 6, nil)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := w.checkAll(ctx, &Pool{Launch: w.launch, Workers: 3}, testPages(6))
			checkCancelled(t, err)
			w.checkReaped()
			w.stop()
		},
		"cancelled while checking": func(t *testing.T) {
			w := newPoolWatch(t, 2, 5, nil)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w.releaseAt = 1      // as soon as a checker is checking a page,
			w.onRelease = cancel // cancel, while the other may still be starting
			_, err := w.checkAll(ctx, &Pool{Launch: w.launch, Workers: 2}, testPages(5))
			checkCancelled(t, err)
			w.checkReaped()
			w.stop()
		},
		"the checker cannot start": func(t *testing.T) {
			errMissing := errors.New("exec: \"hunspell\": executable file not found in $PATH")
			w := newPoolWatch(t, 3, 6, nil)
			launch := func(context.Context) (*Checker, error) { return nil, errMissing }
			_, err := w.checkAll(t.Context(), &Pool{Launch: launch, Workers: 3}, testPages(6))
			if !errors.Is(err, errMissing) {
				t.Errorf("CheckAll returned %v when no checker could start; it must return an error that wraps the Launcher's error", err)
			}
			w.stop()
		},
	})
}

func checkCancelled(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CheckAll returned %v after its context was cancelled; it must return an error that wraps ctx.Err() (context.Canceled)", err)
	}
}

// concurrently runs each test as a subtest, all at the same time (each
// starts processes, which takes a while on a busy machine). Once they have
// all ended and stopped their processes, it checks that no goroutine was
// left behind.
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

// A poolWatch is the tests' Launcher: it starts real checker processes
// and watches how many there are, how many pages each checks and how many
// are being checked at once, and whether each process is reaped.
//
// It allows CheckAll min(Workers, pages) processes, plus one for each
// checker that crashed, and refuses any more (the verdict is then
// overspawn): even a pool that starts a process per page stays bounded.
//
// To make overlap certain on a busy machine, it holds the checkers'
// answers: no answer is read until want pages are being checked at once
// (want = min(Workers, pages), or releaseAt if a test lowers it), or
// until no checker has started and no page has been sent for quietTicks
// ticks (CheckAll is as busy as it gets), or until a start was refused.
// After that, nothing is held.
type poolWatch struct {
	t       *testing.T
	exe     string
	workers int
	pages   int
	want    int // min(workers, pages): the processes allowed, and the pages that must be checked at once
	// releaseAt is how many pages in flight release the held answers:
	// want, unless a test sets it before calling checkAll.
	releaseAt int
	crashAt   map[int]int // process number → the page it crashes on
	release   chan struct{}
	// onRelease, if set, is called when the held answers are released.
	onRelease func()

	mu          sync.Mutex    // protects the fields below
	released    bool          // release is closed
	returned    bool          // CheckAll returned
	activity    int           // checker starts and pages sent so far: the quiet period starts again when it changes
	quietDone   chan struct{} // closed when the quiet watcher has returned; nil until it starts
	launching   int           // starts in progress
	numbered    int           // process numbers handed out
	procs       []*proc       // every process started, in start order
	crashes     int           // pages sent that crash their checker
	inFlight    int           // pages sent to live checkers and not answered
	maxInFlight int
	refused     int    // Launch calls refused
	refusal     string // what CheckAll had done when the first Launch was refused
	caller      string // where CheckAll first called Launch, "file.go:line"
	sent        map[string]int
}

// A proc is one checker process started by a poolWatch.
type proc struct {
	n        int // 1 for the first process started
	cmd      *exec.Cmd
	crashAt  int
	wait     func() error // cmd.Wait, once; safe to call from the test and CheckAll
	waited   bool         // cmd.Wait returned
	sent     int          // pages sent to it
	answered int          // answers read from it
	crashed  bool         // it was sent a page it crashes on
}

func newPoolWatch(t *testing.T, workers, pages int, crashAt map[int]int) *poolWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &poolWatch{
		t: t, exe: exe, workers: workers, pages: pages, want: min(workers, pages), releaseAt: min(workers, pages), crashAt: crashAt,
		release: make(chan struct{}), sent: map[string]int{},
	}
	if w.want <= 1 {
		w.releaseLocked() // nothing to overlap
	}
	t.Cleanup(w.stop)
	return w
}

// checkAll calls pool.CheckAll, giving up after patience.
func (w *poolWatch) checkAll(ctx context.Context, pool *Pool, pages []Page) ([]Report, error) {
	w.t.Helper()
	type result struct {
		reports []Report
		err     error
	}
	done := make(chan result, 1) // buffered: the goroutine ends even if the test gave up
	go func() {
		r, err := pool.CheckAll(ctx, pages)
		done <- result{r, err}
	}()
	limit := bounded(w.t, patience)
	select {
	case r := <-done:
		w.mu.Lock()
		w.returned = true
		w.mu.Unlock()
		return r.reports, r.err
	case <-time.After(limit):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		w.t.Fatalf("deadlock: CheckAll has not returned after %v (it started its checkers at %s); its goroutines are stuck here:\n%s", limit, w.launchedFrom(), buf)
		return nil, nil
	}
}

// launch is a Launcher.
func (w *poolWatch) launch(ctx context.Context) (*Checker, error) {
	caller := learnerLine()
	w.mu.Lock()
	if w.caller == "" {
		w.caller = caller
	}
	if err := ctx.Err(); err != nil {
		w.mu.Unlock()
		return nil, err // as os/exec does
	}
	if allowed := min(w.want+w.crashes, startCap); len(w.procs)+w.launching >= allowed {
		w.refused++
		if w.refused == 1 {
			w.refusal = fmt.Sprintf("at %s it asked for checker process %d", caller, len(w.procs)+w.launching+1)
		}
		w.releaseLocked()
		w.mu.Unlock()
		return nil, fmt.Errorf("test launcher: refusing to start more than %d checker processes for %d pages with Workers = %d", allowed, w.pages, w.workers)
	}
	w.launching++
	w.numbered++
	n := w.numbered
	w.touchLocked()
	w.mu.Unlock()

	cmd := exec.CommandContext(ctx, w.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		checkerEnv+"=1",
		crashEnv+"="+strconv.Itoa(w.crashAt[n]),
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	err := errors.Join(err1, err2)
	if err == nil {
		err = cmd.Start()
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.launching--
	w.touchLocked()
	if err != nil {
		return nil, err
	}
	p := &proc{n: n, cmd: cmd, crashAt: w.crashAt[n]}
	p.wait = sync.OnceValue(func() error {
		err := cmd.Wait()
		w.mu.Lock()
		p.waited = true
		w.inFlight -= p.sent - p.answered
		w.mu.Unlock()
		return err
	})
	w.procs = append(w.procs, p)
	return NewChecker(&requestWriter{w, p, stdin}, &answerReader{w, p, stdout}, p.wait), nil
}

// learnerLine says which line of the pool's code called Launch, as
// "file.go:line".
func learnerLine() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if filepath.Dir(f.File) == labDir && !strings.HasSuffix(f.File, "_test.go") && filepath.Base(f.File) != "checker.go" {
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		if !more {
			return "an unknown line"
		}
	}
}

// labDir is the directory of the lab's files, as the runtime names it.
var labDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// touchLocked notes that CheckAll did something: the quiet period starts
// again. The first call starts the quiet watcher.
func (w *poolWatch) touchLocked() {
	w.activity++
	if w.released || w.quietDone != nil {
		return
	}
	w.quietDone = make(chan struct{})
	go w.watchQuiet()
}

// watchQuiet releases the held answers once quietTicks ticks have passed
// with no checker starting and no page sent. It returns once the answers
// are released, by it or otherwise.
func (w *poolWatch) watchQuiet() {
	defer close(w.quietDone)
	seen, ticks := -1, 0
	for {
		time.Sleep(quietTick)
		w.mu.Lock()
		switch {
		case w.released:
		case w.activity != seen || w.launching > 0:
			seen, ticks = w.activity, 0
		default:
			if ticks++; ticks >= quietTicks {
				w.releaseLocked()
			}
		}
		released := w.released
		w.mu.Unlock()
		if released {
			return
		}
	}
}

func (w *poolWatch) releaseLocked() {
	if w.released {
		return
	}
	w.released = true
	if w.onRelease != nil {
		w.onRelease()
	}
	close(w.release)
}

// A requestWriter is a checker's stdin: each line is a page sent.
type requestWriter struct {
	w *poolWatch
	p *proc
	io.WriteCloser
}

func (rw *requestWriter) Write(b []byte) (int, error) {
	w, p := rw.w, rw.p
	w.mu.Lock()
	for line := range strings.Lines(string(b)) {
		_, page, err := parseRequest(strings.TrimSuffix(line, "\n"))
		if err != nil {
			continue
		}
		p.sent++
		w.sent[page.Path]++
		if p.sent == p.crashAt || poisoned(page.Text) {
			p.crashed = true
			w.crashes++ // counted before the checker can crash, so before CheckAll can replace it
		}
		w.inFlight++
		w.maxInFlight = max(w.maxInFlight, w.inFlight)
		if w.inFlight >= w.releaseAt {
			w.releaseLocked()
		}
	}
	w.touchLocked()
	w.mu.Unlock()
	return rw.WriteCloser.Write(b)
}

// An answerReader is a checker's stdout: each line is a page answered.
// Reads wait until the poolWatch releases the held answers.
type answerReader struct {
	w *poolWatch
	p *proc
	r io.Reader
}

func (ar *answerReader) Read(b []byte) (int, error) {
	<-ar.w.release
	n, err := ar.r.Read(b)
	k := strings.Count(string(b[:n]), "\n")
	ar.w.mu.Lock()
	ar.p.answered += k
	if !ar.p.waited {
		ar.w.inFlight -= k
	}
	ar.w.mu.Unlock()
	return n, err
}

// overspawnReport says how CheckAll came to ask for more checkers than it
// may start.
func (w *poolWatch) overspawnReport() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	crashed := ""
	if w.crashes > 0 {
		crashed = fmt.Sprintf(" (%d for the pages and %d to replace checkers that crashed)", w.want, w.crashes)
	}
	var checked []string
	for _, p := range w.procs {
		checked = append(checked, strconv.Itoa(p.answered))
	}
	return fmt.Sprintf("CheckAll starts more checker processes than it needs: %d pages with Workers = %d need at most %d%s, each checking page after page, but %s; the test refused it. %s. Every start loads a whole dictionary: start the checkers once and send each of them page after page (Python: the workers of a ProcessPoolExecutor run task after task; max_tasks_per_child=1 is this bug)",
		w.pages, w.workers, w.want+w.crashes, crashed, w.refusal, checkedReport(checked))
}

// checkedReport says how many pages each started checker checked.
func checkedReport(checked []string) string {
	if len(checked) == 1 {
		return "The one checker process it had started checked " + checked[0] + " page(s)"
	}
	return fmt.Sprintf("The %d checker processes it had started checked %s page(s) each", len(checked), joinList(checked))
}

func joinList(s []string) string {
	switch len(s) {
	case 0:
		return "no"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// checkReaped reports every checker process that CheckAll left behind
// without waiting for it.
func (w *poolWatch) checkReaped() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var left []string
	for _, p := range w.procs {
		if !p.waited {
			state := "still running (an orphan once the build exits)"
			if p.crashed {
				state = "crashed and never waited for: a zombie"
			}
			left = append(left, fmt.Sprintf("checker process %d (pid %d), %s", p.n, p.cmd.Process.Pid, state))
		}
	}
	if len(left) > 0 {
		w.t.Errorf("leak: CheckAll returned but %d of the %d checker processes it started (at %s) were never waited for:\n\t%s\nChecker.Close stops a checker process and reaps it; a checker that crashed must be closed too (Python: a process that was never joined)",
			len(left), len(w.procs), w.caller, strings.Join(left, "\n\t"))
	}
}

// sentCount says how many times the page at path was sent to a checker.
func (w *poolWatch) sentCount(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent[path]
}

// launchedFrom says where CheckAll called Launch from.
func (w *poolWatch) launchedFrom() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.caller == "" {
		return "no line: it never did"
	}
	return w.caller
}

// stop releases any held answer, then kills and reaps every checker
// process CheckAll left behind. It is safe to call again.
func (w *poolWatch) stop() {
	w.mu.Lock()
	w.releaseLocked()
	procs, quietDone := w.procs, w.quietDone
	w.mu.Unlock()
	if quietDone != nil {
		<-quietDone // within a tick of the release
	}
	for _, p := range procs {
		p.cmd.Process.Kill() // after Wait, this does nothing
		// If CheckAll is still waiting for p in another goroutine, this
		// waits for the same call to return.
		p.wait()
	}
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
