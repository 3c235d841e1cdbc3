package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run Ingest in testing/synctest bubbles, where time is fake and
// exact: a source whose events come a second apart takes no real time, and
// the order in which sources end is the same on every run.

// A store is a fake Store. Like the real one it is not safe for concurrent
// use: the race detector reports two Adds at once.
type store struct {
	events []Event
}

func (s *store) Add(e Event) { s.events = append(s.events, e) }

// A gauge counts the sources being read at the same time.
type gauge struct {
	mu      sync.Mutex // protects reading and peak; never held across a wait
	reading int
	peak    int
}

func (g *gauge) add(d int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reading += d
	g.peak = max(g.peak, g.reading)
}

func (g *gauge) most() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// A source is a fake Source: it yields n events, each gap after the one
// before, and then io.EOF, or err if set.
type source struct {
	name  string
	n     int
	gap   time.Duration
	err   error
	gauge *gauge

	mu   sync.Mutex // protects next
	next int        // events yielded so far
}

func (s *source) Name() string { return s.name }

func (s *source) Next(ctx context.Context) (Event, error) {
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	s.mu.Lock()
	seq := s.next + 1
	s.mu.Unlock()
	if seq > s.n {
		if s.err != nil {
			return Event{}, s.err
		}
		return Event{}, io.EOF
	}
	s.gauge.add(1)
	defer s.gauge.add(-1)
	select {
	case <-time.After(s.gap):
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
	s.mu.Lock()
	s.next++
	s.mu.Unlock()
	return Event{Source: s.name, Seq: seq, Body: fmt.Sprintf("%s event %d", s.name, seq)}, nil
}

// A want is what a source must have put in the store: events 1 to n.
type want map[string]int

// run calls Ingest with srcs and returns its error and the fake time it took.
func run(ctx context.Context, st *store, srcs ...*source) (error, time.Duration) {
	sources := make([]Source, len(srcs))
	for i, s := range srcs {
		sources[i] = s
	}
	start := time.Now()
	err := Ingest(ctx, st, sources...)
	return err, time.Since(start)
}

func TestIngestEverySource(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		g := &gauge{}
		// The orders source ends at 3s, while the payments source still
		// has an event to come at 4s and the refunds source one at 5s.
		srcs := []*source{
			{name: "orders", n: 3, gap: time.Second, gauge: g},
			{name: "payments", n: 2, gap: 2 * time.Second, gauge: g},
			{name: "refunds", n: 1, gap: 5 * time.Second, gauge: g},
		}
		st := &store{}
		err, elapsed := run(context.Background(), st, srcs...)
		checkIngested(t, st, want{"orders": 3, "payments": 2, "refunds": 1})
		checkErrors(t, err, nil)
		checkOverlap(t, g, len(srcs), elapsed, 5*time.Second)
	})
}

func TestIngestSourceCounts(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				g := &gauge{}
				var srcs []*source
				w := want{}
				longest := time.Duration(0)
				for i := range n {
					// "eu", "eu-1", "eu-1-1", ... share prefixes, and the
					// sources end at different times.
					name := "eu" + strings.Repeat("-1", i)
					events, gap := 1+i%3, time.Duration(n-i)*time.Second
					srcs = append(srcs, &source{name: name, n: events, gap: gap, gauge: g})
					w[name] = events
					longest = max(longest, time.Duration(events)*gap)
				}
				st := &store{}
				err, elapsed := run(context.Background(), st, srcs...)
				checkIngested(t, st, w)
				checkErrors(t, err, nil)
				checkOverlap(t, g, n, elapsed, longest)
			})
		})
	}
}

func TestIngestNoSources(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		st := &store{}
		err, elapsed := run(context.Background(), st)
		if err != nil || len(st.events) != 0 || elapsed != 0 {
			t.Errorf("Ingest with no sources returned %v after %v of fake time and stored %d events; want nil at once, and no events", err, elapsed, len(st.events))
		}
	})
}

func TestIngestFailures(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errDenied := errors.New("permission denied")
		errCorrupt := errors.New("corrupt record")
		g := &gauge{}
		// Two sources fail, at 2s and 6s; the others go on to their end,
		// at 4s and 9s.
		srcs := []*source{
			{name: "clicks", n: 4, gap: time.Second, gauge: g},
			{name: "signups", n: 1, gap: 2 * time.Second, err: errDenied, gauge: g},
			{name: "logins", n: 3, gap: 3 * time.Second, gauge: g},
			{name: "logins-eu", n: 3, gap: 2 * time.Second, err: errCorrupt, gauge: g},
		}
		st := &store{}
		err, elapsed := run(context.Background(), st, srcs...)
		checkIngested(t, st, want{"clicks": 4, "signups": 1, "logins": 3, "logins-eu": 3})
		checkErrors(t, err, map[string]error{"signups": errDenied, "logins-eu": errCorrupt})
		checkOverlap(t, g, len(srcs), elapsed, 9*time.Second)
	})
}

func TestIngestCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		g := &gauge{}
		srcs := []*source{
			{name: "eu", n: 10, gap: time.Second, gauge: g},
			{name: "us", n: 10, gap: 2 * time.Second, gauge: g},
			{name: "apac", n: 1, gap: time.Second, gauge: g},
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(2500*time.Millisecond, cancel)
		st := &store{}
		err, elapsed := run(ctx, st, srcs...)
		checkIngested(t, st, want{"eu": 2, "us": 1, "apac": 1})
		checkErrors(t, err, map[string]error{"": context.Canceled})
		checkOverlap(t, g, len(srcs), elapsed, 2500*time.Millisecond)
	})
}

func TestIngestCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		g := &gauge{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		st := &store{}
		err, _ := run(ctx, st, &source{name: "eu", n: 3, gap: time.Second, gauge: g}, &source{name: "us", n: 2, gap: time.Second, gauge: g})
		checkIngested(t, st, want{})
		checkErrors(t, err, map[string]error{"": context.Canceled})
	})
}

// A quiet source: its events come an hour apart, long after the other
// source has ended.
func TestIngestQuietSource(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		g := &gauge{}
		srcs := []*source{
			{name: "audit", n: 3, gap: time.Hour, gauge: g},
			{name: "web", n: 5, gap: 10 * time.Millisecond, gauge: g},
		}
		st := &store{}
		err, elapsed := run(context.Background(), st, srcs...)
		checkIngested(t, st, want{"audit": 3, "web": 5})
		checkErrors(t, err, nil)
		checkOverlap(t, g, len(srcs), elapsed, 3*time.Hour)
	})
}

// checkIngested fails t unless the store holds, for each source of w,
// events 1 to w[source] in order, and nothing else.
func checkIngested(t *testing.T, st *store, w want) {
	t.Helper()
	got := map[string][]int{}
	for _, e := range st.events {
		got[e.Source] = append(got[e.Source], e.Seq)
		if body := fmt.Sprintf("%s event %d", e.Source, e.Seq); e.Body != body {
			t.Errorf("the store holds %+v; want its Body to be %q, as read", e, body)
		}
	}
	for name, n := range w {
		var seqs []int
		for i := range n {
			seqs = append(seqs, i+1)
		}
		if fmt.Sprint(got[name]) != fmt.Sprint(seqs) {
			t.Errorf("the store holds events %v of source %s; want %v: every event read, once, in the order the source yields them", got[name], name, seqs)
		}
	}
	for name, seqs := range got {
		if _, ok := w[name]; !ok {
			t.Errorf("the store holds events %v of source %s; want none", seqs, name)
		}
	}
}

// checkErrors fails t unless err wraps each error of w and names its
// source (if the name is not ""), or is nil when w is empty.
func checkErrors(t *testing.T, err error, w map[string]error) {
	t.Helper()
	if len(w) == 0 && err != nil {
		t.Errorf("Ingest returned error %v; want nil", err)
	}
	for name, want := range w {
		if !errors.Is(err, want) {
			t.Errorf("Ingest returned error %v; want one that wraps %q", err, want)
		} else if name != "" && !strings.Contains(err.Error(), "source "+name+": ") {
			t.Errorf("Ingest returned error %q; want it to name source %s as \"source %s: ...\"", err, name, name)
		}
	}
}

// checkOverlap fails t unless every source was being read at once, and
// Ingest returned after exactly elapsed of fake time, when the last source
// ended.
func checkOverlap(t *testing.T, g *gauge, n int, got, elapsed time.Duration) {
	t.Helper()
	if peak := g.most(); peak < n {
		t.Errorf("serialized: at most %d of the %d sources were being read at the same time; Ingest must read every source at once", peak, n)
		return
	}
	if got != elapsed {
		t.Errorf("Ingest returned after %v of fake time; want %v: it must return as soon as the last source has ended", got, elapsed)
	}
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The tests
// here need milliseconds.
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
