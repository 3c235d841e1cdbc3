package bank

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sasha-s/go-deadlock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// meetWait bounds how long TestTransfersOverlap waits for two
	// transfers to be inside the ledger at the same time.
	meetWait = 2 * time.Second
	// probeWait is how long TestTransferLocksBothAccounts tries to read
	// the accounts of a transfer while the ledger records it.
	probeWait = 500 * time.Millisecond
	// stuckWait bounds every wait for transfers to finish.
	stuckWait = 3 * time.Second
)

func init() {
	// go-deadlock's default reaction to a report is os.Exit(2), which ends
	// the test binary before any test can say what happened. Keep the
	// reports instead: every test fails with the ones made while it ran.
	deadlock.Opts.LogBuf = &lockReports
	deadlock.Opts.OnPotentialDeadlock = lockReports.count
	// No reports of long waits: they come from timers that fire after the
	// test that caused them has ended, and would blame the next test. The
	// tests bound their own waits and show the stuck goroutines.
	deadlock.Opts.DeadlockTimeout = 0
}

// lockReports holds every report go-deadlock has made in this process.
var lockReports reportLog

// A reportLog collects go-deadlock's reports. go-deadlock writes a report
// to Opts.LogBuf and then calls Opts.OnPotentialDeadlock, on whichever
// goroutine was taking a lock, so the log has its own lock.
type reportLog struct {
	mu   sync.Mutex // protects n and text
	n    int        // reports so far
	text strings.Builder
}

// A logMark is a position in a reportLog.
type logMark struct{ n, len int }

func (r *reportLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.Write(p)
}

func (r *reportLog) count() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
}

func (r *reportLog) mark() logMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return logMark{r.n, r.text.Len()}
}

// since returns the number of reports made after m and the text of the
// first one.
func (r *reportLog) since(m logMark) (n int, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const header = "POTENTIAL DEADLOCK:"
	first = r.text.String()[m.len:]
	if i := strings.Index(first[min(len(header), len(first)):], header); i >= 0 {
		first = first[:len(header)+i]
	}
	return r.n - m.n, strings.TrimSpace(first)
}

// checkLockOrder makes t fail, when it ends, if go-deadlock saw locks taken
// in an order that can deadlock while t ran.
func checkLockOrder(t *testing.T) {
	m := lockReports.mark()
	t.Cleanup(func() {
		if n, first := lockReports.since(m); n > 0 {
			t.Errorf("deadlock: go-deadlock reported %d lock-order inversion(s): one transfer locked account A and then B, another locked B and then A, so two transfers in opposite directions can each hold one account and wait forever for the other; want no report. The first report:\n%s", n, first)
		}
	})
}

// waitTransfers waits for wg, at most stuckWait, and fails t with the
// stacks of the transfers still running if they do not finish in time.
// It stops waiting at once if go-deadlock reports a lock-order inversion
// while it waits: go-deadlock reports before taking the lock that would
// block, so a freeze may follow at any moment, and the verdict is already
// known.
func waitTransfers(t *testing.T, wg *sync.WaitGroup) bool {
	t.Helper()
	m := lockReports.mark()
	done := make(chan struct{})
	go func() { // exits when every transfer has returned
		wg.Wait()
		close(done)
	}()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	timeout := time.After(stuckWait)
	for {
		select {
		case <-done:
			return true
		case <-poll.C:
			if n, _ := lockReports.since(m); n > 0 {
				t.Errorf("deadlock: while transfers ran at the same time, go-deadlock saw them take account locks in opposite orders, so they can freeze at any moment; the test stopped waiting for them. Goroutines inside Transfer:\n%s", stuckTransfers())
				return false
			}
		case <-timeout:
			t.Errorf("deadlock: transfers still running after %v, each waiting for an account lock another one holds; want every transfer to finish. Stuck goroutines:\n%s", stuckWait, stuckTransfers())
			return false
		}
	}
}

// stuckTransfers returns the goroutines inside Bank.Transfer: what each
// waits for and its frames in this package.
func stuckTransfers() string {
	pc, _, _, _ := runtime.Caller(0)
	fn := runtime.FuncForPC(pc).Name() // "<package path>.stuckTransfers"
	pkg := fn[:strings.LastIndex(fn, ".")+1]
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var stuck []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, ".(*Bank).Transfer(") {
			continue
		}
		lines := strings.Split(g, "\n")
		keep := lines[:1] // goroutine N [what it waits for]:
		for i := 1; i+1 < len(lines); i += 2 {
			if strings.HasPrefix(lines[i], pkg) {
				keep = append(keep, lines[i], lines[i+1])
			}
		}
		stuck = append(stuck, strings.Join(keep, "\n"))
	}
	if len(stuck) > 4 {
		stuck = append(stuck[:4], fmt.Sprintf("...and %d more", len(stuck)-4))
	}
	return strings.Join(stuck, "\n\n")
}

// wantBalances fails t unless the accounts of b hold want.
func wantBalances(t *testing.T, b *Bank, want map[string]int64) {
	t.Helper()
	for id, w := range want {
		got, err := b.Balance(id)
		if assert.NoError(t, err, "Balance(%q)", id) {
			assert.Equal(t, w, got, "Balance(%q)", id)
		}
	}
}

// A journal is a Ledger that keeps its entries.
type journal struct {
	mu      sync.Mutex // protects entries
	entries []string
	err     error // returned by every Record, if not nil
}

func (j *journal) Record(from, to string, amount int64) error {
	if j.err != nil {
		return j.err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf("%s->%s %d", from, to, amount))
	return nil
}

func (j *journal) Entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entries
}

func TestTransfer(t *testing.T) {
	checkLockOrder(t)
	j := &journal{}
	b := New(j, map[string]int64{"alice": 100, "bob": 50})

	require.NoError(t, b.Transfer("alice", "bob", 30), "Transfer(alice, bob, 30)")
	wantBalances(t, b, map[string]int64{"alice": 70, "bob": 80})

	assert.ErrorIs(t, b.Transfer("alice", "bob", 71), ErrInsufficientFunds, "Transfer(alice, bob, 71)")
	for _, tt := range []struct{ from, to string }{{"alice", "alice"}, {"alice", "carol"}, {"carol", "alice"}} {
		assert.Error(t, b.Transfer(tt.from, tt.to, 10), "Transfer(%s, %s, 10)", tt.from, tt.to)
	}
	assert.Error(t, b.Transfer("alice", "bob", -10), "Transfer(alice, bob, -10)")
	wantBalances(t, b, map[string]int64{"alice": 70, "bob": 80})
	assert.Equal(t, []string{"alice->bob 30"}, j.Entries(), "only transfers that moved money are journaled")

	j.err = errors.New("journal offline")
	assert.ErrorIs(t, b.Transfer("alice", "bob", 10), j.err, "Transfer with a failing ledger must return the ledger's error")
	wantBalances(t, b, map[string]int64{"alice": 70, "bob": 80})
}

func TestTransferBothWays(t *testing.T) {
	checkLockOrder(t)
	b := New(&journal{}, map[string]int64{"alice": 100, "bob": 100})

	// One after the other, so nothing can hang: go-deadlock sees the
	// order in which each transfer takes the two account locks.
	if err := b.Transfer("alice", "bob", 10); err != nil {
		t.Errorf("Transfer(alice, bob, 10) = %v; want nil", err)
	}
	if err := b.Transfer("bob", "alice", 10); err != nil {
		t.Errorf("Transfer(bob, alice, 10) = %v; want nil", err)
	}
	wantBalances(t, b, map[string]int64{"alice": 100, "bob": 100})
}

// A probeLedger tries, while it records a transfer, to read both accounts
// of the transfer from other goroutines: it notes every account that
// could be read, which means the transfer did not hold its lock.
//
// Record runs on the goroutine that calls Transfer; the probes only send.
type probeLedger struct {
	bank     *Bank
	probes   sync.WaitGroup
	unlocked []string // accounts a probe read while Record ran
}

func (l *probeLedger) Record(from, to string, amount int64) error {
	read := make(chan string, 2) // buffered: late probes must not block
	for _, id := range []string{from, to} {
		l.probes.Go(func() { // exits once the transfer unlocks id
			l.bank.Balance(id)
			read <- id
		})
	}
	timeout := time.After(probeWait)
	for range 2 {
		select {
		case id := <-read:
			l.unlocked = append(l.unlocked, id)
		case <-timeout:
			return nil
		}
	}
	return nil
}

func TestTransferLocksBothAccounts(t *testing.T) {
	checkLockOrder(t)
	l := &probeLedger{}
	b := New(l, map[string]int64{"alice": 100, "bob": 100})
	l.bank = b

	if err := b.Transfer("alice", "bob", 10); err != nil {
		t.Errorf("Transfer(alice, bob, 10) = %v; want nil", err)
	}
	if !waitTransfers(t, &l.probes) {
		return
	}
	if len(l.unlocked) > 0 {
		t.Errorf("while the ledger recorded Transfer(alice, bob, 10), another goroutine could read %q: the journal and the balances can disagree; want both accounts locked from the funds check until the money has moved", l.unlocked)
	}
	wantBalances(t, b, map[string]int64{"alice": 90, "bob": 110})
}

// A meetLedger makes each Record wait, at most meetWait, until n transfers
// are inside Record at the same time.
type meetLedger struct {
	n       int32
	arrived atomic.Int32
	all     chan struct{} // closed when n transfers have arrived
	apart   atomic.Bool   // some Record gave up waiting
}

func (l *meetLedger) Record(from, to string, amount int64) error {
	if l.arrived.Add(1) == l.n {
		close(l.all)
	}
	select {
	case <-l.all:
		return nil
	case <-time.After(meetWait):
		l.apart.Store(true)
		return fmt.Errorf("no other transfer arrived within %v", meetWait)
	}
}

func TestTransfersOverlap(t *testing.T) {
	checkLockOrder(t)
	l := &meetLedger{n: 2, all: make(chan struct{})}
	b := New(l, map[string]int64{"alice": 100, "bob": 100, "carol": 100, "dave": 100})

	var wg sync.WaitGroup
	var errAB, errCD error
	wg.Go(func() { errAB = b.Transfer("alice", "bob", 10) })
	wg.Go(func() { errCD = b.Transfer("carol", "dave", 10) })
	if !waitTransfers(t, &wg) {
		return
	}
	if l.apart.Load() {
		t.Fatalf("serialized: Transfer(alice, bob) and Transfer(carol, dave) share no account, yet one waited %v for the other to finish; want transfers between different accounts to run at the same time", meetWait)
	}
	if errAB != nil || errCD != nil {
		t.Errorf("Transfer(alice, bob, 10) = %v, Transfer(carol, dave, 10) = %v; want nil, nil", errAB, errCD)
	}
	wantBalances(t, b, map[string]int64{"alice": 90, "bob": 110, "carol": 90, "dave": 110})
}

// A tally is a Ledger that counts its entries.
type tally struct{ n atomic.Int64 }

func (l *tally) Record(from, to string, amount int64) error {
	l.n.Add(1)
	return nil
}

func TestTransferConcurrent(t *testing.T) {
	checkLockOrder(t)
	const workers, rounds, opening = 8, 100, 1000
	ids := []string{"alice", "bob", "carol", "dave"}
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
	var wg sync.WaitGroup
	var moved atomic.Int64
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() { // exits after its rounds, or at stop
			for i := range rounds {
				select {
				case <-stop:
					return
				default:
				}
				p := pairs[(w+i)%len(pairs)]
				err := b.Transfer(p[0], p[1], int64(1+(w*i)%50))
				switch {
				case err == nil:
					moved.Add(1)
				case !errors.Is(err, ErrInsufficientFunds):
					errs[w] = fmt.Errorf("Transfer(%s, %s) = %w", p[0], p[1], err)
					return
				}
			}
		})
	}
	if !waitTransfers(t, &wg) {
		return
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("unexpected errors: %v", err)
	}
	var total int64
	for _, id := range ids {
		got, _ := b.Balance(id)
		if got < 0 {
			t.Errorf("Balance(%q) = %d; want no negative balance", id, got)
		}
		total += got
	}
	if want := int64(opening * len(ids)); total != want {
		t.Errorf("the accounts hold %d in total; want %d: transfers must move money, not create or lose it", total, want)
	}
	if got, want := l.n.Load(), moved.Load(); got != want {
		t.Errorf("the ledger journaled %d transfers; want %d, one per transfer that succeeded", got, want)
	}
}
