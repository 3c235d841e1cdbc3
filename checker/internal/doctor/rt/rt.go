// Package rt is the doctor's runtime: the code that package doctor compiles
// into the test binary of every package it diagnoses, through go build's
// -overlay, without touching a file of the user's tree. It runs each
// top-level test under a real-time deadline ([Run]), looks for goroutines
// a test leaves behind, and checks the order in which locks are taken
// ([Mutex], [RWMutex], which the overlay puts in place of sync's).
//
// Everything it finds is printed to stderr as a report that starts with a
// line "racelab-doctor: KIND TEST: ..." and ends with "racelab-doctor:
// end"; package diagnose reads those reports (dump.go there). Reports carry
// goroutine dumps in the runtime's own format; the doctor never shows them
// raw.
//
// The code is injected into modules of any age, so it is written in the
// Go of go.mod's go directive as old as 1.17: no generics, no any, no min
// or max, no range over integers.
//
// None of it may create a happens-before edge between two of the user's
// goroutines, or the race detector would miss races it reports without
// the doctor (go-deadlock's global lock hides races that way). The lock
// checker therefore keeps its books in one goroutine of its own and talks
// to it over a channel with the race detector's synchronization handling
// off (see race.go).
package rt

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Configuration, from the environment the doctor sets. A test binary run
// by hand gets the defaults.
const (
	envDeadline = "RACELAB_DOCTOR_DEADLINE" // per-test deadline, a time.Duration; "0" for none
	envLeaks    = "RACELAB_DOCTOR_LEAKS"    // "0" turns the leak check off
	envSettle   = "RACELAB_DOCTOR_SETTLE"   // how long leftover goroutines get to finish
	envLocks    = "RACELAB_DOCTOR_LOCKS"    // "0" turns the lock checker off
	envProfile  = "RACELAB_DOCTOR_LEAKPROFILE"
	envModule   = "RACELAB_DOCTOR_MODULE" // the module path: frames under it are the user's code
)

type config struct {
	deadline    time.Duration
	leaks       bool
	settle      time.Duration
	locks       bool
	leakProfile bool
	module      string
}

var cfg = loadConfig()

func loadConfig() config {
	c := config{deadline: 5 * time.Second, leaks: true, settle: 500 * time.Millisecond, locks: true}
	if d, err := time.ParseDuration(os.Getenv(envDeadline)); err == nil && d >= 0 {
		c.deadline = d
	}
	if d, err := time.ParseDuration(os.Getenv(envSettle)); err == nil && d >= 0 {
		c.settle = d
	}
	c.leaks = os.Getenv(envLeaks) != "0"
	c.locks = os.Getenv(envLocks) != "0"
	c.leakProfile = os.Getenv(envProfile) == "1"
	c.module = os.Getenv(envModule)
	if c.module == "" {
		// Injected as <module>/racelabdoctor_rt.
		p := reflect.TypeOf(Mutex{}).PkgPath()
		if i := strings.LastIndex(p, "/"); i > 0 {
			c.module = p[:i]
		}
	}
	return c
}

// rtPkg is this package's import path: its frames are never the user's.
var rtPkg = reflect.TypeOf(Mutex{}).PkgPath()

// exitDeadline is the test binary's exit status after a deadline report.
// The deadline is the doctor's own alarm, like the testing package's
// -timeout panic: the stuck test cannot be failed any other way, and the
// doctor runs the tests that did not get their turn in a new process.
const exitDeadline = 2

// Run runs one top-level test: the doctor renames the user's TestX and
// generates
//
//	func TestX(t *testing.T) { racelabdoctor_rt.Run(t, racelabDoctor_TestX) }
//
// The test runs on its own goroutine, as it would without the doctor. A
// watchdog reports it if it has not finished within the deadline; after it
// (and its subtests and cleanups) finished, goroutines it left behind are
// reported, unless it called t.Parallel: other tests' goroutines then run
// beside it and the check would blame it for them.
func Run(t *testing.T, test func(*testing.T)) {
	name := t.Name()
	g := goid()
	var base map[int64]bool
	if cfg.leaks {
		base = map[int64]bool{}
		for _, gr := range parseDump(snapshot()) {
			base[gr.id] = true
		}
	}
	var w *watch
	if cfg.deadline > 0 {
		w = startWatch(name, g)
	}
	testStarted(name)
	// Registered first, so it runs last: after the test's own cleanups,
	// which may be what stops its goroutines, and after its subtests.
	t.Cleanup(func() {
		if w != nil {
			w.stop()
		}
		if cfg.leaks && checkLeaks(name, g, base, isParallel(t)) {
			t.Fail()
		}
		// After the leak check: goroutines the test started may lock
		// while it waits for them, and their reports are the test's.
		if flushReports(name) {
			t.Fail()
		}
		testEnded(name)
	})
	test(t)
}

// isParallel reports whether t called t.Parallel. The testing package
// does not say; its field does.
func isParallel(t *testing.T) bool {
	v := reflect.ValueOf(t).Elem().FieldByName("isParallel")
	return v.IsValid() && v.Kind() == reflect.Bool && v.Bool()
}

// goid returns the current goroutine's id, read from its stack header
// ("goroutine 18 [running]:").
func goid() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := strings.TrimPrefix(string(buf[:n]), "goroutine ")
	if i := strings.IndexByte(s, ' '); i > 0 {
		id, _ := strconv.ParseInt(s[:i], 10, 64)
		return id
	}
	return 0
}

// snapshot returns every goroutine's stack, as the runtime prints them.
func snapshot() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// A gor is one goroutine of a dump.
type gor struct {
	id      int64
	state   string // "chan send", "sync.Mutex.Lock", ...
	text    string // the goroutine's whole entry, header included
	funcs   []string
	creator int64 // "created by ... in goroutine N"; 0 when unknown
}

// parseDump splits a runtime.Stack(all) dump into goroutines.
func parseDump(dump []byte) []gor {
	var out []gor
	for _, entry := range strings.Split(strings.TrimSpace(string(dump)), "\n\n") {
		lines := strings.Split(entry, "\n")
		h := lines[0]
		if !strings.HasPrefix(h, "goroutine ") {
			continue
		}
		rest := h[len("goroutine "):]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			continue
		}
		id, err := strconv.ParseInt(rest[:sp], 10, 64)
		if err != nil {
			continue
		}
		g := gor{id: id, text: entry}
		if i, j := strings.IndexByte(rest, '['), strings.LastIndexByte(rest, ']'); i >= 0 && j > i {
			g.state = rest[i+1 : j]
			if k := strings.Index(g.state, ", "); k >= 0 {
				g.state = g.state[:k]
			}
		}
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") {
				continue
			}
			if c := strings.TrimPrefix(l, "created by "); c != l {
				fn := c
				if k := strings.Index(c, " in goroutine "); k >= 0 {
					fn = c[:k]
					g.creator, _ = strconv.ParseInt(c[k+len(" in goroutine "):], 10, 64)
				}
				g.funcs = append(g.funcs, fn)
				continue
			}
			if k := strings.LastIndexByte(l, '('); k > 0 {
				l = l[:k]
			}
			g.funcs = append(g.funcs, l)
		}
		out = append(out, g)
	}
	return out
}

// userFunc reports whether fn (as printed in a stack) belongs to the
// module under test, not to the standard library, a dependency or the
// doctor.
func userFunc(fn string) bool {
	if strings.HasPrefix(fn, rtPkg+".") {
		return false
	}
	if strings.HasPrefix(fn, "main.") {
		return true // a main package's tests
	}
	m := cfg.module
	return m != "" && (strings.HasPrefix(fn, m+"/") || strings.HasPrefix(fn, m+"."))
}

func (g gor) user() bool {
	for _, f := range g.funcs {
		if userFunc(f) {
			return true
		}
	}
	return false
}

// watch is one test's watchdog.
type watch struct {
	name string
	g    int64
	done chan struct{}
	quit chan struct{}
}

func startWatch(name string, g int64) *watch {
	w := &watch{name: name, g: g, done: make(chan struct{}), quit: make(chan struct{})}
	go w.loop() // ends when the test ends (stop), or ends the process
	return w
}

// stop ends the watchdog and waits until it has, so that it never fires
// for a test that finished.
func (w *watch) stop() {
	close(w.quit)
	<-w.done
}

// loop samples every goroutine four times per deadline, so the report can
// say how long each has been stuck where it is, and fires at the deadline.
// Time a test spends paused in t.Parallel, waiting for its turn, does not
// count.
func (w *watch) loop() {
	defer close(w.done)
	period := cfg.deadline / 4
	if period < time.Millisecond {
		period = time.Millisecond
	}
	start := time.Now()
	first := map[string]time.Time{} // goroutine id and where it is -> first seen there
	timer := time.NewTimer(period)
	defer timer.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-timer.C:
		}
		dump := snapshot()
		gs := parseDump(dump)
		now := time.Now()
		if w.paused(gs) {
			start = now
			first = map[string]time.Time{}
			timer.Reset(period)
			continue
		}
		for _, g := range gs {
			if _, ok := first[signature(g)]; !ok {
				first[signature(g)] = now
			}
		}
		if left := cfg.deadline - now.Sub(start); left > 0 {
			if left > period {
				left = period
			}
			timer.Reset(left)
			continue
		}
		select {
		case <-w.quit: // finished just now after all
			return
		default:
		}
		w.fire(dump, gs, first, now)
	}
}

// paused reports whether the test's goroutine waits in t.Parallel for the
// sequential tests to finish.
func (w *watch) paused(gs []gor) bool {
	for _, g := range gs {
		if g.id != w.g {
			continue
		}
		for _, f := range g.funcs {
			if f == "testing.(*T).Parallel" {
				return true
			}
		}
	}
	return false
}

// signature is a goroutine's identity and where it is: the same signature
// in two samples means it did not move in between.
func signature(g gor) string {
	lines := strings.SplitN(g.text, "\n", 4)
	key := strconv.FormatInt(g.id, 10) + "|" + g.state
	if len(lines) > 2 {
		key += "|" + lines[1] + "|" + stripOffset(lines[2])
	}
	return key
}

// stripOffset drops the " +0x1d" program-counter offset of a file line.
func stripOffset(l string) string {
	if i := strings.LastIndex(l, " +0x"); i > 0 {
		return l[:i]
	}
	return l
}

// fire writes the deadline report and ends the process.
func (w *watch) fire(dump []byte, gs []gor, first map[string]time.Time, now time.Time) {
	var b bytes.Buffer
	// Lock reports first: a double lock found on the way in explains the
	// hang better than the dump does.
	for _, r := range takeReports(w.name) {
		b.WriteString(r)
	}
	fmt.Fprintf(&b, "racelab-doctor: deadline %s: did not finish within %s (test goroutine %d)\n", w.name, cfg.deadline, w.g)
	b.WriteString(lockState())
	for _, g := range gs {
		if !g.user() || g.id == w.g && g.state == "running" {
			continue
		}
		if since, ok := first[signature(g)]; ok && now.Sub(since) > 0 {
			fmt.Fprintf(&b, "racelab-doctor: goroutine %d unchanged for %s\n", g.id, round(now.Sub(since)))
		}
	}
	b.WriteString("racelab-doctor: goroutine dump:\n")
	b.Write(bytes.TrimSpace(dump))
	b.WriteString("\n\nracelab-doctor: end\n")
	writeStderr(b.Bytes())
	os.Exit(exitDeadline)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d
}

// checkLeaks reports the user's goroutines that did not exist when the
// test started and are still there after it returned, giving them
// cfg.settle to finish first, as goleak does. It reports whether it found
// any.
func checkLeaks(name string, testG int64, base map[int64]bool, parallel bool) bool {
	if parallel {
		note(name, "leak check skipped: the test calls t.Parallel, so other tests' goroutines run beside it")
		return leakProfile(name, testG)
	}
	start := time.Now()
	delay := time.Millisecond
	limit := cfg.settle
	for {
		var leaked []gor
		var ids []string
		all := parseDump(snapshot())
		for _, g := range all {
			if !base[g.id] && g.id != testG && g.user() {
				leaked = append(leaked, g)
				ids = append(ids, strconv.FormatInt(g.id, 10))
			}
		}
		if len(leaked) == 0 {
			return false
		}
		waited := time.Since(start)
		if waited >= limit && limit == cfg.settle && progressing(leaked) {
			// A goroutine still running, runnable or sleeping is slow,
			// maybe starved on a loaded machine, not stuck: give it
			// twice as long again before calling it leaked.
			limit = 3 * cfg.settle
		}
		if waited >= limit {
			var b bytes.Buffer
			n := "1 goroutine"
			if len(leaked) > 1 {
				n = fmt.Sprintf("%d goroutines", len(leaked))
			}
			fmt.Fprintf(&b, "racelab-doctor: leak %s: %s still running %s after the test returned\n", name, n, round(waited))
			if ids := leakedIDs(); ids != nil {
				var confirmed []string
				for _, g := range leaked {
					if ids[g.id] {
						confirmed = append(confirmed, strconv.FormatInt(g.id, 10))
					}
				}
				fmt.Fprintf(&b, "racelab-doctor: runtime leak detector: goroutines %s can never run again\n", strings.Join(confirmed, " "))
			}
			// Who holds which lock, and every goroutine's stack: the
			// goroutines left behind may be stuck on each other's locks,
			// or on one that a finished call never unlocked.
			b.WriteString(lockState())
			fmt.Fprintf(&b, "racelab-doctor: leaked goroutines: %s\n", strings.Join(ids, " "))
			b.WriteString("racelab-doctor: goroutine dump:\n")
			for _, g := range all {
				b.WriteString(g.text)
				b.WriteString("\n\n")
			}
			b.WriteString("racelab-doctor: end\n")
			writeStderr(b.Bytes())
			return true
		}
		if rest := limit - waited; delay > rest {
			delay = rest
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// progressing reports whether any of gs is not blocked on a channel or a
// sync primitive, and so may still finish by itself.
func progressing(gs []gor) bool {
	for _, g := range gs {
		st := strings.TrimSuffix(g.state, " (durable)")
		switch {
		case strings.HasPrefix(st, "chan "), strings.HasPrefix(st, "select"), strings.HasPrefix(st, "sync."), st == "semacquire":
		default:
			return true
		}
	}
	return false
}

// note prints a remark about a test that is not a finding.
func note(test, msg string) {
	writeStderr([]byte("racelab-doctor: note " + test + ": " + msg + "\n"))
}

// writeStderr writes a report in one write, so it is not interleaved with
// other output, and with synchronization handling off: a write to a file
// counts as a release in the race detector, which would order the writer
// before every later reader of any file.
func writeStderr(b []byte) {
	// On a line of its own, whatever the test printed last.
	b = append([]byte{'\n'}, b...)
	raceDisable()
	stderr.Write(b)
	raceEnable()
}

// stderr is the process's standard error, taken before any test runs:
// testing.M.Run assigns os.Stderr, and the lock checker's goroutine, which
// is ordered after nothing, would race with that assignment.
var stderr = os.Stderr
