package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Every test runs in a testing/synctest bubble, where time is fake and
// exact: a backend answers after its delay, and once its ctx is done it
// takes giveUp to stop.
const (
	query  = "goroutine leak"
	giveUp = 10 * time.Millisecond
	ms     = time.Millisecond
)

// A backend is the test's Backend: it answers after delay, with err if set,
// and counts its calls in flight.
type backend struct {
	name  string
	delay time.Duration
	err   error
	calls *calls
}

// calls counts the searches of a set of backends.
type calls struct {
	mu       sync.Mutex // protects inFlight and peak
	inFlight int
	peak     int // the most searches in flight at once
}

func (c *calls) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight++
	c.peak = max(c.peak, c.inFlight)
}

func (c *calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
}

func (c *calls) counts() (inFlight, peak int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, c.peak
}

func (b backend) Search(ctx context.Context, q string) ([]Result, error) {
	b.calls.begin()
	defer b.calls.end()
	timer := time.NewTimer(b.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		time.Sleep(giveUp)
		return nil, ctx.Err()
	}
	if b.err != nil {
		return nil, b.err
	}
	return hits(b.name, q), nil
}

// hits returns what the backend name finds for q.
func hits(name, q string) []Result {
	return []Result{
		{Backend: name, Title: q + " (" + name + ", 1)", URL: "https://" + name + ".example/1"},
		{Backend: name, Title: q + " (" + name + ", 2)", URL: "https://" + name + ".example/2"},
	}
}

// searcher returns a Searcher for bs, all counted by one calls.
func searcher(bs []backend) (*Searcher, *calls) {
	s, c := &Searcher{}, &calls{}
	for _, b := range bs {
		b.calls = c
		s.Backends = append(s.Backends, b)
	}
	return s, c
}

// failing returns a backend that fails after delay with an error of its
// own.
func failing(name string, delay time.Duration) backend {
	return backend{name: name, delay: delay, err: fmt.Errorf("%s: %w", name, errors.New("503 service unavailable"))}
}

// A searched is what a call to Search did.
type searched struct {
	results  []Result
	err      error
	elapsed  time.Duration // fake time from the call to its return
	inFlight int           // backend searches still running when it returned
	late     string        // where Search waited when it should have returned, if it had not
}

// search calls s.Search(ctx, query) in a new goroutine. Search must return
// after want of fake time: if it has not by then, search notes where it
// waits, and waits on, for an hour at most. It returns false if Search
// has not returned after that hour, having failed t.
func search(t *testing.T, ctx context.Context, s *Searcher, c *calls, want time.Duration) (searched, bool) {
	t.Helper()
	done := make(chan searched, 1)
	start := time.Now()
	go func() { // exits when Search returns
		res, err := s.Search(ctx, query)
		inFlight, _ := c.counts()
		done <- searched{results: res, err: err, elapsed: time.Since(start), inFlight: inFlight}
	}()
	late := ""
	select {
	case r := <-done:
		return r, true
	case <-time.After(want):
	}
	synctest.Wait() // Search has returned by now, or waits where it will wait
	select {
	case r := <-done:
		return r, true
	default:
		late = stuckAt("search.go")
	}
	select {
	case r := <-done:
		r.late = late
		return r, true
	case <-time.After(time.Hour):
		t.Errorf("deadlock: Search has not returned after %v of fake time; want it back after %v; it waits at %s", want+time.Hour, want, late)
		return searched{}, false
	}
}

// checkAllAtOnce fails t unless all n backends were searching at once.
func checkAllAtOnce(t *testing.T, c *calls, n int) bool {
	t.Helper()
	if _, peak := c.counts(); peak < n {
		t.Errorf("serialized: at most %d of the %d backends were searching at once; want all of them asked at once", peak, n)
		return false
	}
	return true
}

// checkTime fails t unless Search, which returned r, returned after want,
// as why says, with no backend search still running.
func checkTime(t *testing.T, r searched, want time.Duration, why string) bool {
	t.Helper()
	switch {
	case r.inFlight > 0:
		t.Errorf("leak: Search returned after %v of fake time while %d backend search(es) were still running; want it to return only once every backend it asked has stopped", r.elapsed, r.inFlight)
	case r.elapsed > want:
		t.Errorf("Search returned after %v of fake time; want %v: %s (at %v Search was still waiting, at %s)", r.elapsed, want, why, want, r.late)
	case r.elapsed < want:
		t.Errorf("Search returned after %v of fake time; want %v: %s", r.elapsed, want, why)
	default:
		return true
	}
	return false
}

func TestSearchMergesResults(t *testing.T) {
	for _, bs := range [][]backend{
		{},
		{{name: "web", delay: 200 * ms}},
		{{name: "web", delay: 300 * ms}, {name: "news", delay: 100 * ms}, {name: "images", delay: 200 * ms}},
		{{name: "web", delay: 120 * ms}, {name: "news", delay: 400 * ms}, {name: "images", delay: 50 * ms}, {name: "video", delay: 400 * ms}, {name: "maps", delay: 10 * ms}},
	} {
		t.Run(fmt.Sprintf("%d backends", len(bs)), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s, c := searcher(bs)
				var want []Result
				slowest := time.Duration(0)
				for _, b := range bs {
					want = append(want, hits(b.name, query)...)
					slowest = max(slowest, b.delay)
				}
				r, ok := search(t, context.Background(), s, c, slowest)
				if !ok {
					return
				}
				if !checkAllAtOnce(t, c, len(bs)) {
					return
				}
				checkTime(t, r, slowest, "every backend has answered by then, asked at once")
				if r.err != nil {
					t.Errorf("Search returned error %v; want nil: no backend failed", r.err)
				} else if !slices.Equal(r.results, want) {
					t.Errorf("Search returned %d results:\n%v\nwant %d, backend by backend in the order of Backends:\n%v", len(r.results), r.results, len(want), want)
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestSearchFirstFailureCancelsTheRest(t *testing.T) {
	for _, tc := range []struct {
		backends []backend
		failed   int // which one fails
	}{
		{[]backend{{name: "web", delay: 10 * time.Second}, failing("news", 100*ms), {name: "images", delay: 10 * time.Second}}, 1},
		{[]backend{failing("web", 300*ms), {name: "news", delay: 5 * time.Second}}, 0},
		{[]backend{{name: "web", delay: 200 * ms}, {name: "news", delay: 20 * time.Second}, {name: "images", delay: 200 * ms}, {name: "video", delay: 8 * time.Second}, failing("maps", 400*ms)}, 4},
	} {
		bad := tc.backends[tc.failed]
		t.Run(fmt.Sprintf("%d backends, %s fails", len(tc.backends), bad.name), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s, c := searcher(tc.backends)
				want := bad.delay + giveUp
				r, ok := search(t, context.Background(), s, c, want)
				if !ok || !checkAllAtOnce(t, c, len(tc.backends)) {
					return
				}
				checkTime(t, r, want, fmt.Sprintf("%s failed after %v, and the backends still searching then, if cancelled at once, stop within %v", bad.name, bad.delay, giveUp))
				if !errors.Is(r.err, bad.err) {
					t.Errorf("Search returned error %v; want the error of %s, the backend that failed: %v", r.err, bad.name, bad.err)
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestSearchReturnsTheFirstFailure(t *testing.T) {
	for _, tc := range []struct {
		backends []backend
		first    []string // the backends that failed first, at the same moment
		at       time.Duration
	}{
		{[]backend{failing("web", 300*ms), failing("news", 200*ms), failing("images", 100*ms), {name: "video", delay: 10 * time.Second}}, []string{"images"}, 100 * ms},
		{[]backend{failing("web", 300*ms), failing("news", 100*ms), failing("images", 200*ms)}, []string{"news"}, 100 * ms},
		{[]backend{failing("web", 250*ms), {name: "news", delay: 50 * ms}, failing("images", 150*ms), failing("video", 150*ms), failing("maps", 900*ms)}, []string{"images", "video"}, 150 * ms},
	} {
		t.Run(fmt.Sprintf("%d backends, %s first", len(tc.backends), strings.Join(tc.first, " and ")), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				s, c := searcher(tc.backends)
				want := tc.at + giveUp
				r, ok := search(t, context.Background(), s, c, want)
				if !ok || !checkAllAtOnce(t, c, len(tc.backends)) {
					return
				}
				checkTime(t, r, want, fmt.Sprintf("%s failed first, after %v, and the backends still searching then, if cancelled at once, stop within %v", strings.Join(tc.first, " and "), tc.at, giveUp))
				var firstErrs, later []string
				first := false
				for _, b := range tc.backends {
					switch {
					case b.err == nil:
					case slices.Contains(tc.first, b.name):
						firstErrs = append(firstErrs, b.err.Error())
						first = first || errors.Is(r.err, b.err)
					case errors.Is(r.err, b.err):
						later = append(later, fmt.Sprintf("%s's, which failed after %v", b.name, b.delay))
					}
				}
				if !first {
					t.Errorf("Search returned error %v; want the error of the first backend to fail, after %v: %s", r.err, tc.at, strings.Join(firstErrs, ", or "))
				} else if len(later) > 0 {
					t.Errorf("Search's error also wraps the error of %s; want only the error of the first backend to fail: %v", strings.Join(later, ", and "), r.err)
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestSearchCancelled(t *testing.T) {
	for _, n := range []int{1, 3} {
		for _, cancelAt := range []time.Duration{-1, 150 * ms} {
			when := fmt.Sprintf("after %v", cancelAt)
			if cancelAt < 0 {
				when = "before the call"
			}
			t.Run(fmt.Sprintf("%d backends/cancelled %s", n, when), func(t *testing.T) {
				inBubble(t, func(t *testing.T) {
					var bs []backend
					for i := range n {
						bs = append(bs, backend{name: fmt.Sprintf("backend-%d", i), delay: time.Duration(i+1) * time.Second})
					}
					s, c := searcher(bs)
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if cancelAt < 0 {
						cancel()
					} else {
						time.AfterFunc(cancelAt, cancel)
					}
					want := max(cancelAt, 0) + giveUp
					r, ok := search(t, ctx, s, c, want)
					if !ok || cancelAt > 0 && !checkAllAtOnce(t, c, n) {
						return
					}
					if !errors.Is(r.err, context.Canceled) {
						t.Errorf("Search returned error %v with ctx cancelled %s; want one that wraps context.Canceled", r.err, when)
					}
					if r.inFlight > 0 || r.elapsed > want {
						checkTime(t, r, want, fmt.Sprintf("ctx was cancelled %s, and the backends stop within %v", when, giveUp))
					}
					time.Sleep(time.Minute)
				})
			})
		}
	}
}

// stuckAt returns where a goroutine is waiting in the file named file,
// such as "search.go:48", from a dump of every goroutine.
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
