package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const (
	// took is how long the test bank takes to send one payout, in fake
	// time: every test runs in a testing/synctest bubble.
	took = time.Second
	// patience is how long, in fake time, a test waits for Run to return
	// when it has every reason to.
	patience = time.Hour

	// trials is how many times a test repeats a case that a Run leaving
	// the choice to select passes by luck. The Go spec says that a select
	// with several ready cases picks one "via a uniform pseudo-random
	// selection": once ctx is done with a payout queued, such a Run starts
	// the payout with probability 1/2. Each trial gives it at least one
	// such choice, so it passes all of them with probability at most
	// 2^-64, about 5e-20. A Run that looks at ctx before it takes a
	// payout passes every trial.
	trials = 64
)

var errBank = errors.New("bank: account closed")

// A bank is the test's Bank: each Send takes took of fake time. It
// remembers what was sent, whether two payouts were ever sent at once,
// and the first payout sent after Run's ctx was done.
type bank struct {
	ctx  context.Context  // Run's ctx: no payout may start once it is done
	fail map[string]error // Send fails the payouts with these IDs

	mu       sync.Mutex // protects the fields below
	sent     []string   // the IDs of the payouts sent, in order, failed ones too
	inFlight int        // Sends begun and not returned
	overlap  bool       // two Sends ran at once
	late     string     // the first payout sent once ctx was done
	lateAt   string     // where Run sent it from, such as "dispatcher.go:52"
}

func (b *bank) Send(p Payout) error {
	site := callerIn("dispatcher.go")
	b.mu.Lock()
	b.sent = append(b.sent, p.ID)
	b.inFlight++
	if b.inFlight > 1 {
		b.overlap = true
	}
	if b.ctx != nil && b.ctx.Err() != nil && b.late == "" {
		b.late, b.lateAt = p.ID, site
	}
	b.mu.Unlock()

	time.Sleep(took)

	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	return b.fail[p.ID]
}

// result returns what the bank saw.
func (b *bank) result() (sent []string, overlap bool, late, lateAt string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sent), b.overlap, b.late, b.lateAt
}

// A queue is the dispatcher's queue, with room for every payout a test
// queues.
type queue struct {
	ch     chan Payout
	closed bool
}

// newQueue returns a queue holding payouts with the given IDs.
func newQueue(ids ...string) *queue {
	q := &queue{ch: make(chan Payout, 16)}
	for _, id := range ids {
		q.put(id)
	}
	return q
}

func (q *queue) put(id string) {
	q.ch <- Payout{ID: id, Seller: "seller-of-" + id, Amount: 100 * len(id)}
}

func (q *queue) close() {
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// left takes what is left in the queue, once Run has returned.
func (q *queue) left() []string {
	var ids []string
	for {
		select {
		case p, ok := <-q.ch:
			if !ok {
				return ids
			}
			ids = append(ids, p.ID)
		default:
			return ids
		}
	}
}

// payouts returns n payout IDs, different in each trial.
func payouts(trial, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%02d-p%d", trial, i+1)
	}
	return ids
}

// start calls d.Run(ctx) in a new goroutine, which ends when Run returns,
// and returns the channel that receives Run's error.
func start(ctx context.Context, d *Dispatcher) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return done
}

// await waits for Run, started by start, to return, and returns its error
// and true. If Run has not returned after patience, when it had every
// reason to (as what says), await fails t with where Run is waiting,
// closes q to let it out, waits for it again and returns false.
func await(t *testing.T, done <-chan error, q *queue, what string) (error, bool) {
	t.Helper()
	select {
	case err := <-done:
		return err, true
	case <-time.After(patience):
	}
	t.Errorf("deadlock: Run has not returned %v after %s; it is waiting at %s", patience, what, stuckAt("dispatcher.go"))
	q.close()
	<-done
	return nil, false
}

func TestRunSendsEveryPayout(t *testing.T) {
	for _, n := range []int{0, 1, 5} {
		t.Run(fmt.Sprintf("%d payouts", n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				ids := payouts(0, n)
				q := newQueue(ids...)
				q.close()
				b := &bank{}
				d := &Dispatcher{Queue: q.ch, Bank: b}
				begin := time.Now()
				err, ok := await(t, start(context.Background(), d), q, "its queue was closed")
				if !ok {
					return
				}
				elapsed := time.Since(begin)

				sent, overlap, _, _ := b.result()
				if err != nil {
					t.Errorf("Run returned %v; want nil once the queue is closed and every payout sent", err)
				}
				if !slices.Equal(sent, ids) {
					t.Errorf("Run sent %q; want %q: every queued payout, in queue order", sent, ids)
				}
				if overlap {
					t.Errorf("Run sent two payouts at once; want one at a time")
				} else if want := time.Duration(n) * took; elapsed != want {
					t.Errorf("Run returned after %v of fake time; want %v: %d payouts that take %v each, then the queue is closed", elapsed, want, n, took)
				}
			})
		})
	}
}

func TestRunWaitsForPayouts(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		name := "queue closed"
		if cancelled {
			name = "ctx cancelled"
		}
		t.Run(name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				q := newQueue()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				b := &bank{ctx: ctx}
				d := &Dispatcher{Queue: q.ch, Bank: b}
				begin := time.Now()
				done := start(ctx, d)
				// Payouts arrive while Run waits for them; at 10s, with the
				// queue empty, the queue is closed or ctx cancelled.
				time.Sleep(2 * time.Second)
				q.put("late-1")
				time.Sleep(3 * time.Second)
				q.put("late-2")
				time.Sleep(5 * time.Second)
				what := "its queue was closed while it waited for a payout"
				if cancelled {
					cancel()
					what = "ctx was cancelled while it waited for a payout"
				} else {
					q.close()
				}
				err, ok := await(t, done, q, what)
				if !ok {
					return
				}
				elapsed := time.Since(begin)

				sent, _, _, _ := b.result()
				if want := []string{"late-1", "late-2"}; !slices.Equal(sent, want) {
					t.Errorf("Run sent %q; want %q, the payouts queued while it ran", sent, want)
				}
				if cancelled && !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v after ctx was cancelled; want context.Canceled", err)
				} else if !cancelled && err != nil {
					t.Errorf("Run returned %v once its queue was closed; want nil", err)
				}
				if elapsed != 10*time.Second {
					t.Errorf("Run returned after %v of fake time; want 10s: at once when %s", elapsed, what)
				}
			})
		})
	}
}

// TestRunCancelledBeforeTheCall cancels ctx before Run is called, with
// payouts queued: Run must send none of them.
func TestRunCancelledBeforeTheCall(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		for trial := range trials {
			ids := payouts(trial, 3)
			q := newQueue(ids...)
			if trial%2 == 1 {
				q.close() // closed, but not empty: still nothing may be sent
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			b := &bank{ctx: ctx}
			d := &Dispatcher{Queue: q.ch, Bank: b}
			begin := time.Now()
			err, ok := await(t, start(ctx, d), q, "ctx was cancelled")
			if !ok {
				return
			}
			elapsed := time.Since(begin)

			sent, _, late, lateAt := b.result()
			if late != "" {
				t.Errorf("Run started payout %s at %s with ctx already cancelled when it was called (trial %d of %d); want Run to start no payout once ctx is done, however many are queued: sent %q",
					late, lateAt, trial+1, trials, sent)
				return
			}
			if !checkStopped(t, err, q, ids, nil, trial) {
				return
			}
			if elapsed != 0 {
				t.Errorf("Run returned after %v of fake time with ctx already cancelled; want at once", elapsed)
				return
			}
		}
	})
}

// TestRunFinishesThePayoutInFlight cancels ctx while the k-th payout is
// being sent: Run must finish that one and start no other.
func TestRunFinishesThePayoutInFlight(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		for trial := range trials {
			for k := 1; k <= 3; k++ {
				ids := payouts(trial, 5)
				q := newQueue(ids...)
				ctx, cancel := context.WithCancel(context.Background())
				b := &bank{ctx: ctx}
				d := &Dispatcher{Queue: q.ch, Bank: b}
				cancelAt := time.Duration(k-1)*took + took/2
				time.AfterFunc(cancelAt, cancel)
				begin := time.Now()
				err, ok := await(t, start(ctx, d), q, "ctx was cancelled")
				cancel()
				if !ok {
					return
				}
				elapsed := time.Since(begin)

				sent, _, late, lateAt := b.result()
				if late != "" {
					t.Errorf("Run started payout %s at %s after ctx was cancelled during payout %s (trial %d of %d); want Run to finish that payout and start no other: sent %q",
						late, lateAt, ids[k-1], trial+1, trials, sent)
					return
				}
				if !checkStopped(t, err, q, ids[k:], ids[:k], trial) {
					return
				}
				if want := time.Duration(k) * took; elapsed != want {
					t.Errorf("Run returned after %v of fake time, with ctx cancelled at %v during payout %s; want %v, as soon as that payout was sent", elapsed, cancelAt, ids[k-1], want)
					return
				}
			}
		}
	})
}

// checkStopped fails t unless Run, stopped by its ctx, returned
// context.Canceled, having sent exactly sent and left exactly queued in
// the queue.
func checkStopped(t *testing.T, err error, q *queue, queued, sent []string, trial int) bool {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v after ctx was cancelled (trial %d of %d); want context.Canceled", err, trial+1, trials)
		return false
	}
	left := q.left()
	if !slices.Equal(left, queued) {
		var lost []string
		for _, id := range slices.Concat(sent, queued) {
			if !slices.Contains(left, id) && !slices.Contains(sent, id) {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			t.Errorf("payouts %q were taken from the queue but never sent (trial %d of %d); want every payout Run does not send left in the queue, in order, for the next dispatcher: left %q, want %q",
				lost, trial+1, trials, left, queued)
		} else {
			t.Errorf("Run left %q in the queue (trial %d of %d); want %q", left, trial+1, trials, queued)
		}
		return false
	}
	return true
}

func TestRunStopsOnBankError(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ids := payouts(0, 5)
		q := newQueue(ids...)
		q.close()
		b := &bank{fail: map[string]error{ids[1]: errBank}}
		d := &Dispatcher{Queue: q.ch, Bank: b}
		begin := time.Now()
		err, ok := await(t, start(context.Background(), d), q, "payout "+ids[1]+" failed")
		if !ok {
			return
		}
		elapsed := time.Since(begin)

		sent, _, _, _ := b.result()
		if !errors.Is(err, errBank) || !strings.Contains(fmt.Sprint(err), ids[1]) {
			t.Errorf("Run returned %v; want an error that names payout %s and wraps the bank's error, %v", err, ids[1], errBank)
		}
		if !slices.Equal(sent, ids[:2]) || elapsed != 2*took {
			t.Errorf("Run sent %q and returned after %v of fake time; want %q and 2s: it stops at the first payout that fails", sent, elapsed, ids[:2])
		}
		if left := q.left(); !slices.Equal(left, ids[2:]) {
			t.Errorf("Run left %q in the queue; want %q, the payouts after the one that failed", left, ids[2:])
		}
	})
}

// callerIn returns the innermost frame of the calling goroutine that is in
// the file named file, such as "dispatcher.go:52", or "".
func callerIn(file string) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if filepath.Base(f.File) == file {
			return fmt.Sprintf("%s:%d", file, f.Line)
		}
		if !more {
			return "an unknown place"
		}
	}
}

// stuckAt returns where a goroutine is waiting in the file named file,
// such as "dispatcher.go:48", from a dump of every goroutine.
func stuckAt(file string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if m := regexp.MustCompile(`/` + regexp.QuoteMeta(file) + `:(\d+)`).FindSubmatch(buf); m != nil {
		return file + ":" + string(m[1])
	}
	return "an unknown place"
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The
// tests here need milliseconds.
const watchdogTimeout = 5 * time.Second

// inBubble runs f in a synctest bubble, where time is fake and advances only
// when every goroutine in the bubble is durably blocked. A goroutine waiting
// on a sync.Mutex is not durably blocked, so a bubble can hang without any
// report: a real-time watchdog, started outside the bubble, then prints every
// goroutine and ends the test binary.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	dog := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), buf)
		panic(fmt.Sprintf("deadlock: %s still running after %v of real time: goroutines are stuck where fake time cannot help, such as waiting for a sync.Mutex", t.Name(), watchdogTimeout))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}
