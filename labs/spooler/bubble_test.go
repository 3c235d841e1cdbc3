package spooler

// The tests run in testing/synctest bubbles. Inside a bubble, a goroutine
// waiting in Cond.Wait or on a channel is durably blocked: when every
// goroutine of the bubble is, the bubble panics with "all goroutines in
// bubble are blocked", which is a deadlock found at once, whatever the
// timing. synctest.Wait() likewise returns only once every other goroutine
// is durably blocked, so a test knows, without sleeping, that the printers
// and submitters it started are all waiting.
//
// A goroutine waiting for a sync.Mutex is not durably blocked, so a bubble
// in which one does cannot move on, and says nothing. A watcher outside the
// bubble reads the goroutine dump instead: once every goroutine of the
// bubble is either durably blocked or waiting for a lock, none of them will
// ever move again (fake time stands still while any goroutine is not
// durably blocked, and only the bubble's goroutines use the spool's lock).
// The watcher then prints every goroutine and ends the test binary with a
// message that starts with its kind.

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const (
	// pollMin and pollMax bound the pause before each look at the
	// goroutines: a look stops the world, so the watcher looks soon at
	// first, then less and less often.
	pollMin = 100 * time.Microsecond
	pollMax = 20 * time.Millisecond
	// busyLimit bounds, in real time, a bubble whose goroutines neither
	// finish nor wait (a goroutine that spins). Stuck bubbles are seen at
	// once, so only such code meets it; it is generous because a correct
	// spool, which needs milliseconds of CPU, can take seconds on a machine
	// loaded many times over.
	busyLimit = 30 * time.Second
)

// inBubble runs f in a synctest bubble, watched from outside.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	stop := make(chan struct{})
	watcher := make(chan struct{})
	go func() { // exits when the bubble has ended, or ends the test binary
		defer close(watcher)
		watch(t.Name(), stop)
	}()
	defer func() {
		close(stop)
		<-watcher
	}()
	synctest.Test(t, f)
}

// watch looks at the goroutines of the running bubble until stop is
// closed. If they are stuck for good, or still busy after busyLimit, it
// prints every goroutine and panics, which ends the test binary: a bubble
// that cannot move on cannot be failed any other way.
func watch(test string, stop <-chan struct{}) {
	limit := time.After(busyLimit)
	var d time.Duration
	for {
		d = min(max(2*d, pollMin), pollMax)
		select {
		case <-stop:
			return
		case <-limit:
			fail(test, fmt.Sprintf("%s still running after %v of real time: goroutines in its bubble neither finish nor wait", test, busyLimit))
		case <-time.After(d):
		}
		var bubble []goroutine
		for _, g := range goroutines() {
			if g.bubble {
				bubble = append(bubble, g)
			}
		}
		if stuck(bubble) {
			fail(test, verdict(test, bubble))
		}
	}
}

// fail prints every goroutine, then panics with msg.
func fail(test, msg string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", test, buf)
	panic(msg)
}

// stuck reports whether the goroutines of a bubble are stuck for good:
// each is durably blocked or waits for a lock, and one at least waits for
// a lock (else the bubble sees it is stuck by itself, or moves fake time
// on).
func stuck(bubble []goroutine) bool {
	onLock := false
	for _, g := range bubble {
		switch {
		case g.onLock():
			onLock = true
		case !g.durable:
			return false
		}
	}
	return onLock
}

// verdict says what the goroutines of a stuck bubble wait for. Printers
// waiting for a lock inside Next while another printer waits inside Next
// for a job take turns waiting: that is serialized. Anything else stuck on
// a lock is a deadlock.
func verdict(test string, bubble []goroutine) string {
	var onLock, waiting []string
	inNext := func(f frame) bool { return strings.HasSuffix(f.fn, ".(*Spool).Next") }
	turns := true
	anyInNext := false
	for _, g := range bubble {
		w, ok := g.where()
		if !ok {
			continue
		}
		at := fmt.Sprintf("%s waits at %s (in %s, %s)", g.name(), w.short(), w.method(), g.state)
		if g.onLock() {
			onLock = append(onLock, at)
			turns = turns && inNext(w)
		} else {
			waiting = append(waiting, at)
			anyInNext = anyInNext || inNext(w)
		}
	}
	if turns && anyInNext {
		return fmt.Sprintf("serialized: in %s, printers take turns waiting in Next: %s, for a lock that a printer holds while it waits for a job (%s). Want every idle printer waiting for a job at once, on the spool's condition, not on a lock held across the wait",
			test, strings.Join(onLock, "; "), strings.Join(waiting, "; "))
	}
	return fmt.Sprintf("deadlock: in %s, %s, and every other goroutine of the test waits too (%s), so nobody will ever release the lock",
		test, strings.Join(onLock, "; "), strings.Join(waiting, "; "))
}

// A frame is one call of a goroutine's stack.
type frame struct {
	fn   string // function, without arguments
	file string
	line int
}

// A goroutine is one entry of a goroutine dump.
type goroutine struct {
	id      int
	state   string  // why it is parked ("sync.Cond.Wait", "sync.Mutex.Lock"), or "running"...
	durable bool    // durably blocked in a synctest bubble
	bubble  bool    // in a synctest bubble
	frames  []frame // innermost first; the "created by" frame is left out
}

// goroutines returns every goroutine of the process, as the runtime saw
// them at one instant (runtime.Stack stops the world).
func goroutines() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var gs []goroutine
	for block := range strings.SplitSeq(string(buf), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		// goroutine 7 [sync.Cond.Wait (durable), synctest bubble 1]:
		head, ok := strings.CutPrefix(lines[0], "goroutine ")
		if !ok || !strings.Contains(head, "[") {
			continue
		}
		idText, rest, _ := strings.Cut(head, " ")
		id, _ := strconv.Atoi(idText)
		header := strings.TrimSuffix(rest[strings.Index(rest, "[")+1:], "]:")
		state, _, _ := strings.Cut(header, ", ")
		g := goroutine{id: id, bubble: strings.Contains(header, "synctest bubble")}
		g.state, g.durable = strings.CutSuffix(state, " (durable)")
		for i := 1; i+1 < len(lines); i += 2 {
			if strings.HasPrefix(lines[i], "created by ") {
				break
			}
			fn := lines[i]
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			loc, _, _ := strings.Cut(strings.TrimSpace(lines[i+1]), " +0x")
			colon := strings.LastIndex(loc, ":")
			if colon < 0 {
				continue
			}
			line, _ := strconv.Atoi(loc[colon+1:])
			g.frames = append(g.frames, frame{fn: fn, file: loc[:colon], line: line})
		}
		gs = append(gs, g)
	}
	return gs
}

// goid returns the id of the calling goroutine.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _ := strconv.Atoi(strings.Fields(string(buf))[1])
	return id
}

// pkgPrefix is "<import path of this package>.", the prefix of the names of
// its functions in a goroutine dump.
var pkgPrefix = func() string {
	fn := runtime.FuncForPC(funcPC()).Name() // "<import path>.funcPC"
	return fn[:strings.LastIndex(fn, ".")+1]
}()

func funcPC() uintptr {
	pc, _, _, _ := runtime.Caller(0)
	return pc
}

// ours reports whether f is code of the package under test, not of its
// tests.
func (f frame) ours() bool {
	return strings.HasPrefix(f.fn, pkgPrefix) && !strings.HasSuffix(f.file, "_test.go")
}

// short is "spooler.go:71".
func (f frame) short() string {
	return fmt.Sprintf("%s:%d", f.file[strings.LastIndex(f.file, "/")+1:], f.line)
}

// method is "(*Spool).Next" for "<import path>.(*Spool).Next".
func (f frame) method() string { return strings.TrimPrefix(f.fn, pkgPrefix) }

// where is the innermost frame of the package's code: the line where g
// waits, as far as the learner's code goes.
func (g goroutine) where() (frame, bool) {
	i := slices.IndexFunc(g.frames, frame.ours)
	if i < 0 {
		return frame{}, false
	}
	return g.frames[i], true
}

// onLock reports whether g waits in Lock or RLock.
func (g goroutine) onLock() bool {
	return slices.Contains([]string{"sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock"}, g.state)
}

// names holds a name for the goroutines the tests start.
var names sync.Map // goroutine id -> string

// nameGoroutine names the calling goroutine, for reports.
func nameGoroutine(name string) { names.Store(goid(), name) }

// name is g's name, if the tests know it.
func (g goroutine) name() string {
	if n, ok := names.Load(g.id); ok {
		return n.(string)
	}
	return fmt.Sprintf("goroutine %d", g.id)
}

// waitingIn lists, for a message, where the named goroutines among gs wait
// in the spool's code: "printer 2 at spooler.go:77 (sync.Cond.Wait)".
func waitingIn(gs []goroutine) string {
	var at []string
	for _, g := range gs {
		if _, named := names.Load(g.id); !named {
			continue
		}
		if w, ok := g.where(); ok {
			at = append(at, fmt.Sprintf("%s at %s (%s)", g.name(), w.short(), g.state))
		}
	}
	return strings.Join(at, ", ")
}
