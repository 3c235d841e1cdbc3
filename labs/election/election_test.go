package election

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests run real worker processes: the test binary is its own worker.
// The test's Spawner re-executes it with workerEnv set, and init below
// turns such a process into a worker that serves its precinct (see
// ServeWorker), with its ledger traced.
//
// A traced ledger reports every step to the test on fd 3 (counting,
// reading, writing, locking) and waits for the test's go-ahead on fd 4
// before it goes on. That is how the test makes the unlucky interleaving
// happen on every run, not once in a while:
//
//   - every worker waits at its count until all the precincts are being
//     counted at once (so the workers overlap, or the test says
//     "serialized:"), and
//   - a worker that has read the ledger and not yet written it back waits,
//     whenever it does not hold the ledger's lock, until every other
//     running worker has read the ledger too. Without the lock, every
//     worker then reads the same totals before any of them writes: every
//     write but the last is lost. With the lock held from the read to the
//     write, nobody ever waits.
const (
	workerEnv = "ELECTION_WORKER" // "1" in a worker process
	ledgerEnv = "ELECTION_LEDGER" // the ledger's path, in a worker process

	lifetime = 20 * time.Second // a worker exits after this, whatever happens
	spawnCap = 16               // the test's Spawner refuses to start more workers than this in a test

	// quiet is how long the test waits, after the last worker started,
	// before it decides that Tally has started all it will.
	quiet = time.Second
	// holdMax is the longest the test holds any worker.
	holdMax = 5 * time.Second
	// patience bounds every wait for Tally.
	patience = 20 * time.Second
)

func init() {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(workerMain())
	}
}

// workerMain is the main function of a worker process started by
// tallyWatch.spawn.
func workerMain() int {
	time.AfterFunc(lifetime, func() { os.Exit(3) })
	events, acks := os.NewFile(3, "events"), os.NewFile(4, "acks")
	var mu sync.Mutex // one report at a time
	trace := func(event string, locked bool) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(events, "%s %t %s\n", event, locked, learnerLine())
		var b [1]byte
		if _, err := acks.Read(b[:]); err != nil {
			os.Exit(4) // the test is over, or died
		}
	}
	ledger := &Ledger{Path: os.Getenv(ledgerEnv), trace: trace}
	if err := ServeWorker(ledger, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "election worker:", err)
		return 1
	}
	return 0
}

// learnerLine returns "file.go:line" of the innermost caller in the
// election's own code (not the tests, not worker.go), or "-".
func learnerLine() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		base := filepath.Base(f.File)
		if strings.Contains(f.Function, "/election.") && !strings.HasSuffix(base, "_test.go") && base != "worker.go" {
			return fmt.Sprintf("%s:%d", base, f.Line)
		}
		if !more {
			return "-"
		}
	}
}

// ballots returns a precinct's ballots: n votes for each candidate in
// turn, so that every precinct's votes differ.
func ballots(votes ...any) []string {
	var b []string
	for i := 0; i < len(votes); i += 2 {
		for range votes[i+1].(int) {
			b = append(b, votes[i].(string))
		}
	}
	return b
}

// TestTally counts precincts whose votes all differ, into an empty ledger
// and into one that holds early votes.
func TestTally(t *testing.T) {
	tests := map[string]func(*testing.T){}
	for _, tc := range []struct {
		name      string
		early     Totals
		precincts []Precinct
	}{
		{"two precincts, empty ledger", nil, []Precinct{
			{"north", ballots("alice", 7, "bob", 5)},
			{"south", ballots("alice", 3, "carol", 9)},
		}},
		{"three precincts, early votes", Totals{"alice": 100, "bob": 80, "dave": 1}, []Precinct{
			{"hill", ballots("carol", 2, "alice", 21, "bob", 1)},
			{"hillside", nil}, // nobody voted here
			{"mill", ballots("dave", 6, "carol", 5)},
		}},
	} {
		tests[tc.name] = func(t *testing.T) {
			w := newTallyWatch(t, len(tc.precincts))
			if tc.early != nil {
				if err := OpenLedger(w.ledger).Write(tc.early); err != nil {
					t.Fatal(err)
				}
			}
			want := Totals{}
			want.Add(tc.early)
			for _, p := range tc.precincts {
				votes, _ := p.Count()
				want.Add(votes)
			}

			got, err, ok := w.tally(t.Context(), tc.precincts)
			if ok {
				w.checkOverlap()
				if err != nil {
					t.Errorf("Tally returned %q; every worker succeeded, so it must not fail", err)
				}
				if w.checkLedger(tc.early, tc.precincts, want) && err == nil && got.String() != want.String() {
					t.Errorf("Tally returned %s; it must return the ledger's early votes plus every precinct's votes, %s", oneLine(got), oneLine(want))
				}
			}
			w.stop()
		}
	}
	concurrently(t, tests)
}

// TestTallyWorkerFails counts two precincts, one of which has a spoiled
// ballot: its worker fails.
func TestTallyWorkerFails(t *testing.T) {
	others := goleak.IgnoreCurrent()
	w := newTallyWatch(t, 2)
	_, err, ok := w.tally(t.Context(), []Precinct{
		{"east", ballots("alice", 3, "bob", 4)},
		{"eastgate", append(ballots("bob", 2), "")},
	})
	switch {
	case !ok:
	case err == nil:
		t.Errorf("Tally returned no error; the worker of precinct eastgate failed, so Tally must fail")
	case !regexp.MustCompile(`\beastgate\b`).MatchString(err.Error()):
		t.Errorf("Tally returned %q; its error must name the precinct whose worker failed, eastgate", err)
	}
	w.stop()
	goleak.VerifyNone(t, others)
}

// TestTallyCancelled cancels a tally while its workers run, and one before
// it starts.
func TestTallyCancelled(t *testing.T) {
	precincts := []Precinct{{"north", ballots("alice", 2)}, {"south", ballots("bob", 3)}}
	concurrently(t, map[string]func(*testing.T){
		"while the workers count": func(t *testing.T) {
			w := newTallyWatch(t, len(precincts))
			w.holdCounts = true // keep the workers counting until the tally is cancelled
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w.onCounting = cancel
			_, err, ok := w.tally(ctx, precincts)
			if ok && !errors.Is(err, context.Canceled) {
				t.Errorf("Tally returned %v; when ctx is done, it must return an error that wraps ctx.Err() (context.Canceled)", err)
			}
			w.stop()
		},
		"before it starts": func(t *testing.T) {
			w := newTallyWatch(t, len(precincts))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err, ok := w.tally(ctx, precincts)
			if ok && !errors.Is(err, context.Canceled) {
				t.Errorf("Tally returned %v; when ctx is done before it starts, it must return an error that wraps ctx.Err() (context.Canceled)", err)
			}
			w.stop()
		},
	})
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

// A tallyWatch is a test's Spawner: it starts real worker processes and
// paces them (see the comment at the top of this file).
type tallyWatch struct {
	t          *testing.T
	exe        string
	ledger     string // the ledger's path
	n          int    // the precincts: how many workers must count at once
	holdCounts bool   // hold every worker at its count, whatever happens
	onCounting func() // called once all n workers are counting

	mu          sync.Mutex // protects the fields below
	workers     []*tallyWorker
	spawning    int         // spawn calls in progress
	quietTimer  *time.Timer // runs onQuiet once no worker has started for quiet
	timers      []*time.Timer
	counting    int      // workers that reached their count
	released    bool     // workers no longer wait at their count
	serialized  bool     // Tally stopped starting workers before n were counting
	maxCounting int      // the most workers counting at once
	writes      int      // ledger writes by workers so far
	lost        []string // workers whose write replaced a write they had not read
	readAt      string   // where the election's code reads the ledger
	writeAt     string   // and writes it
	spawnAt     string   // where Tally calls Spawn
	stopped     bool
}

// A tallyWorker is one worker process started by a tallyWatch.
type tallyWorker struct {
	precinct string
	w        *Worker
	acks     *os.File      // the write end of the worker's go-aheads
	gone     chan struct{} // closed once the worker's events have ended: it has exited

	// protected by tallyWatch.mu
	exited      bool
	counted     bool   // it reached its count
	hasRead     bool   // it has read the ledger
	readVersion int    // writes when it last read the ledger
	stale       bool   // it has read the ledger and not written it since
	held        string // why it waits for its go-ahead, "" if it does not
	holdSeq     int    // counts holds, so that a late holdMax timer can tell
}

func newTallyWatch(t *testing.T, n int) *tallyWatch {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &tallyWatch{t: t, exe: exe, ledger: filepath.Join(t.TempDir(), "ledger"), n: n}
	t.Cleanup(w.stop)
	return w
}

// spawn is a Spawner: it starts the test binary as a worker for p.
func (w *tallyWatch) spawn(ctx context.Context, p Precinct) (*Worker, error) {
	at := learnerLine()
	w.mu.Lock()
	if w.stopped || len(w.workers)+w.spawning >= spawnCap {
		w.mu.Unlock()
		return nil, fmt.Errorf("test spawner: refusing to start more than %d workers in one test", spawnCap)
	}
	if w.spawnAt == "" {
		w.spawnAt = at
	}
	w.spawning++
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.spawning--
		if w.quietTimer != nil {
			w.quietTimer.Stop()
		}
		w.quietTimer = time.AfterFunc(quiet, w.onQuiet)
		w.mu.Unlock()
	}()

	eventsR, eventsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	acksR, acksW, err := os.Pipe()
	if err != nil {
		eventsR.Close()
		eventsW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, w.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", ledgerEnv+"="+w.ledger,
		// A race-enabled binary sleeps 1s at exit by default.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{eventsW, acksR}
	wk, err := Start(ctx, cmd, p)
	eventsW.Close()
	acksR.Close()
	if err != nil {
		eventsR.Close()
		acksW.Close()
		return nil, err
	}
	tw := &tallyWorker{precinct: p.Name, w: wk, acks: acksW, gone: make(chan struct{})}
	w.mu.Lock()
	w.workers = append(w.workers, tw)
	w.mu.Unlock()
	go w.serve(tw, eventsR)
	return wk, nil
}

// serve reads a worker's reports until it exits, and decides when it may
// go on.
func (w *tallyWatch) serve(tw *tallyWorker, events *os.File) {
	defer close(tw.gone)
	defer events.Close()
	sc := bufio.NewScanner(events)
	for sc.Scan() {
		var event, at string
		var locked bool
		fmt.Sscanf(sc.Text(), "%s %t %s", &event, &locked, &at)
		var counting func()
		w.mu.Lock()
		switch event {
		case "count":
			tw.counted = true
			w.counting++
			w.maxCounting = max(w.maxCounting, w.live(func(x *tallyWorker) bool { return x.counted }))
			if w.released && !w.holdCounts {
				w.goAhead(tw)
			} else {
				w.hold(tw, "count")
			}
			if w.counting == w.n && w.onCounting != nil {
				counting = w.onCounting
			}
		case "read":
			w.readAt = at
			tw.hasRead, tw.stale, tw.readVersion = true, true, w.writes
			if locked || w.serialized {
				w.goAhead(tw)
			} else {
				w.hold(tw, "read")
			}
		case "unlock":
			if tw.stale && !w.serialized {
				w.hold(tw, "unlock")
			} else {
				w.goAhead(tw)
			}
		case "write":
			w.writeAt = at
			if tw.readVersion != w.writes || !tw.hasRead {
				w.lost = append(w.lost, tw.precinct)
			}
			w.writes++
			tw.stale = false
			w.goAhead(tw)
		default: // lock, locked
			w.goAhead(tw)
		}
		w.evaluate()
		w.mu.Unlock()
		if counting != nil {
			counting()
		}
	}
	w.mu.Lock()
	tw.exited = true
	tw.acks.Close()
	w.evaluate()
	w.mu.Unlock()
}

// live counts the running workers for which f holds.
func (w *tallyWatch) live(f func(*tallyWorker) bool) int {
	n := 0
	for _, x := range w.workers {
		if !x.exited && f(x) {
			n++
		}
	}
	return n
}

// hold keeps tw waiting (w.mu is held).
func (w *tallyWatch) hold(tw *tallyWorker, why string) {
	tw.held = why
	tw.holdSeq++
	seq := tw.holdSeq
	w.timers = append(w.timers, time.AfterFunc(holdMax, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if tw.held != "" && tw.holdSeq == seq && !(why == "count" && w.holdCounts) {
			w.goAhead(tw)
		}
	}))
}

// goAhead lets tw go on (w.mu is held).
func (w *tallyWatch) goAhead(tw *tallyWorker) {
	tw.held = ""
	tw.acks.Write([]byte{1}) // an error means the worker has died: nobody to tell
}

// evaluate lets go every held worker that may go on (w.mu is held).
func (w *tallyWatch) evaluate() {
	if !w.released {
		arrived := 0
		for _, x := range w.workers {
			if x.counted || x.exited {
				arrived++
			}
		}
		if arrived >= w.n {
			w.released = true
		}
	}
	for _, tw := range w.workers {
		switch tw.held {
		case "count":
			if w.released && !w.holdCounts {
				w.goAhead(tw)
			}
		case "read", "unlock":
			// Go on once every other running worker has read the ledger.
			if w.serialized || w.live(func(x *tallyWorker) bool { return x != tw && !x.hasRead }) == 0 {
				w.goAhead(tw)
			}
		}
	}
}

// onQuiet runs when no worker has started for quiet: if fewer than n
// workers run, Tally runs them one (or a few) at a time.
func (w *tallyWatch) onQuiet() {
	w.mu.Lock()
	if w.released || w.spawning > 0 || w.stopped || w.live(func(*tallyWorker) bool { return true }) >= w.n {
		w.mu.Unlock()
		return
	}
	w.serialized, w.released = true, true
	w.evaluate()
	counting := w.onCounting
	w.mu.Unlock()
	if counting != nil {
		counting() // they never will all be counting at once
	}
}

// tally calls Tally with the watch as Spawner, bounded by patience. It
// reports false, having failed the test, if Tally did not return, or
// returned before reaping its workers.
func (w *tallyWatch) tally(ctx context.Context, precincts []Precinct) (Totals, error, bool) {
	w.t.Helper()
	e := &Election{Spawn: w.spawn, Ledger: OpenLedger(w.ledger)}
	type result struct {
		totals   Totals
		err      error
		unreaped []string
	}
	limit := bounded(w.t, patience)
	done := make(chan result, 1) // buffered: the goroutine ends even if the test gave up
	go func() {
		totals, err := e.Tally(ctx, precincts)
		r := result{totals: totals, err: err}
		w.mu.Lock()
		for _, tw := range w.workers {
			if !isClosed(tw.w.reaped) {
				r.unreaped = append(r.unreaped, tw.precinct)
			}
		}
		w.mu.Unlock()
		done <- r
	}()
	select {
	case r := <-done:
		if len(r.unreaped) > 0 {
			w.t.Errorf("leak: Tally returned before the workers of precincts %s had exited and been reaped (Worker.Wait): a process nobody waits for stays behind as a zombie",
				strings.Join(r.unreaped, ", "))
			return r.totals, r.err, false
		}
		return r.totals, r.err, true
	case <-time.After(limit):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		w.t.Fatalf("deadlock: Tally has not returned after %v; %s\nits goroutines are stuck here:\n%s", limit, w.describe(), buf)
		return nil, nil, false
	}
}

// checkOverlap fails the test if the precincts were not all counted at
// the same time.
func (w *tallyWatch) checkOverlap() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.serialized || w.maxCounting < w.n {
		w.t.Errorf("serialized: at most %d of the %d precincts were being counted at the same time (workers started at %s); Tally must count every precinct at once, each in a worker process of its own",
			w.maxCounting, w.n, w.spawnAt)
	}
}

// checkLedger checks that the ledger holds the early votes plus every
// precinct's votes, and reports whether it does.
func (w *tallyWatch) checkLedger(early Totals, precincts []Precinct, want Totals) bool {
	w.t.Helper()
	got, err := OpenLedger(w.ledger).Read()
	if err != nil {
		w.t.Errorf("reading the ledger after Tally: %v", err)
		return false
	}
	if got.String() == want.String() {
		return true
	}
	w.mu.Lock()
	lost, readAt, writeAt := w.lost, w.readAt, w.writeAt
	w.mu.Unlock()
	if len(lost) == 0 {
		w.t.Errorf("after Tally, the ledger holds %d votes (%s), want %d (%s)",
			got.Sum(), oneLine(got), want.Sum(), oneLine(want))
		return false
	}
	in := ""
	if k, n, ok := precinctsIn(got, early, precincts); ok {
		in = fmt.Sprintf("; the votes of only %d of the %d precincts with votes are in it", k, n)
	}
	which := "the worker of precinct " + lost[0]
	if len(lost) > 1 {
		which = fmt.Sprintf("%d of them (precincts %s)", len(lost), strings.Join(lost, ", "))
	}
	w.t.Errorf("race: the ledger lost votes: it holds %d votes (%s), want %d (%s)%s. The worker processes read the ledger (at %s), added their votes and wrote it back (at %s) at the same time: %s wrote totals that another worker had changed since it read them, replacing that worker's votes (Python: processes updating shared state without a lock)",
		got.Sum(), oneLine(got), want.Sum(), oneLine(want), in, readAt, writeAt, which)
	return false
}

// precinctsIn returns k, the fewest precincts whose votes, added to early,
// make up got, if some set of them does, and n, the number of precincts
// that have votes at all.
func precinctsIn(got, early Totals, precincts []Precinct) (k, n int, ok bool) {
	var voted []Totals
	for _, p := range precincts {
		if votes, _ := p.Count(); len(votes) > 0 {
			voted = append(voted, votes)
		}
	}
	for set := range 1 << len(voted) {
		t := Totals{}
		t.Add(early)
		size := 0
		for i, votes := range voted {
			if set&(1<<i) != 0 {
				t.Add(votes)
				size++
			}
		}
		if t.String() == got.String() && (!ok || size < k) {
			k, ok = size, true
		}
	}
	return k, len(voted), ok
}

// oneLine writes totals on one line: "alice 7, bob 5".
func oneLine(t Totals) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, t[name]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// describe says what state every worker is in.
func (w *tallyWatch) describe() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d workers started (at %s)", len(w.workers), w.spawnAt)
	for _, tw := range w.workers {
		state := "running"
		switch {
		case isClosed(tw.w.reaped):
			state = "reaped"
		case tw.exited:
			state = "exited, not reaped"
		case tw.held != "":
			state = "waiting for the test after its " + tw.held
		}
		fmt.Fprintf(&b, "; precinct %s's worker (pid %d) %s", tw.precinct, tw.w.cmd.Process.Pid, state)
	}
	return b.String()
}

// stop kills every worker still running, reaps every worker and waits
// until their reports have ended. It is safe to call again.
func (w *tallyWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.quietTimer != nil {
		w.quietTimer.Stop()
	}
	for _, t := range w.timers {
		t.Stop()
	}
	workers := w.workers
	w.mu.Unlock()
	for _, tw := range workers {
		if !isClosed(tw.w.reaped) {
			tw.w.cmd.Process.Kill() // safe while Wait runs in another goroutine
		}
		// Wait may run at the same time in a goroutine of Tally: Worker
		// makes that safe, and both return once the worker is reaped.
		tw.w.Wait()
		select {
		case <-tw.gone:
		case <-time.After(patience):
			w.t.Errorf("the worker of precinct %s still holds its report pipe %v after it was reaped", tw.precinct, patience)
		}
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

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
