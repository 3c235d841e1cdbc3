package resolver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run ResolveAll in testing/synctest bubbles, where time is fake:
// a test Lookup waits until every lookup of the batch is in flight, so
// lookups that overlap all return at once, and lookups run one after
// another take one (fake) second each. Nothing waits for real time, except
// a watchdog that fails a test whose goroutines are stuck.
const watchdogTimeout = 10 * time.Second

// TestResolveAll resolves batches of 40, 7, 1 and no domains, some of
// which do not exist. ResolveAll must start no OS thread (Lookup needs
// none), run every lookup of the batch at the same time, return after
// every lookup has returned, and return one Result per domain, in domain
// order, with the failed lookups' errors.
func TestResolveAll(t *testing.T) {
	for _, n := range []int{40, 7, 1, 0} {
		t.Run(fmt.Sprintf("%d domains", n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				domains := testDomains(n)
				w := newLookupWatch(len(domains))
				results, err := w.resolveAll(t, t.Context(), domains)
				if w.checkThreads(t) {
					return // everything else follows from the threads: say only that
				}
				if w.maxInFlight < len(domains) {
					t.Errorf("serialized: at most %d of the %d lookups were in flight at the same time; ResolveAll must run every lookup of the batch at once (Lookup waits on the network)", w.maxInFlight, len(domains))
				}
				if err != nil {
					t.Errorf("ResolveAll returned %q; a lookup that fails goes in its Result, so it must return nil", err)
				}
				checkResults(t, domains, results)
			})
		})
	}
}

// TestResolveAllCancelled cancels the context before ResolveAll is called
// and while its lookups are in flight: ResolveAll must return an error that
// wraps context.Canceled, after every lookup has returned.
func TestResolveAllCancelled(t *testing.T) {
	t.Run("before the call", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			w := newLookupWatch(5)
			_, err := w.resolveAll(t, ctx, testDomains(5))
			if w.checkThreads(t) {
				return
			}
			checkCancelled(t, err)
		})
	})
	t.Run("during the lookups", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w := newLookupWatch(12)
			w.hold = true // the lookups wait until ctx is done
			time.AfterFunc(500*time.Millisecond, cancel)
			_, err := w.resolveAll(t, ctx, testDomains(12))
			if w.checkThreads(t) {
				return
			}
			checkCancelled(t, err)
		})
	})
}

func checkCancelled(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ResolveAll returned %v after its context was cancelled; it must return an error that wraps ctx.Err() (context.Canceled)", err)
	}
}

// testDomains returns n domains whose names share prefixes and lengths;
// every fifth one does not exist.
func testDomains(n int) []string {
	domains := make([]string, n)
	for i := range domains {
		if i%5 == 3 {
			domains[i] = fmt.Sprintf("nx%d.example.org", i)
		} else {
			domains[i] = fmt.Sprintf("m%d.example.com", i)
		}
	}
	return domains
}

// mailServers is what the test Lookup finds for domain.
func mailServers(domain string) ([]string, error) {
	if strings.HasPrefix(domain, "nx") {
		return nil, fmt.Errorf("lookup %s: no such host", domain)
	}
	return []string{"mx1." + domain, "mx2." + domain}, nil
}

func checkResults(t *testing.T, domains []string, results []Result) {
	t.Helper()
	if len(results) != len(domains) {
		t.Errorf("ResolveAll returned %d results for %d domains; it must return one per domain, in domain order", len(results), len(domains))
		return
	}
	for i, d := range domains {
		want, wantErr := mailServers(d)
		got := results[i]
		if got.Domain != d || !slices.Equal(got.Servers, want) || (got.Err == nil) != (wantErr == nil) {
			t.Errorf("results[%d] = %+v, want {Domain:%s Servers:%v Err:%v}: one Result per domain, in domain order", i, got, d, want, wantErr)
		}
	}
}

// A lookupWatch is the tests' Lookup: it counts the lookups in flight, and
// holds each until the whole batch is in flight, for one fake second at
// most.
type lookupWatch struct {
	batch int           // lookups in the batch
	hold  bool          // hold every lookup until ctx is done
	gate  chan struct{} // closed when the whole batch is in flight

	mu          sync.Mutex // protects the fields below
	inFlight    int
	maxInFlight int
	threadsBase int // OS threads before ResolveAll was called
	threadsPeak int // OS threads when the whole batch was in flight
}

func newLookupWatch(batch int) *lookupWatch {
	return &lookupWatch{batch: batch, gate: make(chan struct{})}
}

// osThreads is how many OS threads the process has.
func osThreads() int { return pprof.Lookup("threadcreate").Count() }

func (w *lookupWatch) lookup(ctx context.Context, domain string) ([]string, error) {
	w.mu.Lock()
	w.inFlight++
	w.maxInFlight = max(w.maxInFlight, w.inFlight)
	if w.inFlight == w.batch && !w.hold {
		w.threadsPeak = osThreads()
		close(w.gate)
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inFlight--
		w.mu.Unlock()
	}()

	select {
	case <-w.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Second): // the rest of the batch never came
	}
	return mailServers(domain)
}

// resolveAll calls ResolveAll with w's Lookup and checks that no lookup
// is still running when it returns.
func (w *lookupWatch) resolveAll(t *testing.T, ctx context.Context, domains []string) ([]Result, error) {
	t.Helper()
	threadStarts.take() // count this call's only
	w.threadsBase = osThreads()
	r := &Resolver{Lookup: w.lookup}
	results, err := r.ResolveAll(ctx, domains)
	w.mu.Lock()
	running := w.inFlight
	w.mu.Unlock()
	if running > 0 {
		t.Errorf("leak: ResolveAll returned while %d of its lookups were still running; it must return only after every lookup has returned", running)
	}
	return results, err
}

// checkThreads reports whether ResolveAll started OS threads, and fails
// the test if it did.
func (w *lookupWatch) checkThreads(t *testing.T) bool {
	t.Helper()
	if n, caller := threadStarts.take(); n > 0 {
		t.Errorf("overspawn: ResolveAll started %d OS thread(s) (StartThread, at %s) for %d lookup(s); Lookup needs no thread of its own: a goroutine each runs them all at once, at a few KB apiece, on the threads the runtime already has (Python: a threading.Thread per task)", n, caller, w.batch)
		return true
	}
	w.mu.Lock()
	extra := w.threadsPeak - w.threadsBase
	w.mu.Unlock()
	if w.threadsPeak > 0 && w.batch >= 20 && extra >= w.batch/2 {
		t.Errorf("overspawn: the process had %d more OS threads while the %d lookups were in flight than before ResolveAll was called; Lookup needs no thread of its own: a goroutine each runs them all at once on the threads the runtime already has", extra, w.batch)
		return true
	}
	return false
}

// inBubble runs f in a synctest bubble, under a real-time watchdog that
// fails the test, with every goroutine's stack, if the bubble is stuck
// where fake time cannot help.
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
