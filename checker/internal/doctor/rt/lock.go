package rt

import (
	"bytes"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Mutex is a sync.Mutex whose use the doctor checks: the overlay puts it
// wherever the user's code says sync.Mutex. Locking works exactly as
// sync.Mutex does (it is one, and no bigger); on the side, the checker
// records who holds what, which locks were taken while holding which, and
// reports a goroutine that locks a lock it holds (a double lock) or two
// locks taken in both orders (a lock-order inversion), when it first
// happens, whether or not this run deadlocks.
type Mutex struct {
	mu sync.Mutex
}

// Lock locks m.
func (m *Mutex) Lock() {
	if !cfg.locks {
		m.mu.Lock()
		return
	}
	e := lockEvent(opWant, unsafe.Pointer(m), kindMutex, false)
	send(e)
	m.mu.Lock()
	send(event{op: opAcquired, g: e.g, lock: e.lock})
}

// TryLock tries to lock m.
func (m *Mutex) TryLock() bool {
	if !m.mu.TryLock() {
		return false
	}
	if cfg.locks {
		send(lockEvent(opTryAcquired, unsafe.Pointer(m), kindMutex, false))
	}
	return true
}

// Unlock unlocks m.
func (m *Mutex) Unlock() {
	if cfg.locks {
		send(event{op: opRelease, g: goid(), lock: unsafe.Pointer(m)})
	}
	m.mu.Unlock()
}

// RWMutex is a sync.RWMutex checked as [Mutex] is; a goroutine that read-
// locks a lock it already read-locks is reported too: sync forbids it,
// because a writer waiting between the two RLocks deadlocks all three.
type RWMutex struct {
	mu sync.RWMutex
}

// Lock locks rw for writing.
func (rw *RWMutex) Lock() {
	if !cfg.locks {
		rw.mu.Lock()
		return
	}
	e := lockEvent(opWant, unsafe.Pointer(rw), kindRWMutex, false)
	send(e)
	rw.mu.Lock()
	send(event{op: opAcquired, g: e.g, lock: e.lock})
}

// TryLock tries to lock rw for writing.
func (rw *RWMutex) TryLock() bool {
	if !rw.mu.TryLock() {
		return false
	}
	if cfg.locks {
		send(lockEvent(opTryAcquired, unsafe.Pointer(rw), kindRWMutex, false))
	}
	return true
}

// Unlock unlocks rw for writing.
func (rw *RWMutex) Unlock() {
	if cfg.locks {
		send(event{op: opRelease, g: goid(), lock: unsafe.Pointer(rw)})
	}
	rw.mu.Unlock()
}

// RLock locks rw for reading.
func (rw *RWMutex) RLock() {
	if !cfg.locks {
		rw.mu.RLock()
		return
	}
	e := lockEvent(opWant, unsafe.Pointer(rw), kindRWMutex, true)
	send(e)
	rw.mu.RLock()
	send(event{op: opAcquired, g: e.g, lock: e.lock})
}

// TryRLock tries to lock rw for reading.
func (rw *RWMutex) TryRLock() bool {
	if !rw.mu.TryRLock() {
		return false
	}
	if cfg.locks {
		send(lockEvent(opTryAcquired, unsafe.Pointer(rw), kindRWMutex, true))
	}
	return true
}

// RUnlock undoes one RLock.
func (rw *RWMutex) RUnlock() {
	if cfg.locks {
		send(event{op: opRelease, g: goid(), lock: unsafe.Pointer(rw), read: true})
	}
	rw.mu.RUnlock()
}

// RLocker returns a Locker that read-locks rw.
func (rw *RWMutex) RLocker() sync.Locker { return rlocker{rw} }

type rlocker struct{ rw *RWMutex }

func (r rlocker) Lock()   { r.rw.RLock() }
func (r rlocker) Unlock() { r.rw.RUnlock() }

// --- the checker's goroutine ------------------------------------------------

const (
	kindMutex = iota
	kindRWMutex
)

const (
	opWant        = iota // about to block acquiring a lock
	opAcquired           // got the lock it wanted
	opTryAcquired        // got a lock without waiting (TryLock)
	opRelease            // about to unlock
	opTestStart          // a top-level test started
	opTestEnd            // a top-level test ended
	opTake               // reply: the reports not yet printed
	opState              // reply: who holds and who waits for what
)

// depth is how many frames of a lock's caller are kept.
const depth = 24

// An event goes to the checker by value: the runtime copies it, so no
// memory is shared between the user's goroutines and the checker's.
type event struct {
	op    int
	g     int64
	lock  unsafe.Pointer
	kind  int
	read  bool
	at    int64 // nanoseconds since epoch
	pcs   [depth]uintptr
	n     int
	reply chan reply
}

type reply struct {
	reports []report
	state   string
}

// A report is one finding of the checker; the test that is running when
// it is printed names it.
type report struct {
	kind     string // "double lock", "recursive read lock", "lock-order inversion"
	headline string
	body     string
}

func (r report) text(test string) string {
	return "racelab-doctor: " + r.kind + " " + test + ": " + r.headline + "\n" + r.body + "racelab-doctor: end\n"
}

var (
	epoch  = time.Now()
	events = make(chan event, 4096)
)

func init() {
	// Started here, before any test, so that no user goroutine's first
	// lock is what starts it (a sync.Once would order them).
	go checker()
}

func now() int64 { return int64(time.Since(epoch)) }

func lockEvent(op int, p unsafe.Pointer, kind int, read bool) event {
	e := event{op: op, g: goid(), lock: p, kind: kind, read: read, at: now()}
	e.n = runtime.Callers(3, e.pcs[:])
	return e
}

// send hands an event to the checker with the race detector's handling of
// synchronization off: the channel operation must not order anything.
func send(e event) {
	raceDisable()
	events <- e
	raceEnable()
}

// request asks the checker for something. The answer comes back with
// synchronization on, so the caller sees the checker's writes; that orders
// the checker before the caller and nothing else, since the checker never
// acquires anything from the user's goroutines.
func request(op int) reply {
	r := make(chan reply, 1) // fresh: its buffer slot carries no one else's history
	send(event{op: op, reply: r})
	return <-r
}

func testStarted(string) { send(event{op: opTestStart}) }
func testEnded(string)   { send(event{op: opTestEnd}) }

// flushReports prints the checker's reports under the test's name and
// reports whether there were any.
func flushReports(test string) bool {
	if !cfg.locks {
		return false
	}
	texts := takeReports(test)
	for _, t := range texts {
		writeStderr([]byte(t))
	}
	return len(texts) > 0
}

func takeReports(test string) []string {
	if !cfg.locks {
		return nil
	}
	var out []string
	for _, r := range request(opTake).reports {
		out = append(out, r.text(test))
	}
	return out
}

// lockState describes who holds and who waits for which lock, for the
// deadline report.
func lockState() string {
	if !cfg.locks {
		return ""
	}
	return request(opState).state
}

type site struct {
	pcs [depth]uintptr
	n   int
}

type acq struct {
	lock unsafe.Pointer
	kind int
	read bool
	site site
	at   int64
}

// An edge says a goroutine took to while holding from (and guards: other
// locks it held then).
type edge struct {
	from, to acq
	g        int64
	guards   []unsafe.Pointer
}

type pair struct{ a, b unsafe.Pointer }

// maxEdges bounds the order graph: past it, new orders are not recorded.
const maxEdges = 100000

// state is the checker's book. Only the checker's goroutine touches it,
// and it uses nothing that other goroutines share behind a lock or a
// sync.Pool (fmt does): with synchronization invisible, the race detector
// would see those as races.
type state struct {
	held     map[int64][]acq
	wants    map[int64]acq
	edges    map[pair]*edge
	next     map[unsafe.Pointer][]unsafe.Pointer
	ids      map[unsafe.Pointer]int
	reported map[string]bool
	pending  []report
	running  int
}

func checker() {
	raceDisable() // for good: see request
	s := &state{
		held: map[int64][]acq{}, wants: map[int64]acq{}, edges: map[pair]*edge{},
		next: map[unsafe.Pointer][]unsafe.Pointer{}, ids: map[unsafe.Pointer]int{}, reported: map[string]bool{},
	}
	for e := range events {
		s.handle(e)
	}
}

func (s *state) handle(e event) {
	switch e.op {
	case opWant:
		w := acq{lock: e.lock, kind: e.kind, read: e.read, site: site{e.pcs, e.n}, at: e.at}
		s.want(e.g, w)
		s.wants[e.g] = w
	case opAcquired:
		w, ok := s.wants[e.g]
		if !ok || w.lock != e.lock {
			return
		}
		delete(s.wants, e.g)
		w.at = now()
		s.held[e.g] = append(s.held[e.g], w)
	case opTryAcquired:
		s.held[e.g] = append(s.held[e.g], acq{lock: e.lock, kind: e.kind, read: e.read, site: site{e.pcs, e.n}, at: e.at})
	case opRelease:
		s.release(e.g, e.lock, e.read)
	case opTestStart:
		s.running++
	case opTestEnd:
		s.running--
	case opTake:
		s.answer(e.reply, reply{reports: s.pending})
		s.pending = nil
	case opState:
		s.answer(e.reply, reply{state: s.describe()})
	}
}

// answer replies with synchronization on, then turns it off again.
func (s *state) answer(r chan reply, v reply) {
	raceEnable()
	r <- v
	raceDisable()
}

// release forgets the latest acquisition of lock by g; sync allows a
// goroutine to unlock what another locked, so failing that, any holder's.
func (s *state) release(g int64, lock unsafe.Pointer, read bool) {
	if s.drop(g, lock, read) {
		return
	}
	ids := make([]int64, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if s.drop(id, lock, read) {
			return
		}
	}
}

func (s *state) drop(g int64, lock unsafe.Pointer, read bool) bool {
	hs := s.held[g]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].lock == lock && hs[i].read == read {
			hs = append(hs[:i:i], hs[i+1:]...)
			if len(hs) == 0 {
				delete(s.held, g)
			} else {
				s.held[g] = hs
			}
			return true
		}
	}
	return false
}

// want checks an acquisition about to block against what g holds and the
// orders seen so far, then records the new orders.
func (s *state) want(g int64, w acq) {
	hs := s.held[g]
	for _, h := range hs {
		if h.lock == w.lock {
			s.selfLock(g, h, w)
			return
		}
	}
	for _, h := range hs {
		var guards []unsafe.Pointer
		for _, o := range hs {
			if o.lock != h.lock {
				guards = append(guards, o.lock)
			}
		}
		if path := s.path(w.lock, h.lock, guards); path != nil {
			s.inversion(g, h, w, path)
		}
		p := pair{h.lock, w.lock}
		if _, ok := s.edges[p]; !ok && len(s.edges) < maxEdges {
			s.edges[p] = &edge{from: h, to: w, g: g, guards: guards}
			s.next[h.lock] = append(s.next[h.lock], w.lock)
		}
	}
}

// path finds recorded orders leading from a to b: a cycle once b -> a is
// added. A direct order is ignored when a lock the current goroutine holds
// (guards) was also held when it was recorded: one lock around both paths
// keeps them from running at once. Longer paths are searched up to four
// orders.
func (s *state) path(a, b unsafe.Pointer, guards []unsafe.Pointer) []*edge {
	if e, ok := s.edges[pair{a, b}]; ok {
		for _, g1 := range e.guards {
			for _, g2 := range guards {
				if g1 == g2 {
					return nil
				}
			}
		}
		return []*edge{e}
	}
	type step struct {
		lock unsafe.Pointer
		path []*edge
	}
	seen := map[unsafe.Pointer]bool{a: true}
	queue := []step{{a, nil}}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		if len(st.path) >= 4 {
			continue
		}
		for _, n := range s.next[st.lock] {
			e := s.edges[pair{st.lock, n}]
			p := append(append([]*edge(nil), st.path...), e)
			if n == b {
				if len(p) > 1 {
					return p
				}
				continue // the direct order, guarded
			}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, step{n, p})
			}
		}
	}
	return nil
}

func (s *state) selfLock(g int64, h, w acq) {
	kind := "double lock"
	what := "that it already holds"
	switch {
	case !active(h.site, w.site):
		kind, what = "lock never released", "that it took in a call that returned without unlocking it"
	case w.read && h.read:
		kind, what = "recursive read lock", "that it already holds for reading: a writer waiting in between blocks both"
	case !w.read && h.read:
		what = "for writing while it holds it for reading"
	case w.read && !h.read:
		what = "for reading while it holds it for writing"
	}
	if !s.once(kind, h.site, w.site) {
		return
	}
	var b bytes.Buffer
	b.WriteString("racelab-doctor: goroutine " + itoa(g) + " holds " + s.name(h) + ", taken at:\n")
	h.site.format(&b)
	b.WriteString("racelab-doctor: goroutine " + itoa(g) + " wants " + s.name(w) + ", at:\n")
	w.site.format(&b)
	s.emit(report{kind: kind, headline: "goroutine " + itoa(g) + " wants " + s.name(w) + " " + what, body: b.String()})
}

func (s *state) inversion(g int64, h, w acq, path []*edge) {
	keys := []site{h.site, w.site}
	for _, e := range path {
		keys = append(keys, e.from.site, e.to.site)
	}
	if !s.once("lock-order inversion", keys...) {
		return
	}
	var b bytes.Buffer
	b.WriteString("racelab-doctor: goroutine " + itoa(g) + " holds " + s.name(h) + ", taken at:\n")
	h.site.format(&b)
	b.WriteString("racelab-doctor: goroutine " + itoa(g) + " wants " + s.name(w) + ", at:\n")
	w.site.format(&b)
	for _, e := range path {
		b.WriteString("racelab-doctor: goroutine " + itoa(e.g) + " held " + s.name(e.from) + ", taken at:\n")
		e.from.site.format(&b)
		b.WriteString("racelab-doctor: goroutine " + itoa(e.g) + " then took " + s.name(e.to) + ", at:\n")
		e.to.site.format(&b)
	}
	other := "goroutine " + itoa(path[0].g)
	if path[0].g == g {
		other = "it"
	}
	s.emit(report{kind: "lock-order inversion",
		headline: "goroutine " + itoa(g) + " wants " + s.name(w) + " while holding " + s.name(h) + "; " + other + " took them in the opposite order before",
		body:     b.String()})
}

// once reports whether a report of this kind at these places is new.
func (s *state) once(kind string, sites ...site) bool {
	key := kind
	for _, st := range sites {
		if st.n > 0 {
			key += "|" + strconv.FormatUint(uint64(st.pcs[0]), 16)
		}
	}
	if s.reported[key] {
		return false
	}
	s.reported[key] = true
	return true
}

// emit keeps a report for the running test to print, or prints it at once
// when no test runs (in TestMain, say).
func (s *state) emit(r report) {
	if s.running > 0 {
		s.pending = append(s.pending, r)
		return
	}
	writeStderr([]byte(r.text("-")))
}

// name is "lock 2 (sync.Mutex)": locks are numbered in the order the
// checker first names them.
func (s *state) name(a acq) string {
	id, ok := s.ids[a.lock]
	if !ok {
		id = len(s.ids) + 1
		s.ids[a.lock] = id
	}
	typ := "sync.Mutex"
	if a.kind == kindRWMutex {
		typ = "sync.RWMutex"
		if a.read {
			typ += " read lock"
		}
	}
	return "lock " + strconv.Itoa(id) + " (" + typ + ")"
}

// describe lists who holds and who waits for which lock.
func (s *state) describe() string {
	var b bytes.Buffer
	var gs []int64
	for g := range s.held {
		gs = append(gs, g)
	}
	for g := range s.wants {
		if _, ok := s.held[g]; !ok {
			gs = append(gs, g)
		}
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i] < gs[j] })
	t := now()
	for _, g := range gs {
		for _, h := range s.held[g] {
			b.WriteString("racelab-doctor: goroutine " + itoa(g) + " holds " + s.name(h) + " since " + round(time.Duration(t-h.at)).String() + ", taken at:\n")
			h.site.format(&b)
		}
		if w, ok := s.wants[g]; ok {
			b.WriteString("racelab-doctor: goroutine " + itoa(g) + " waits for " + s.name(w) + " since " + round(time.Duration(t-w.at)).String() + ", at:\n")
			w.site.format(&b)
		}
	}
	return b.String()
}

// active reports whether the function that took a lock (held) is still
// running on the goroutine that now wants it again (want): a nested call
// locking twice. When it has returned, the lock was never unlocked.
func active(held, want site) bool {
	h, w := frames(held), frames(want)
	if len(h) < 2 {
		return true // too little to tell
	}
	for k := 0; k < len(w); k++ {
		if w[k].fn != h[0].fn {
			continue
		}
		a, b := w[k+1:], h[1:]
		n := len(a)
		if len(b) < n {
			n = len(b)
		}
		same := n > 0
		for i := 0; i < n; i++ {
			if a[i] != b[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

type frame struct {
	fn   string
	line int
}

func frames(st site) []frame {
	var out []frame
	fs := runtime.CallersFrames(st.pcs[:st.n])
	for {
		f, more := fs.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, rtPkg+".") {
			out = append(out, frame{f.Function, f.Line})
		}
		if !more {
			return out
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// format writes a site's frames as the runtime prints a stack, leaving out
// the doctor's own.
func (st site) format(b *bytes.Buffer) {
	frames := runtime.CallersFrames(st.pcs[:st.n])
	n := 0
	for {
		f, more := frames.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, rtPkg+".") && n < 16 {
			b.WriteString(f.Function + "(...)\n\t" + f.File + ":" + strconv.Itoa(f.Line) + "\n")
			n++
		}
		if !more {
			break
		}
	}
}
