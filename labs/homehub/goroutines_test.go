package homehub

// The tests never decide that a call is stuck because it is slow: they read
// the runtime's goroutine dump. Only the hub's own code can wake a goroutine
// parked in the hub's code (its channels and locks are unexported), so once
// every goroutine in the hub's code is parked (on a lock, a channel, a
// select, a Cond or a WaitGroup) while the test only waits, none of them
// will ever move again: the calls are stuck for good. That state is seen as
// soon as it happens, whatever mutex the hub uses, and a correct hub never
// reaches it while a call is under way: a goroutine that holds the lock or
// has an event to hand over is always running or runnable.
//
// The one thing this cannot tell from a dump is a wait with a timeout (a
// select with a time.After case) in the hub's code: it would count as
// stuck. The hub's contract has no timeouts, so none belongs there.

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// pollMin and pollMax bound the pause before each look at the
	// goroutines while a test waits: a look stops the world, so the tests
	// look soon at first, then less and less often.
	pollMin = 100 * time.Microsecond
	pollMax = 20 * time.Millisecond
	// busyLimit ends, in real time, a wait for code that neither finishes
	// nor parks (a goroutine that spins). Stuck calls are seen at once, so
	// only such code ever meets this limit; it is generous because a
	// correct hub, which needs milliseconds of CPU, can take seconds on a
	// machine loaded many times over.
	busyLimit = 30 * time.Second
)

// A backoff paces the looks at the goroutines: pollMin before the first,
// twice as long before each next one, up to pollMax.
type backoff struct{ d time.Duration }

// next returns a channel that receives once the next pause is over.
func (b *backoff) next() <-chan time.Time {
	b.d = min(max(2*b.d, pollMin), pollMax)
	return time.After(b.d)
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

// A frame is one call of a goroutine's stack.
type frame struct {
	fn   string // function, without arguments
	file string
	line int
}

// A goroutine is one entry of a goroutine dump.
type goroutine struct {
	id     int
	state  string  // why it is parked ("sync.Mutex.Lock", "select"), or "running"...
	frames []frame // innermost first; the "created by" frame is left out
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
		// goroutine 7 [sync.Mutex.Lock, 2 minutes]:
		head, ok := strings.CutPrefix(lines[0], "goroutine ")
		if !ok || !strings.Contains(head, "[") {
			continue
		}
		idText, rest, _ := strings.Cut(head, " ")
		id, _ := strconv.Atoi(idText)
		state := strings.TrimSuffix(rest[strings.Index(rest, "[")+1:], "]:")
		state, _, _ = strings.Cut(state, ", ")
		g := goroutine{id: id, state: state}
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

// inPackage reports whether f is code of this package, tests included.
func (f frame) inPackage() bool { return strings.HasPrefix(f.fn, pkgPrefix) }

// ours reports whether f is code of the package under test, not of its
// tests.
func (f frame) ours() bool { return f.inPackage() && !strings.HasSuffix(f.file, "_test.go") }

// short is "homehub.go:71".
func (f frame) short() string {
	return fmt.Sprintf("%s:%d", f.file[strings.LastIndex(f.file, "/")+1:], f.line)
}

// method is "(*Hub).Publish" for "<import path>.(*Hub).Publish".
func (f frame) method() string { return strings.TrimPrefix(f.fn, pkgPrefix) }

// inCode reports whether g is running the package's code: some frame of
// its stack is.
func (g goroutine) inCode() bool { return slices.ContainsFunc(g.frames, frame.ours) }

// where is the innermost frame of the package's code: the line where g
// waits, as far as the learner's code goes.
func (g goroutine) where() (frame, bool) {
	i := slices.IndexFunc(g.frames, frame.ours)
	if i < 0 {
		return frame{}, false
	}
	return g.frames[i], true
}

// lockStates are the states of a goroutine parked in Lock or RLock.
var lockStates = []string{"sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock"}

// waitStates are the other states of a goroutine parked until another
// goroutine acts. "semacquire" is left out on purpose: it is the state of a
// goroutine waiting for one of the runtime's own semaphores, such as one that
// allocates, starts a garbage collection and waits for the world to restart
// after the very goroutine dump that reads it. Counting it as parked made a
// correct hub look stuck (1 run in about 500, under load).
var waitStates = []string{"chan send", "chan receive", "select", "sync.Cond.Wait", "sync.WaitGroup.Wait"}

// onLock reports whether g is parked in Lock or RLock.
func (g goroutine) onLock() bool { return slices.Contains(lockStates, g.state) }

// parked reports whether g waits until another goroutine acts: on a lock,
// a channel, a select, a Cond or a WaitGroup ("chan receive (nil chan)"
// and "select (no cases)" included). A meeting's watcher is never parked:
// it waits in a select on a timer, and moves on by itself.
func (g goroutine) parked() bool {
	if g.onLock() {
		return true
	}
	if g.watching() {
		return false
	}
	return slices.ContainsFunc(waitStates, func(s string) bool { return g.state == s || strings.HasPrefix(g.state, s+" (") })
}

// watching reports whether g is the watcher of a meeting: the first
// handler to arrive, which looks at the goroutines between pauses until
// the meeting can end. Counted as parked, it could make a hub whose
// handlers take turns look deadlocked instead of serialized.
func (g goroutine) watching() bool {
	return strings.HasPrefix(g.state, "select") &&
		slices.ContainsFunc(g.frames, func(f frame) bool { return f.fn == pkgPrefix+"(*meeting).arrive" })
}

// doing says what g waits for, in words.
func (g goroutine) doing() string {
	switch {
	case g.onLock():
		return "waits for a lock (" + g.state + ")"
	case g.state == "running" || g.state == "runnable":
		return "is still running"
	}
	return "waits (" + g.state + ")"
}

// names holds a name for goroutines the tests know: the calls they start,
// and the handlers' goroutines once a handler has run on them.
var names sync.Map // goroutine id -> string

// nameGoroutine names the calling goroutine, for reports.
func nameGoroutine(name string) { names.LoadOrStore(goid(), name) }

// name is g's name, if the tests know it.
func (g goroutine) name() string {
	if n, ok := names.Load(g.id); ok {
		return n.(string)
	}
	return fmt.Sprintf("goroutine %d", g.id)
}

// isCall reports whether the calling goroutine is one a test started to
// call into the hub: a handler that runs on it runs on the caller's
// goroutine.
func isCall() bool {
	_, ok := calls.Load(goid())
	return ok
}

// calls holds the ids of the goroutines start made.
var calls sync.Map // goroutine id -> *call

// A call is a call into the hub, made on its own goroutine so that the test
// can bound it.
type call struct {
	name string        // what was called, as the learner reads it
	id   int           // the goroutine making the call
	done chan struct{} // closed when the call has returned
}

// start calls f on a new goroutine, once its id is known. What f stores may
// be read once done is closed; a call that never returns is abandoned, and
// the test reads nothing it writes.
func start(name string, f func()) *call {
	c := &call{name: name, done: make(chan struct{})}
	ids := make(chan int, 1)
	begin := make(chan struct{})
	go func() { // exits when f returns, or never if f is stuck
		ids <- goid()
		<-begin
		f()
		close(c.done)
	}()
	c.id = <-ids
	names.Store(c.id, name)
	calls.Store(c.id, c)
	close(begin)
	return c
}

// returned reports whether c has returned.
func (c *call) returned() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// reported holds the goroutines a stall report has shown: they are stuck
// for good, and later reports leave them out.
var reported sync.Map // goroutine id -> bool

// A stall says why calls did not return.
type stall struct {
	stuck bool        // parked for good; else still busy after busyLimit
	calls []*call     // the calls that had not returned
	gs    []goroutine // the goroutines in the hub's code, not reported before
}

// wait waits for every call to return, and says why if they do not: they
// are stuck, or still busy after busyLimit.
func wait(cs ...*call) (stall, bool) {
	limit := time.After(busyLimit)
	var b backoff
	for {
		var pending []*call
		for _, c := range cs {
			if !c.returned() {
				pending = append(pending, c)
			}
		}
		if len(pending) == 0 {
			return stall{}, true
		}
		timeUp := false
		select {
		case <-pending[0].done:
			continue
		case <-b.next():
		case <-limit:
			timeUp = true
		}
		gs := goroutines()
		if st := stuck(gs, pending); st || timeUp {
			pending = slices.DeleteFunc(pending, (*call).returned)
			if len(pending) == 0 {
				continue
			}
			var fresh []goroutine
			for _, g := range gs {
				if _, old := reported.LoadOrStore(g.id, true); g.inCode() && !old {
					fresh = append(fresh, g)
				}
			}
			return stall{stuck: st, calls: pending, gs: fresh}, false
		}
	}
}

// stuck reports whether the goroutines gs show calls stuck for good: no
// goroutine but the caller's is running or ready to run (a goroutine just
// started has no frame in the hub's code yet), every goroutine in the
// hub's code is parked, and one of the pending calls is among them.
func stuck(gs []goroutine, pending []*call) bool {
	if busy(gs) {
		return false
	}
	held := false
	for _, g := range gs {
		if !g.inCode() {
			continue
		}
		if !g.parked() {
			return false
		}
		if slices.ContainsFunc(pending, func(c *call) bool { return c.id == g.id }) {
			held = true
		}
	}
	return held
}

// busy reports whether a goroutine of gs other than the caller's is
// running or ready to run.
func busy(gs []goroutine) bool {
	me := goid()
	return slices.ContainsFunc(gs, func(g goroutine) bool {
		return g.id != me && (g.state == "running" || g.state == "runnable")
	})
}

// returns waits for calls to return, and fails t and stops it if they do
// not, saying where every goroutine in the hub's code waits.
func returns(t *testing.T, cs ...*call) {
	t.Helper()
	if s, ok := wait(cs...); !ok {
		t.Fatal(s.report())
	}
}

// parkedOrReturned waits until c has returned (true) or is parked (false).
// It gives up after busyLimit (false); the test's next wait then says why.
func parkedOrReturned(c *call) bool {
	limit := time.After(busyLimit)
	var b backoff
	for {
		select {
		case <-c.done:
			return true
		case <-limit:
			return false
		case <-b.next():
		}
		if c.returned() {
			return true
		}
		for _, g := range goroutines() {
			if g.id == c.id && g.parked() {
				return false
			}
		}
	}
}

// report says, in a failure message that starts with its kind, why the
// calls did not return and where each goroutine in the hub's code waits.
// Its last line names the line where the first stuck call waits: that is
// where to look first.
func (s stall) report() string {
	var b strings.Builder
	first := s.calls[0]
	var call goroutine
	for _, g := range s.gs {
		if g.id == first.id {
			call = g
		}
	}
	at, _ := call.where()
	names := s.names()
	subject := "it"
	if len(s.calls) > 1 {
		subject = first.name
	}
	if !s.stuck {
		fmt.Fprintf(&b, "%s still had not returned after %v; want every call to return at once.\n", names, busyLimit)
	} else {
		var lockers []string
		for _, g := range s.gs {
			if g.onLock() && g.id != first.id {
				if w, ok := g.where(); ok {
					lockers = append(lockers, fmt.Sprintf("%s waits for a lock at %s (in %s)", g.name(), w.short(), w.method()))
				}
			}
		}
		switch {
		case call.onLock():
			fmt.Fprintf(&b, "deadlock: %s never returned: %s waits for a lock at %s (in %s), and every goroutine in the hub's code is waiting too, so nobody will ever release it.\n", names, subject, at.short(), at.method())
		case len(lockers) > 0:
			fmt.Fprintf(&b, "deadlock: %s never returned: %s waits (%s) at %s (in %s), while %s: every goroutine in the hub's code waits for another one, so none of them will ever go on.\n", names, subject, call.state, at.short(), at.method(), strings.Join(lockers, ", and "))
		default:
			fmt.Fprintf(&b, "deadlock: %s never returned: %s waits (%s) at %s (in %s), and no goroutine in the hub's code is left to wake it.\n", names, subject, call.state, at.short(), at.method())
		}
	}
	b.WriteString("\nWhere each goroutine in the hub's code is:\n")
	for _, g := range s.gs {
		fmt.Fprintf(&b, "  %s %s", g.name(), g.doing())
		sep := " at"
		for _, f := range g.frames {
			if f.inPackage() {
				fmt.Fprintf(&b, "%s %s in %s", sep, f.short(), f.method())
				sep = ", called from"
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nTheir stacks, in this package:\n")
	for _, g := range s.gs {
		fmt.Fprintf(&b, "\ngoroutine %d [%s]:\n", g.id, g.state)
		for _, f := range g.frames {
			if f.inPackage() {
				fmt.Fprintf(&b, "%s(...)\n\t%s:%d\n", f.fn, f.file, f.line)
			}
		}
	}
	if at.file != "" {
		fmt.Fprintf(&b, "\nLook first at %s, where %s waits.", at.short(), first.name)
	}
	return b.String()
}

// names lists the calls that did not return, for a message.
func (s stall) names() string {
	var ns []string
	for _, c := range s.calls {
		ns = append(ns, c.name)
	}
	if len(ns) <= 2 {
		return strings.Join(ns, " and ")
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
}

// A meeting lets handlers prove they run at the same time: each waits in
// arrive until n have arrived, or until no more can, because every other
// goroutine in the hub's code is parked.
type meeting struct {
	n    int
	mu   sync.Mutex    // protects in, ids, most and over
	in   int           // handlers inside arrive now
	ids  []int         // the goroutines that arrived
	all  chan struct{} // closed when n are inside at once, or no more can come
	most int           // the most handlers inside at once
	over bool          // all is closed
}

func newMeeting(n int) *meeting { return &meeting{n: n, all: make(chan struct{})} }

// arrive waits until n handlers are inside at once, or no more can come.
func (m *meeting) arrive() {
	m.mu.Lock()
	m.in++
	m.ids = append(m.ids, goid())
	m.most = max(m.most, m.in)
	if m.in == m.n && !m.over {
		m.over = true
		close(m.all)
	}
	first := len(m.ids) == 1
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.in--
		m.mu.Unlock()
	}()
	if !first {
		<-m.all
		return
	}
	// The first to arrive watches: it ends the meeting once every other
	// goroutine in the hub's code is parked, so that no more can come.
	limit := time.After(busyLimit)
	var b backoff
	for {
		select {
		case <-m.all:
			return
		case <-limit:
		case <-b.next():
			m.mu.Lock()
			ids := slices.Clone(m.ids)
			m.mu.Unlock()
			if !othersParked(goroutines(), ids) {
				continue
			}
		}
		m.mu.Lock()
		if !m.over {
			m.over = true
			close(m.all)
		}
		m.mu.Unlock()
		return
	}
}

// result returns the most handlers that were inside at once.
func (m *meeting) result() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.most
}

// settle waits until every goroutine in the hub's code is parked: the
// handlers have nothing left to do. It gives up after busyLimit.
func settle() {
	limit := time.After(busyLimit)
	var b backoff
	for {
		select {
		case <-limit:
			return
		case <-b.next():
		}
		if othersParked(goroutines(), nil) {
			return
		}
	}
}

// othersParked reports whether every goroutine in the hub's code, other
// than those that arrived at a meeting, is parked, and no other goroutine
// is about to run.
func othersParked(gs []goroutine, arrived []int) bool {
	if busy(gs) {
		return false
	}
	for _, g := range gs {
		if g.inCode() && !slices.Contains(arrived, g.id) && !g.parked() {
			return false
		}
	}
	return true
}
