package catalogue

// The tests never decide that a call is frozen because it is slow. They
// read the runtime's goroutine dump instead. A lock of the package is only
// ever released by the package's code, on a goroutine that is running it
// (no method returns holding a lock and expects a later call to unlock
// it). So when every goroutine inside the package's code is parked in Lock
// or RLock of one of its locks, nothing can release any of them: the calls
// are frozen for good. That state is seen as soon as it happens, whatever
// mutex type the code uses (sync or go-deadlock); in correct code it never
// happens, since a goroutine that holds a lock never parks on another.

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// pollMin and pollMax bound the pause before each look at the
	// goroutines while a test waits: a look stops the world, so a test
	// looks soon at first, then less and less often.
	pollMin = 100 * time.Microsecond
	pollMax = 20 * time.Millisecond
	// stuckLimit bounds every wait, in real time, for calls that are not
	// frozen on locks (busy, or waiting on something else). Frozen calls
	// are seen at once, so this only ends the wait for code that spins or
	// waits on something other than the package's locks; it is generous
	// because a correct fix, which needs milliseconds of CPU, has taken
	// over 3s of real time on a machine loaded thirty times over.
	stuckLimit = 10 * time.Second
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

// deadlockLock starts the names of the methods through which
// github.com/sasha-s/go-deadlock takes the underlying sync lock on behalf
// of the package's code (its StandardMutex and StandardRWMutex), as
// opposed to the locks of its own bookkeeping.
const deadlockLock = "github.com/sasha-s/go-deadlock.(*Standard"

// A frame is one call of a goroutine's stack.
type frame struct {
	fn   string // function, without arguments
	file string
	line int
}

// A goroutine is one entry of a goroutine dump.
type goroutine struct {
	id     int
	state  string  // why it is parked ("sync.RWMutex.RLock", "chan receive"), or "running"...
	frames []frame // innermost first; the "created by" frame is left out
}

// goroutines returns every goroutine of the process, as the runtime sees
// them at one instant.
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
	for _, block := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		// goroutine 7 [sync.RWMutex.RLock, 2 minutes]:
		head, ok := strings.CutPrefix(lines[0], "goroutine ")
		if !ok {
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
			loc := strings.TrimSpace(lines[i+1])
			loc, _, _ = strings.Cut(loc, " +0x")
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

// ours reports whether f is code of the package under test, not of its
// tests.
func (f frame) ours() bool {
	return strings.HasPrefix(f.fn, pkgPrefix) && !strings.HasSuffix(f.file, "_test.go")
}

// inCode reports whether g is running the package's code: some frame of
// its stack is.
func (g goroutine) inCode() bool { return slices.ContainsFunc(g.frames, frame.ours) }

// caller is the innermost frame outside the runtime and the sync
// packages: the code that asked to wait.
func (g goroutine) caller() (frame, bool) {
	for _, f := range g.frames {
		if !strings.HasPrefix(f.fn, "runtime.") && !strings.HasPrefix(f.fn, "sync.") && !strings.HasPrefix(f.fn, "internal/") {
			return f, true
		}
	}
	return frame{}, false
}

// lockStates are the states of a goroutine parked in Lock or RLock.
var lockStates = []string{"sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock"}

// waitStates are the other states of a goroutine parked until another
// goroutine acts.
var waitStates = []string{"chan send", "chan receive", "select", "sync.Cond.Wait", "sync.WaitGroup.Wait", "semacquire"}

// lockWait reports whether g is parked in a Lock or RLock called by the
// package's code (directly, or through go-deadlock's wrappers). A
// goroutine parked on a lock of the tests' or of go-deadlock's own
// bookkeeping does not count.
func (g goroutine) lockWait() bool {
	f, ok := g.caller()
	return ok && slices.Contains(lockStates, g.state) && (f.ours() || strings.HasPrefix(f.fn, deadlockLock))
}

// parked reports whether g is parked in the package's code until another
// goroutine acts: on one of its locks, or on a channel, Cond or WaitGroup.
func (g goroutine) parked() bool {
	if g.lockWait() {
		return true
	}
	f, ok := g.caller()
	return ok && f.ours() && slices.Contains(waitStates, strings.TrimSuffix(g.state, " (nil chan)"))
}

// stuck reports whether g is parked until another goroutine acts, in
// whatever code: on a lock, a channel, a Cond or a WaitGroup.
func (g goroutine) stuck() bool {
	return slices.Contains(lockStates, g.state) || slices.Contains(waitStates, strings.TrimSuffix(g.state, " (nil chan)"))
}

// frozen reports whether the goroutines gs are in a deadlock that holds
// one of the goroutines ids: it is parked on a lock, and so is every
// goroutine running the package's code.
func frozen(gs []goroutine, ids []int) bool {
	held := false
	for _, g := range gs {
		switch {
		case !g.inCode():
		case !g.lockWait():
			return false
		case slices.Contains(ids, g.id):
			held = true
		}
	}
	return held
}

// find returns the goroutine id among gs.
func find(gs []goroutine, id int) (goroutine, bool) {
	i := slices.IndexFunc(gs, func(g goroutine) bool { return g.id == id })
	if i < 0 {
		return goroutine{}, false
	}
	return gs[i], true
}

// A call is a call into the package's code, made on its own goroutine so
// that the test can bound it.
type call struct {
	name string        // what was called, as the learner reads it
	id   int           // the goroutine making the call
	done chan struct{} // closed when the call has returned
}

// start calls f on a new goroutine. The results f stores may be read once
// done is closed; a call that never returns is abandoned, with nothing
// the test reads.
func start(name string, f func()) *call {
	c := &call{name: name, done: make(chan struct{})}
	ids := make(chan int, 1)
	go func() { // exits when f returns, or never if f is frozen
		ids <- goid()
		f()
		close(c.done)
	}()
	c.id = <-ids
	callNames.Store(c.id, name)
	return c
}

// abandoned holds the ids of the goroutines a stall has reported: they
// are stuck for good, and later reports leave them out.
var abandoned sync.Map

// callNames holds the name of every call started, by goroutine id, so a
// report can name goroutines that a test started on the way (in a hook).
var callNames sync.Map

// startAt is start, with f waiting for gate to close after its goroutine
// id is known.
func startAt(gate <-chan struct{}, name string, f func()) *call {
	return start(name, func() {
		<-gate
		f()
	})
}

// A stall says why calls did not return.
type stall struct {
	frozen bool        // on locks, for good; else still running after stuckLimit
	calls  []*call     // the calls that had not returned
	gs     []goroutine // every goroutine running the package's code
}

// wait waits for every call to return and reports whether they did. If
// they freeze on locks, or are still running after stuckLimit, it returns
// why.
func wait(calls ...*call) (stall, bool) {
	limit := time.After(stuckLimit)
	var b backoff
	for {
		var pending []*call
		for _, c := range calls {
			select {
			case <-c.done:
			default:
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
		ids := make([]int, len(pending))
		for i, c := range pending {
			ids[i] = c.id
		}
		if fr := frozen(gs, ids); fr || timeUp {
			// Check the calls again: one may have returned since.
			var stuck []*call
			for _, c := range pending {
				select {
				case <-c.done:
				default:
					stuck = append(stuck, c)
				}
			}
			if len(stuck) == 0 {
				continue
			}
			var mine []goroutine
			for _, g := range gs {
				if !g.inCode() {
					continue
				}
				if _, old := abandoned.LoadOrStore(g.id, true); !old {
					mine = append(mine, g)
				}
			}
			return stall{frozen: fr, calls: stuck, gs: mine}, false
		}
	}
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

// String says where each goroutine of the package's code waits, then
// shows their stacks, trimmed to the package's frames, in the runtime's
// format.
func (s stall) String() string {
	var b strings.Builder
	for _, g := range s.gs {
		fmt.Fprintf(&b, "%s is %s", g.name(), g.doing())
		sep := " at"
		for _, f := range g.frames {
			if f.ours() {
				fmt.Fprintf(&b, "%s %s:%d in %s", sep, baseName(f.file), f.line, shortFn(f.fn))
				sep = ", called from"
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nTheir stacks, in this package:\n")
	for _, g := range s.gs {
		fmt.Fprintf(&b, "\ngoroutine %d [%s]:\n", g.id, g.state)
		for _, f := range g.frames {
			if strings.HasPrefix(f.fn, pkgPrefix) {
				fmt.Fprintf(&b, "%s(...)\n\t%s:%d\n", f.fn, f.file, f.line)
			}
		}
	}
	return b.String()
}

// name is the name of the call g makes, if a test started it.
func (g goroutine) name() string {
	if n, ok := callNames.Load(g.id); ok {
		return n.(string)
	}
	return fmt.Sprintf("goroutine %d", g.id)
}

// doing says what g waits for, in words.
func (g goroutine) doing() string {
	switch g.state {
	case "sync.RWMutex.RLock":
		return "waiting for a read lock (RLock)"
	case "sync.RWMutex.Lock":
		return "waiting for the write lock (Lock) of an RWMutex"
	case "sync.Mutex.Lock":
		return "waiting for a lock (Lock)"
	case "running", "runnable":
		return "still running"
	}
	return "waiting (" + g.state + ")"
}

func baseName(file string) string { return file[strings.LastIndex(file, "/")+1:] }

// shortFn is "(*T).M" for "<import path>.(*T).M".
func shortFn(fn string) string { return strings.TrimPrefix(fn, pkgPrefix) }

// waitParked waits until the call c has returned, or is parked in the
// package's code until another goroutine acts (on a lock, a channel...).
// It gives up after stuckLimit; the test's own wait then reports the stall.
func waitParked(c *call) {
	limit := time.After(stuckLimit)
	var b backoff
	for {
		select {
		case <-c.done:
			return
		case <-limit:
			return
		case <-b.next():
		}
		if g, ok := find(goroutines(), c.id); ok && g.parked() {
			return
		}
	}
}
