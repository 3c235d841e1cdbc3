package indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// In fake time, inside the bubbles.
const (
	took   = 100 * time.Millisecond // a fetch that succeeds
	failIn = 50 * time.Millisecond  // a fetch that fails: a missing document is known sooner
	giveUp = 20 * time.Millisecond  // how long a fetch in flight takes to return once its ctx is done
)

var errMissing = errors.New("document not found")

// corpus returns n document IDs, their texts, and the index Run must build
// of them, its ID lists sorted.
func corpus(n int) (ids []string, docs map[string]string, want Index) {
	words := []string{"Go", "goroutine", "channel", "select", "mutex", "context", "leak", "join", "worker", "index"}
	docs = make(map[string]string)
	want = make(Index)
	for i := range n {
		id := fmt.Sprintf("doc-%03d", i)
		var text []string
		for k := range 4 {
			text = append(text, words[(i*3+k*k)%len(words)])
		}
		text = append(text, strings.ToUpper(words[i%len(words)]), fmt.Sprintf("rev%d", i%7))
		ids = append(ids, id)
		docs[id] = strings.Join(text, " ")
		want.add(id, docs[id])
	}
	return ids, docs, sorted(want)
}

// sorted returns idx with each ID list sorted: Run adds documents in the
// order they arrive.
func sorted(idx Index) Index {
	out := make(Index, len(idx))
	for w, ids := range idx {
		out[w] = slices.Sorted(slices.Values(ids))
	}
	return out
}

// A store serves documents in fake time. A fetch takes took, or failIn for
// a missing document; a fetch in flight returns giveUp after its ctx is
// done, and a fetch begun with its ctx done returns at once.
type store struct {
	docs    map[string]string
	missing map[string]bool // fetching these fails with errMissing

	start time.Time // failedAt is timed from here

	mu       sync.Mutex    // protects the fields below
	late     int           // fetches begun with their ctx already done
	inFlight int           // fetches begun and not yet returned
	peak     int           // the most fetches in flight at once
	failedAt time.Duration // when the first missing document's fetch failed, since start
}

func (s *store) Fetch(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	if ctx.Err() != nil {
		s.late++
		s.mu.Unlock()
		return "", ctx.Err()
	}
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	d := took
	if s.missing[id] {
		d = failIn
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		if s.missing[id] {
			s.mu.Lock()
			if s.failedAt == 0 {
				s.failedAt = time.Since(s.start)
			}
			s.mu.Unlock()
			return "", errMissing
		}
		return s.docs[id], nil
	case <-ctx.Done():
		time.Sleep(giveUp)
		return "", ctx.Err()
	}
}

// counts returns the store's counters.
func (s *store) counts() (late, inFlight, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.late, s.inFlight, s.peak
}

// A heldStore answers a fetch only once release is closed, or gives up when
// the fetch's ctx is done; fetching its missing document fails at once. It
// runs in real time, for goleak.
type heldStore struct {
	missing string
	started chan string   // one per fetch begun; large enough never to block
	release chan struct{} // closed: every fetch answers
}

func newHeldStore(missing string) *heldStore {
	return &heldStore{missing: missing, started: make(chan string, 100), release: make(chan struct{})}
}

func (h *heldStore) Fetch(ctx context.Context, id string) (string, error) {
	if id == h.missing {
		return "", errMissing
	}
	select {
	case h.started <- id:
	default:
	}
	select {
	case <-h.release:
		return "text of " + id, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run calls ix.Run in a goroutine and waits for it, at most two seconds of
// real time. Use it outside bubbles only.
func run(t *testing.T, ix *Indexer, ctx context.Context, ids []string, what string) (Index, error, bool) {
	t.Helper()
	type ran struct {
		idx Index
		err error
	}
	done := make(chan ran, 1)
	go func() { // exits when Run returns
		idx, err := ix.Run(ctx, ids)
		done <- ran{idx, err}
	}()
	select {
	case r := <-done:
		return r.idx, r.err, true
	case <-time.After(2 * time.Second):
		t.Errorf("deadlock: Run has not returned 2s after %s; want it to return as soon as its fetches in flight have returned", what)
		return nil, nil, false
	}
}

// This test runs in real time, outside any bubble, so that goleak sees every
// goroutine Run started. It needs no timing luck: the store answers only
// after Run has returned, when nobody wants its answers any more, and a
// goroutine still there then is blocked for good.
func TestRunLeavesNoGoroutines(t *testing.T) {
	ids := []string{"missing", "a", "b", "c", "d", "e", "f", "g", "h"}

	t.Run("cancelled", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		s := newHeldStore("")
		defer close(s.release)
		ix := &Indexer{Store: s, Workers: 3}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // exits once a fetch has begun, or at the deadline
			select {
			case <-s.started:
			case <-time.After(time.Second):
			}
			cancel()
		}()
		_, err, ok := run(t, ix, ctx, ids, "ctx was cancelled")
		if !ok {
			return // stuck, not leaked: run has said so
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned error %v after ctx was cancelled; want one that wraps context.Canceled", err)
		}
		goleak.VerifyNone(t, before)
	})

	t.Run("fetch fails", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		s := newHeldStore("missing")
		ix := &Indexer{Store: s, Workers: 3}
		_, err, ok := run(t, ix, context.Background(), ids, "fetching document missing failed")
		// The store answers now: every goroutine Run started must end all
		// the same.
		close(s.release)
		if !ok {
			return
		}
		if !errors.Is(err, errMissing) {
			t.Errorf("Run returned error %v; want one that wraps the failed fetch's error, %v", err, errMissing)
		}
		goleak.VerifyNone(t, before)
	})

	t.Run("finished", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		s := newHeldStore("")
		close(s.release)
		ix := &Indexer{Store: s, Workers: 3}
		idx, err, ok := run(t, ix, context.Background(), ids[1:3], "every document was fetched")
		if !ok {
			return
		}
		if err != nil || len(idx["text"]) != 2 {
			t.Errorf("Run = %v, %v; want the index of documents a and b, nil", idx, err)
		}
		goleak.VerifyNone(t, before)
	})
}

// The remaining tests run in testing/synctest bubbles, where time is fake
// and exact, and a goroutine still blocked when a test function returns
// makes the bubble panic, which ends the test binary. Each bubble first
// gives every goroutine a minute of fake time to finish.
func TestRunIndexesEveryDocument(t *testing.T) {
	for _, tc := range []struct{ workers, docs int }{{1, 5}, {3, 10}, {8, 20}, {8, 3}, {4, 0}} {
		t.Run(fmt.Sprintf("workers=%d/docs=%d", tc.workers, tc.docs), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				ids, docs, want := corpus(tc.docs)
				s := &store{docs: docs}
				ix := &Indexer{Store: s, Workers: tc.workers}
				start := time.Now()
				idx, err := ix.Run(context.Background(), ids)
				elapsed := time.Since(start)

				_, _, peak := s.counts()
				if most := min(tc.workers, tc.docs); peak < most {
					t.Errorf("serialized: at most %d fetches ran at once; want %d: %d workers each fetch one document at a time", peak, most, tc.workers)
				} else if peak > tc.workers {
					t.Errorf("overspawn: %d fetches ran at once; want at most %d, one per worker", peak, tc.workers)
				}
				rounds := (tc.docs + tc.workers - 1) / tc.workers
				if want := time.Duration(rounds) * took; peak == min(tc.workers, tc.docs) && elapsed != want {
					t.Errorf("Run took %v of fake time; want %v: %d documents that each take %v, fetched %d at a time", elapsed, want, tc.docs, took, tc.workers)
				}
				if assert.NoError(t, err, "Run returned an error; want the index") {
					assert.Equal(t, want, sorted(idx), "Run must index every document (ID lists compared sorted)")
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestRunStopsOnFetchError(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				ids, docs, _ := corpus(200)
				// The third round's first document is missing: it fails
				// halfway through that round, with other fetches in flight.
				bad := ids[2*workers]
				start := time.Now()
				s := &store{docs: docs, missing: map[string]bool{bad: true}, start: start}
				ix := &Indexer{Store: s, Workers: workers}
				_, err := ix.Run(context.Background(), ids)
				elapsed := time.Since(start)
				s.mu.Lock()
				failAt := s.failedAt
				s.mu.Unlock()

				if !errors.Is(err, errMissing) || !strings.Contains(fmt.Sprint(err), bad) {
					t.Errorf("Run returned error %v; want one that names document %s and wraps the fetch's error, %v", err, bad, errMissing)
				}
				checkStopped(t, s, elapsed, failAt, "fetching "+bad+" failed", len(ids)-3*workers)
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				ids, docs, _ := corpus(200)
				s := &store{docs: docs}
				ix := &Indexer{Store: s, Workers: workers}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				start := time.Now()
				_, err := ix.Run(ctx, ids)
				elapsed := time.Since(start)

				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned error %v with ctx already cancelled; want one that wraps context.Canceled", err)
				}
				checkStopped(t, s, elapsed, 0, "ctx was cancelled", len(ids))
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestRunCancelledDuringWork(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				ids, docs, _ := corpus(200)
				s := &store{docs: docs}
				ix := &Indexer{Store: s, Workers: workers}
				// Cancelled halfway through the third round of fetches.
				const cancelAt = 2*took + took/2
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(cancelAt, cancel)
				start := time.Now()
				_, err := ix.Run(ctx, ids)
				elapsed := time.Since(start)

				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned error %v after ctx was cancelled; want one that wraps context.Canceled", err)
				}
				checkStopped(t, s, elapsed, cancelAt, "ctx was cancelled", len(ids)-3*workers)
				time.Sleep(time.Minute)
			})
		})
	}
}

// checkStopped fails t unless Run, which returned after elapsed, stopped
// its workers as documented once what happened at stopAt: no fetch still
// in flight when it returned, back within giveUp (the time the fetches in
// flight take to give up), and the queue of the queued documents not
// fetched before stopAt left alone.
//
// A worker that checks ctx in a select may still take another document
// when the select picks it over ctx.Done() at random; a fetch begun with
// its ctx done returns at once, and workers that ignore ctx go through the
// whole queue that way. Half the queue tells the two apart: a worker that
// selects on ctx.Done() takes each further document with a chance of at
// most one in two, so the chance that W such workers take m documents in
// all is below C(m+W-1, W-1)/2^m. The queues here hold at least 176
// documents, so m is at least 88: below 10^-16 for 8 workers, far below
// for fewer.
func checkStopped(t *testing.T, s *store, elapsed, stopAt time.Duration, what string, queued int) {
	t.Helper()
	late, inFlight, _ := s.counts()
	if inFlight > 0 {
		t.Errorf("leak: Run returned %v after %s, while %d fetch(es) were still in flight: its workers outlived it; want Run to return only once they have stopped", elapsed-stopAt, what, inFlight)
	} else if elapsed > stopAt+giveUp {
		t.Errorf("Run returned %v after %s; want it back within %v: the fetches in flight return %v after their ctx is done, and Run must not wait for anything else", elapsed-stopAt, what, giveUp, giveUp)
	}
	if late >= queued/2 {
		t.Errorf("leak: after %s, the workers began %d more fetches with their ctx already done, of the %d documents still queued; want them to stop taking documents", what, late, queued)
	}
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The tests
// here need milliseconds.
const watchdogTimeout = 3 * time.Second

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
