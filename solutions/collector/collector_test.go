package collector

import (
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	errDisk    = errors.New("disk full")
	errTimeout = errors.New("write timed out")
)

// batch is the i-th batch of the tests, unlike any other.
func batch(i int) Batch {
	return Batch{Sensor: fmt.Sprintf("sensor-%02d", i), Values: []float64{float64(i), float64(i) + 0.5}}
}

// feed returns a channel holding the batches from i to j, j excluded, with
// room for them all, closed after them if closed is set.
func feed(i, j int, closed bool) chan Batch {
	in := make(chan Batch, j-i)
	for k := i; k < j; k++ {
		in <- batch(k)
	}
	if closed {
		close(in)
	}
	return in
}

// A sink is a Sink for the tests. It keeps the sensors of the batches it
// stores, fails the writes of the sensors in fail, and holds back the
// writes of the sensors in hold until their channel is closed. Its maps
// and meet are set before the collector starts.
type sink struct {
	fail    map[string]error         // Write returns these errors, storing nothing
	hold    map[string]chan struct{} // Write waits for these to close first
	entered chan string              // receives every held write's sensor as it begins; room for all
	meet    *meeting                 // if set, every Write waits at it first

	mu      sync.Mutex     // protects written and writers
	written []string       // the sensors of the batches stored, in order
	writers map[string]int // the goroutine of each held write
}

func newSink() *sink {
	return &sink{fail: map[string]error{}, hold: map[string]chan struct{}{}, entered: make(chan string, 16), writers: map[string]int{}}
}

func (s *sink) Write(b Batch) error {
	nameGoroutine("the worker writing " + b.Sensor)
	if s.meet != nil {
		s.meet.arrive()
	}
	if h, ok := s.hold[b.Sensor]; ok {
		s.mu.Lock()
		s.writers[b.Sensor] = goid()
		s.mu.Unlock()
		s.entered <- b.Sensor
		<-h
	}
	if err := s.fail[b.Sensor]; err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, b.Sensor)
	return nil
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.written)
}

func (s *sink) writer(sensor string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writers[sensor]
}

// arrivals receives the sensors of want held writes as they begin, or of
// fewer, once no more can begin: every goroutine in the collector's code
// is parked.
func (s *sink) arrivals(want int) []string {
	var got []string
	limit := time.After(busyLimit)
	var b backoff
	for len(got) < want {
		select {
		case sensor := <-s.entered:
			got = append(got, sensor)
			continue
		case <-limit:
			return got
		case <-b.next():
		}
		if othersParked(goroutines(), nil) && len(s.entered) == 0 {
			return got
		}
	}
	return got
}

// stop calls c.Stop under the tests' bound and returns its error.
func stop(t *testing.T, c *Collector, who string) error {
	t.Helper()
	var err error
	returns(t, start("Stop() from "+who, func() { err = c.Stop() }))
	return err
}

// waitDone waits until c.Done() is closed, and fails t if it is not once
// every goroutine in the collector's code is parked.
func waitDone(t *testing.T, c *Collector, why string) {
	t.Helper()
	var b backoff
	for {
		select {
		case <-c.Done():
			return
		case <-b.next():
		}
		if othersParked(goroutines(), nil) {
			select {
			case <-c.Done():
				return
			default:
				t.Fatalf("Done() is not closed after %s; want it closed once the collector stops, whether Stop was called or a write failed", why)
			}
		}
	}
}

// wantWritten fails t unless the sink stored exactly the batches of want,
// in any order.
func wantWritten(t *testing.T, s *sink, want []string) {
	t.Helper()
	got := s.got()
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("the sink stored batches %v; want %v, each once", got, want)
	}
}

func sensors(i, j int) []string {
	var out []string
	for k := i; k < j; k++ {
		out = append(out, batch(k).Sensor)
	}
	return out
}

func TestCollects(t *testing.T) {
	for _, n := range []int{1, 3} {
		s := newSink()
		c := Start(feed(0, 12, true), s, n)
		settle() // every batch written; the workers have returned
		if err := stop(t, c, "main"); err != nil {
			t.Errorf("Stop() = %v; want nil: no write failed", err)
		}
		wantWritten(t, s, sensors(0, 12))
		if err := stop(t, c, "main, again"); err != nil {
			t.Errorf("Stop() called again = %v; want nil, as the first time", err)
		}
		waitDone(t, c, "Stop returned")

		// Stopped while the workers wait for batches.
		c = Start(make(chan Batch), newSink(), n)
		if err := stop(t, c, "main"); err != nil {
			t.Errorf("Stop() = %v; want nil", err)
		}
	}
}

// TestWriteFails has a write fail, which stops the collector, and then
// main calls Stop, twice.
func TestWriteFails(t *testing.T) {
	for _, n := range []int{1, 3} {
		s := newSink()
		s.fail[batch(4).Sensor] = errDisk
		c := Start(feed(0, 12, false), s, n)
		waitDone(t, c, "a write failed")
		for _, who := range []string{"main", "main's defer"} {
			if err := stop(t, c, who); !errors.Is(err, errDisk) {
				t.Errorf("Stop() from %s after a write failed with %v = %v; want that error", who, errDisk, err)
			}
		}
	}
}

// TestStopFromEverywhere calls Stop from three goroutines while a batch is
// being written, one after another, each once the one before waits for the
// workers. Nothing orders one call after another but the collector's own
// synchronization, so under -race any state they share without it is
// reported.
func TestStopFromEverywhere(t *testing.T) {
	s := newSink()
	held := batch(0).Sensor
	s.hold[held] = make(chan struct{})
	c := Start(feed(0, 1, false), s, 2)
	s.arrivals(1) // a worker is writing the batch

	var calls []*call
	errs := make([]error, 3)
	for i, who := range []string{"the signal handler", "the health check", "main's defer"} {
		sc := start("Stop() from "+who, func() { errs[i] = c.Stop() })
		if parkedOrReturned(sc) {
			t.Errorf("Stop() from %s returned while a worker was still writing %s; want every call to Stop to wait until the workers have returned", who, held)
		}
		calls = append(calls, sc)
	}
	close(s.hold[held])
	returns(t, calls...)
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s = %v; want nil: no write failed", calls[i].name, err)
		}
	}
	wantWritten(t, s, []string{held})
}

// TestStopWhileWriteFails calls Stop while a batch is being written, then
// that write fails.
func TestStopWhileWriteFails(t *testing.T) {
	s := newSink()
	held := batch(0).Sensor
	s.hold[held] = make(chan struct{})
	s.fail[held] = errTimeout
	c := Start(feed(0, 1, false), s, 2)
	s.arrivals(1) // a worker is writing the batch

	var err error
	sc := start("Stop() from main", func() { err = c.Stop() })
	parkedOrReturned(sc) // Stop waits for the worker
	close(s.hold[held])  // the write fails
	returns(t, sc)
	if !errors.Is(err, errTimeout) {
		t.Errorf("Stop() = %v; want %v, the error of the write that failed while Stop waited for it", err, errTimeout)
	}
	if err := stop(t, c, "main's defer"); !errors.Is(err, errTimeout) {
		t.Errorf("Stop() called again = %v; want %v, as the first time", err, errTimeout)
	}
}

// TestTwoWritesFail has two workers writing when both their writes fail,
// one after the other: the second fails once the first worker has
// returned.
func TestTwoWritesFail(t *testing.T) {
	s := newSink()
	first, second := batch(0).Sensor, batch(1).Sensor
	for _, sensor := range []string{first, second} {
		s.hold[sensor] = make(chan struct{})
	}
	s.fail[first], s.fail[second] = errDisk, errTimeout
	c := Start(feed(0, 2, false), s, 2)
	if got := s.arrivals(2); len(got) < 2 {
		t.Fatalf("serialized: with 2 workers and 2 batches, only %d write(s) began while the first was held back; want both workers writing at once", len(got))
	}
	close(s.hold[first])
	gone(s.writer(first)) // the first worker has returned
	close(s.hold[second])
	waitDone(t, c, "two writes failed")
	if err := stop(t, c, "main"); !errors.Is(err, errDisk) {
		t.Errorf("Stop() = %v; want %v, the first error a write returned", err, errDisk)
	}
}

// TestStopAtOnce has several goroutines call Stop at the same instant, many
// times over.
func TestStopAtOnce(t *testing.T) {
	for _, callers := range []int{2, 4, 8} {
		for range 20 {
			c := Start(make(chan Batch), newSink(), 2)
			gate := make(chan struct{})
			crashed := make(chan string, callers)
			var calls []*call
			for i := range callers {
				calls = append(calls, start(fmt.Sprintf("Stop() from goroutine %d of %d", i+1, callers), func() {
					defer func() {
						if r := recover(); r != nil {
							crashed <- fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
						}
					}()
					<-gate
					c.Stop()
				}))
			}
			close(gate)
			returns(t, calls...)
			if len(crashed) > 0 {
				msg := <-crashed
				t.Fatalf("race: %d goroutines called Stop at the same instant, and %d of the calls crashed: both found the collector running and stopped it, one after the other. Want checking whether it is stopped and stopping it to be one step, for any number of calls at once. The first crash, at %s:\n%s", callers, len(crashed)+1, crashLine(msg), msg)
			}
		}
	}
}

// crashLine is the line of the collector's code in a stack, "collector.go:71".
func crashLine(stack string) string {
	m := regexp.MustCompile(`/(collector\.go:\d+)`).FindStringSubmatch(stack)
	if m == nil {
		return "an unknown line"
	}
	return m[1]
}

// TestWorkersWriteAtOnce gives n workers n batches: each write waits until
// all n are being written at once.
func TestWorkersWriteAtOnce(t *testing.T) {
	for _, n := range []int{2, 4} {
		s := newSink()
		s.meet = newMeeting(n)
		c := Start(feed(0, n, true), s, n)
		settle()
		if err := stop(t, c, "main"); err != nil {
			t.Errorf("Stop() = %v; want nil", err)
		}
		if most := s.meet.result(); most < n {
			t.Fatalf("serialized: with %d workers and %d batches, at most %d batch(es) were being written at a time; want all %d at once: the workers write in parallel, not one after another", n, n, most, n)
		}
		wantWritten(t, s, sensors(0, n))
	}
}
