package bank

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sasha-s/go-deadlock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The verdicts here rest on what the transfers do, whatever lock the bank
// uses: a freeze is forced (TestTransferOppositeWays) and seen in the
// goroutines' stacks.

const (
	// callLimit bounds every call into the bank and every wait for
	// transfers to finish: a transfer that never returns fails its test.
	callLimit = 3 * time.Second
	// meetWait bounds how long the overlap tests wait for transfers to be
	// inside the ledger at the same time.
	meetWait = 2 * time.Second
	// parkWait bounds how long a test waits for a transfer to block before
	// it starts the next one; a transfer that blocks does so in microseconds.
	parkWait = time.Second
	// stuckFor is how long every transfer still running must stay blocked
	// inside the bank, with nothing else running, for a test to call it a
	// deadlock before callLimit.
	stuckFor = 50 * time.Millisecond
)

func init() {
	// A bank may use go-deadlock's mutexes (lab.yaml allows it), but no
	// verdict here rests on them: the learner's file controls their types
	// and options. Its lock-order reports would also call a correct
	// try-lock-and-back-off Transfer inconsistent, and each costs
	// milliseconds. Turned off, they are plain sync mutexes.
	deadlock.Opts.Disable = true
	deadlock.Opts.DeadlockTimeout = 0
	deadlock.Opts.OnPotentialDeadlock = func() {}
}

// --- calls into the bank, each on its own goroutine, each bounded -----------

// A call is a call into the bank running on a goroutine of its own, so
// that the test can see where it waits and give up on it.
type call struct {
	what string        // "Transfer(alice, bob, 10)"
	id   int           // the goroutine's id, as stack dumps print it
	done chan struct{} // closed when the call has returned
	err  error         // Transfer's or Balance's error, once done is closed
	bal  int64         // Balance's result, once done is closed
}

// start runs f on a new goroutine.
func start(what string, f func(c *call) error) *call {
	c := &call{what: what, done: make(chan struct{})}
	ids := make(chan int)
	go func() { // exits when f returns
		ids <- goid()
		c.err = f(c)
		close(c.done)
	}()
	c.id = <-ids
	return c
}

func goTransfer(b *Bank, from, to string, amount int64) *call {
	return start(fmt.Sprintf("Transfer(%s, %s, %d)", from, to, amount), func(*call) error {
		return b.Transfer(from, to, amount)
	})
}

func goBalance(b *Bank, id string) *call {
	return start(fmt.Sprintf("Balance(%s)", id), func(c *call) (err error) {
		c.bal, err = b.Balance(id)
		return err
	})
}

func (c *call) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// transfer calls b.Transfer and waits for it, at most callLimit.
func transfer(t *testing.T, b *Bank, from, to string, amount int64) (error, bool) {
	t.Helper()
	c := goTransfer(b, from, to, amount)
	if !await(t, "", c) {
		return nil, false
	}
	return c.err, true
}

// wantBalances fails t unless the accounts of b hold want. Each Balance
// call is bounded: a lock left held shows as a deadlock, not a hang.
func wantBalances(t *testing.T, b *Bank, want map[string]int64) bool {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(want)) {
		c := goBalance(b, id)
		if !await(t, "", c) {
			return false
		}
		if assert.NoError(t, c.err, "Balance(%q)", id) {
			assert.Equal(t, want[id], c.bal, "Balance(%q)", id)
		}
	}
	return true
}

// await waits until every call has returned. It fails t with "deadlock:"
// and returns false when the calls still running are all blocked inside the
// bank, with nothing else of the bank running, for stuckFor (they can never
// return), or when they have not returned after callLimit (they spin, or
// wait for something that does not come). why, if set, says what the
// calls should have done, for the failure message.
func await(t *testing.T, why string, calls ...*call) bool {
	t.Helper()
	deadline := time.Now().Add(callLimit)
	var stuckSince time.Time
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		var running []*call
		for _, c := range calls {
			if !c.finished() {
				running = append(running, c)
			}
		}
		if len(running) == 0 {
			return true
		}
		gs := goroutines()
		now := time.Now()
		if stuck(gs, running) {
			if stuckSince.IsZero() {
				stuckSince = now
			} else if now.Sub(stuckSince) >= stuckFor {
				t.Errorf("deadlock: %s can never return: %s blocked inside the bank, waiting for locks that nothing running will release.\n%s\n%s",
					names(running), itThey(running), why, describe(gs, running))
				return false
			}
		} else {
			stuckSince = time.Time{}
		}
		if now.After(deadline) {
			t.Errorf("deadlock: %s still running after %v; want every call to return.\n%s\n%s",
				names(running), callLimit, why, describe(gs, running))
			return false
		}
		time.Sleep(pause)
	}
}

// waitBlocked waits, at most parkWait, until c has returned or is blocked
// (parked waiting for a lock, a channel or a condition). A call that spins
// instead of blocking is given parkWait.
func waitBlocked(c *call) {
	deadline := time.Now().Add(parkWait)
	for pause := 50 * time.Microsecond; !c.finished() && time.Now().Before(deadline); pause = min(2*pause, 5*time.Millisecond) {
		if g, ok := goroutines()[c.id]; ok && g.parked() {
			return
		}
		time.Sleep(pause)
	}
}

// --- reading the goroutines' stacks --------------------------------------

// A gstack is one goroutine as runtime.Stack prints it.
type gstack struct {
	id    int
	state string // what it waits for: "sync.Mutex.Lock", "chan send", "running", ...
	text  string // the goroutine's stack, as printed
	at    string // "bank.go:91": the innermost line of this package it runs, if any
	inLab bool   // that line is in the lab's own code, not in its tests
}

// parked reports whether the goroutine is blocked waiting for another
// goroutine: a lock, a channel, a condition. Sleeping, running and
// runnable goroutines are not.
func (g gstack) parked() bool {
	switch g.state {
	case "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock", "semacquire",
		"chan send", "chan receive", "select", "select (no cases)", "sync.Cond.Wait",
		"nil chan send", "nil chan receive", "sync.WaitGroup.Wait":
		return true
	}
	return false
}

// thisPackage is "<import path>." of the package under test.
var thisPackage = func() string {
	pc, _, _, _ := runtime.Caller(0)
	fn := runtime.FuncForPC(pc).Name() // "<import path>.init.func1" or the like
	slash := strings.LastIndex(fn, "/")
	return fn[:slash+1+strings.Index(fn[slash+1:], ".")+1]
}()

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
		// "goroutine 7 [sync.Mutex.Lock, 2 minutes]:"
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
		state = strings.TrimSuffix(state, " (durable)")
		g := gstack{id: id, state: state, text: text}
		lines := strings.Split(frames, "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			if !strings.HasPrefix(lines[i], thisPackage) {
				continue
			}
			file := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(file, " +0x"); j >= 0 {
				file = file[:j]
			}
			file = file[strings.LastIndex(file, "/")+1:]
			g.at = file
			name, _, _ := strings.Cut(file, ":")
			g.inLab = !strings.HasSuffix(name, "_test.go")
			break
		}
		gs[id] = g
	}
	return gs
}

// stuck reports whether every call still running is parked inside the
// bank's own code while no other goroutine runs the bank's code: nothing
// is left that could release what they wait for.
func stuck(gs map[int]gstack, running []*call) bool {
	ids := map[int]bool{}
	for _, c := range running {
		g, ok := gs[c.id]
		if !ok || !g.parked() || !g.inLab {
			return false
		}
		ids[c.id] = true
	}
	for id, g := range gs {
		if !ids[id] && g.inLab && !g.parked() && g.state != "sleep" {
			return false // still running the bank's code: it may release a lock
		}
	}
	return true
}

// describe says where each call waits, with the frames of its stack in
// this package. Balance calls come first: they wait behind transfers, and
// the last place named is the one a reader looks at first.
func describe(gs map[int]gstack, calls []*call) string {
	calls = slices.Clone(calls)
	slices.SortStableFunc(calls, func(a, b *call) int {
		return cmpBool(strings.HasPrefix(b.what, "Balance"), strings.HasPrefix(a.what, "Balance"))
	})
	const most = 4
	var b strings.Builder
	if len(calls) > most {
		fmt.Fprintf(&b, "(%d more like the ones below)\n\n", len(calls)-most)
		calls = calls[len(calls)-most:]
	}
	for _, c := range calls {
		g := gs[c.id]
		fmt.Fprintf(&b, "%s is %s at %s:\n%s\n\n", c.what, g.state, cmpOr(g.at, "an unknown place"), ownFrames(g.text))
	}
	return strings.TrimSpace(b.String())
}

// ownFrames keeps, of a goroutine's stack, its header and the frames of
// this package.
func ownFrames(text string) string {
	lines := strings.Split(text, "\n")
	keep := lines[:1]
	for i := 1; i+1 < len(lines); i += 2 {
		if strings.HasPrefix(lines[i], thisPackage) {
			keep = append(keep, lines[i], lines[i+1])
		}
	}
	return strings.Join(keep, "\n")
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func names(calls []*call) string {
	var s []string
	for _, c := range calls {
		s = append(s, c.what)
	}
	return strings.Join(s, " and ")
}

func itThey(calls []*call) string {
	if len(calls) == 1 {
		return "it is"
	}
	return "they are"
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// goid returns the id of the calling goroutine, as stack dumps print it.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)] // "goroutine 7 [running]:..."
	f := strings.Fields(string(buf))
	id, _ := strconv.Atoi(f[1])
	return id
}

// --- ledgers ----------------------------------------------------------------

// A journal is a Ledger that keeps its entries.
type journal struct {
	mu      sync.Mutex // protects entries and err
	entries []string
	err     error // returned by every Record, if not nil
}

func (j *journal) Record(from, to string, amount int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.entries = append(j.entries, fmt.Sprintf("%s->%s %d", from, to, amount))
	return nil
}

func (j *journal) Entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func (j *journal) fail(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = err
}

// A hook is a Ledger whose Record runs a function for chosen transfers, on
// the goroutine of the transfer (which holds its locks), and journals
// nothing.
type hook map[[2]string]func() error

func (h hook) Record(from, to string, amount int64) error {
	if f := h[[2]string{from, to}]; f != nil {
		return f()
	}
	return nil
}

// A gate is a one-shot signal: closed once, waited for with a bound.
type gate struct {
	once sync.Once
	c    chan struct{}
}

func newGate() *gate { return &gate{c: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.c) }) }

// wait waits until g is open, at most d; it reports whether g opened.
func (g *gate) wait(d time.Duration) bool {
	select {
	case <-g.c:
		return true
	case <-time.After(d):
		return false
	}
}

// --- the tests --------------------------------------------------------------

func TestTransfer(t *testing.T) {
	j := &journal{}
	b := New(j, map[string]int64{"alice": 100, "al": 50, "alicia": 10})

	try := func(from, to string, amount int64) error {
		t.Helper()
		err, ok := transfer(t, b, from, to, amount)
		if !ok {
			t.FailNow()
		}
		return err
	}
	require.NoError(t, try("alice", "al", 30), "Transfer(alice, al, 30)")
	require.NoError(t, try("al", "alicia", 5), "Transfer(al, alicia, 5)")
	if !wantBalances(t, b, map[string]int64{"alice": 70, "al": 75, "alicia": 15}) {
		return
	}

	assert.ErrorIs(t, try("alicia", "alice", 16), ErrInsufficientFunds, "Transfer(alicia, alice, 16)")
	assert.ErrorIs(t, try("alice", "al", 71), ErrInsufficientFunds, "Transfer(alice, al, 71)")
	for _, tt := range []struct{ from, to string }{{"alice", "alice"}, {"alice", "carol"}, {"carol", "alice"}, {"ali", "al"}} {
		assert.Error(t, try(tt.from, tt.to, 10), "Transfer(%s, %s, 10)", tt.from, tt.to)
	}
	assert.Error(t, try("alice", "al", -10), "Transfer(alice, al, -10)")
	assert.Error(t, try("alice", "al", 0), "Transfer(alice, al, 0)")
	if !wantBalances(t, b, map[string]int64{"alice": 70, "al": 75, "alicia": 15}) {
		return
	}
	assert.Equal(t, []string{"alice->al 30", "al->alicia 5"}, j.Entries(), "only transfers that moved money are journaled")

	errOffline := errors.New("journal offline")
	j.fail(errOffline)
	assert.ErrorIs(t, try("alice", "al", 10), errOffline, "Transfer with a failing ledger must return the ledger's error")
	assert.ErrorIs(t, try("al", "alice", 10), errOffline, "Transfer with a failing ledger must return the ledger's error")
	if !wantBalances(t, b, map[string]int64{"alice": 70, "al": 75, "alicia": 15}) {
		return
	}
	// After all those errors, every account can still be used both ways.
	j.fail(nil)
	require.NoError(t, try("alicia", "al", 15), "Transfer(alicia, al, 15)")
	require.NoError(t, try("al", "alice", 90), "Transfer(al, alice, 90)")
	wantBalances(t, b, map[string]int64{"alice": 160, "al": 0, "alicia": 0})
}

// TestTransferOppositeWays forces the unlucky timing instead of waiting for
// it. A third transfer holds one account (its ledger entry is held open);
// a transfer that needs that account first queues for it, then one in the
// opposite direction starts; then the third transfer finishes. A Transfer
// that takes its locks in argument order (or any order two directions
// disagree on) then has each of the two hold one account and wait for the
// other, every time, whatever mutex it uses. It runs every combination:
// either account held, either direction first, for ids that differ in
// their first letter, share a prefix, or share their first letter and
// length.
//
// Two transfers that froze stay frozen, blocked on the locks of a bank no
// other test uses.
func TestTransferOppositeWays(t *testing.T) {
	for _, pair := range [][2]string{{"alice", "bob"}, {"alice", "alicia"}, {"amy", "ann"}} {
		for _, held := range []int{0, 1} {
			for _, first := range []int{0, 1} {
				p, q := pair[first], pair[1-first] // the first transfer is p->q
				h := hook{}
				b := New(h, map[string]int64{p: 100, q: 100, "zed": 100})
				// One after the other first: nothing can freeze.
				for _, c := range []*call{goTransfer(b, p, q, 1), goTransfer(b, q, p, 1)} {
					if !await(t, "", c) {
						return
					}
				}

				holder := pair[held]
				inside, release := newGate(), newGate()
				t.Cleanup(release.open)
				h[[2]string{holder, "zed"}] = func() error {
					inside.open()
					release.wait(callLimit)
					return nil
				}
				busy := goTransfer(b, holder, "zed", 1)
				if !inside.wait(callLimit) {
					await(t, "", busy)
					t.Fatalf("%s never reached its ledger entry", busy.what)
				}
				one := goTransfer(b, p, q, 1)
				waitBlocked(one)
				other := goTransfer(b, q, p, 1)
				waitBlocked(other)
				release.open()
				why := fmt.Sprintf("Both started while %s held %s, and queued for it; once it released %s, neither finished, which is what two transfers do when each holds one of %s and %s and waits for the other's lock (AB-BA). Want every transfer to take the two account locks in one order that both directions agree on, or never to wait for a lock while it holds one.", busy.what, holder, holder, p, q)
				if !await(t, why, busy, one, other) {
					return
				}
				for _, c := range []*call{busy, one, other} {
					assert.NoError(t, c.err, c.what)
				}
				want := map[string]int64{p: 100, q: 100, "zed": 101}
				want[holder] = 99
				if !wantBalances(t, b, want) {
					return
				}
			}
		}
	}
}

// TestTransferLocksBothAccounts reads both accounts of a transfer from
// other goroutines while the ledger records it: each read must wait, for
// the journal and the balances to change together.
func TestTransferLocksBothAccounts(t *testing.T) {
	for _, tt := range []struct{ from, to string }{{"alice", "bob"}, {"bob", "alice"}, {"al", "alice"}, {"alice", "al"}} {
		var unlocked []string
		h := hook{}
		b := New(h, map[string]int64{"alice": 100, "bob": 100, "al": 100})
		var probes []*call
		h[[2]string{tt.from, tt.to}] = func() error {
			// The transfer holds its locks now: each probe must block.
			for _, id := range []string{tt.from, tt.to} {
				p := goBalance(b, id)
				probes = append(probes, p)
				waitBlocked(p)
				if p.finished() {
					unlocked = append(unlocked, id)
				}
			}
			return nil
		}
		c := goTransfer(b, tt.from, tt.to, 10)
		if !await(t, "", c) || !await(t, "Balance must return once the transfer has unlocked its accounts.", probes...) {
			return
		}
		if assert.NoError(t, c.err, "%s", c.what) && len(unlocked) > 0 {
			t.Errorf("while the ledger recorded %s, another goroutine could read %q: the journal and the balances can disagree; want both accounts locked from the funds check until the money has moved", c.what, unlocked)
		}
		wantBalances(t, b, map[string]int64{tt.from: 90, tt.to: 110})
	}
}

func TestTransfersOverlap(t *testing.T) {
	balances := map[string]int64{"alice": 100, "bob": 100, "carol": 100, "dave": 100, "erin": 100}

	// Two transfers that share no account must be able to run at once.
	h := hook{}
	b := New(h, balances)
	ab, cd := newGate(), newGate()
	var apart atomic.Bool
	h[[2]string{"alice", "bob"}] = func() error {
		ab.open()
		apart.Store(!cd.wait(meetWait))
		return nil
	}
	h[[2]string{"carol", "dave"}] = func() error {
		cd.open()
		apart.Store(!ab.wait(meetWait))
		return nil
	}
	t1, t2 := goTransfer(b, "alice", "bob", 10), goTransfer(b, "carol", "dave", 10)
	if !await(t, "", t1, t2) {
		return
	}
	if apart.Load() {
		t.Fatalf("serialized: Transfer(alice, bob) and Transfer(carol, dave) share no account, yet one waited %v for the other to finish; want transfers between different accounts to run at the same time", meetWait)
	}
	assert.NoError(t, t1.err, t1.what)
	assert.NoError(t, t2.err, t2.what)

	// And they still can while a third transfer waits for a busy account:
	// carol->alice waits for alice, which alice->bob holds while its ledger
	// entry is held open. dave->erin shares no account with either.
	h = hook{}
	b = New(h, balances)
	inside, release, erin := newGate(), newGate(), newGate()
	t.Cleanup(release.open)
	h[[2]string{"alice", "bob"}] = func() error {
		inside.open()
		release.wait(callLimit + meetWait)
		return nil
	}
	h[[2]string{"dave", "erin"}] = func() error {
		erin.open()
		return nil
	}
	busy := goTransfer(b, "alice", "bob", 10)
	if !inside.wait(callLimit) {
		await(t, "", busy)
		t.Fatalf("%s never reached its ledger entry", busy.what)
	}
	waiting := goTransfer(b, "carol", "alice", 10)
	waitBlocked(waiting)
	other := goTransfer(b, "dave", "erin", 10)
	convoy := !erin.wait(meetWait)
	release.open()
	if !await(t, "", busy, waiting, other) {
		return
	}
	if convoy {
		t.Fatalf("serialized: Transfer(dave, erin) waited %v for Transfer(alice, bob) to finish while Transfer(carol, alice) waited for alice, though dave->erin shares no account with either; want a transfer that waits for a busy account not to hold up transfers between other accounts (a bank-wide lock or gate that a waiting transfer holds makes every transfer queue behind it)", meetWait)
	}
	for _, c := range []*call{busy, waiting, other} {
		assert.NoError(t, c.err, c.what)
	}
	wantBalances(t, b, map[string]int64{"alice": 100, "bob": 110, "carol": 90, "dave": 90, "erin": 110})
}

// A tally is a Ledger that counts its entries.
type tally struct{ n atomic.Int64 }

func (l *tally) Record(from, to string, amount int64) error {
	l.n.Add(1)
	return nil
}

func TestTransferConcurrent(t *testing.T) {
	const workers, rounds, opening = 8, 100, 1000
	ids := []string{"al", "alice", "alicia", "amy", "ann", "bob", "bo"}
	balances := map[string]int64{}
	var pairs [][2]string // every ordered pair, so money flows both ways
	for _, from := range ids {
		balances[from] = opening
		for _, to := range ids {
			if from != to {
				pairs = append(pairs, [2]string{from, to})
			}
		}
	}
	l := &tally{}
	b := New(l, balances)

	stop := make(chan struct{}) // closed when the test gives up
	defer close(stop)
	var moved atomic.Int64
	var calls []*call
	for w := range workers {
		calls = append(calls, start(fmt.Sprintf("worker %d's transfers", w), func(*call) error {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				select {
				case <-stop:
					return nil
				default:
				}
				p := pairs[rng.IntN(len(pairs))]
				err := b.Transfer(p[0], p[1], int64(1+rng.IntN(50)))
				switch {
				case err == nil:
					moved.Add(1)
				case !errors.Is(err, ErrInsufficientFunds):
					return fmt.Errorf("Transfer(%s, %s) = %w", p[0], p[1], err)
				}
			}
			return nil
		}))
	}
	// A reader checks balances all along.
	calls = append(calls, start("the balance reader", func(*call) error {
		for i := range rounds {
			select {
			case <-stop:
				return nil
			default:
			}
			if _, err := b.Balance(ids[i%len(ids)]); err != nil {
				return err
			}
		}
		return nil
	}))
	if !await(t, "Transfers in opposite directions must not wait for each other.", calls...) {
		return
	}
	for _, c := range calls {
		assert.NoError(t, c.err, "unexpected error")
	}
	var total int64
	for _, id := range ids {
		c := goBalance(b, id)
		if !await(t, "", c) {
			return
		}
		if c.bal < 0 {
			t.Errorf("Balance(%q) = %d; want no negative balance", id, c.bal)
		}
		total += c.bal
	}
	if want := int64(opening * len(ids)); total != want {
		t.Errorf("the accounts hold %d in total; want %d: transfers must move money, not create or lose it", total, want)
	}
	if got, want := l.n.Load(), moved.Load(); got != want {
		t.Errorf("the ledger journaled %d transfers; want %d, one per transfer that succeeded", got, want)
	}
}
