package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// The first test runs in real time, outside any bubble, so that goleak can
// see every goroutine Ship started. The others run in testing/synctest
// bubbles, where time is fake and exact: an index that takes a second per
// line takes no real time, and a goroutine still blocked when a test ends
// is reported by the bubble, on every run.

// An index is a fake search index. Its mutex is never held across a wait.
type index struct {
	delay  time.Duration    // how long each Put takes
	refuse map[string]error // lines the index refuses, with the error

	mu      sync.Mutex // protects the fields below
	lines   []string   // lines indexed
	putting int        // Puts in progress
	peak    int        // the most Puts in progress at once
}

func (x *index) Put(ctx context.Context, line string) error {
	x.mu.Lock()
	x.putting++
	x.peak = max(x.peak, x.putting)
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.putting--
		x.mu.Unlock()
	}()
	if x.delay > 0 {
		select {
		case <-time.After(x.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	} else if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.refuse[line]; err != nil {
		return err
	}
	x.mu.Lock()
	x.lines = append(x.lines, line)
	x.mu.Unlock()
	return nil
}

// indexed returns the lines indexed, sorted, and the most Puts that were in
// progress at once.
func (x *index) indexed() ([]string, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Sorted(slices.Values(x.lines)), x.peak
}

// A source is a fake log: it yields its lines, each after waiting gap, and
// then io.EOF, or err if set.
type source struct {
	lines []string
	gap   time.Duration // how long each line takes to arrive
	err   error         // returned after the lines instead of io.EOF

	mu   sync.Mutex // protects next
	next int        // index of the next line
}

func (s *source) Next(ctx context.Context) (string, error) {
	s.mu.Lock()
	end := s.next == len(s.lines)
	s.mu.Unlock()
	if end {
		if s.err != nil {
			return "", s.err
		}
		return "", io.EOF
	}
	if s.gap > 0 {
		select {
		case <-time.After(s.gap):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	} else if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	line := s.lines[s.next]
	s.next++
	return line, nil
}

// logLines returns n lines of a log. Some share a prefix ("req 1", "req 10").
func logLines(n int) []string {
	levels := []string{"INFO", "WARN", "INFO", "ERROR"}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("%s req %d: GET /api/orders/%d", levels[i%len(levels)], i+1, 7*i%13)
	}
	return lines
}

// A shipment is what one call of Ship did.
type shipment struct {
	n       int
	err     error
	elapsed time.Duration // fake time Ship took, in a bubble
}

// ship calls s.Ship and notes what it returned and how long it took.
func ship(ctx context.Context, s *Shipper, src Source) shipment {
	start := time.Now()
	n, err := s.Ship(ctx, src)
	return shipment{n: n, err: err, elapsed: time.Since(start)}
}

// settle lets fake time run, so that goroutines that end late but do end
// are not taken for leaks; one still blocked afterwards is reported by the
// bubble when the test returns.
func settle() { time.Sleep(time.Hour) }

func TestShipLeavesNoGoroutines(t *testing.T) {
	errDisk := errors.New("disk unplugged")
	for _, tc := range []struct {
		name   string
		src    *source
		cancel bool
		want   int
	}{
		{name: "to the end of the log", src: &source{lines: logLines(7)}, want: 7},
		{name: "with a read error", src: &source{lines: logLines(4), err: errDisk}, want: 4},
		{name: "with ctx cancelled", src: &source{lines: logLines(5)}, cancel: true, want: 0},
	} {
		before := goleak.IgnoreCurrent()
		ctx, cancel := context.WithCancel(context.Background())
		if tc.cancel {
			cancel()
		}
		s := &Shipper{Index: &index{}, Workers: 3}
		done := make(chan shipment, 1)
		go func() { done <- ship(ctx, s, tc.src) }()
		select {
		case got := <-done:
			if got.n != tc.want {
				t.Errorf("Ship %s = %d, %v; want %d lines indexed", tc.name, got.n, got.err, tc.want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("deadlock: Ship %s has not returned after 2s with an index that answers at once; want it to return once every line read has been indexed", tc.name)
		}
		cancel()
		// Every goroutine Ship started must have ended, or be about to:
		// goleak retries for a while before it reports one.
		if err := goleak.Find(before); err != nil {
			// One report is enough: goleak takes a while to be sure.
			t.Fatalf("Ship %s left goroutines behind; want none:\n%v", tc.name, err)
		}
	}
}

func TestShipIndexesEveryLine(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		lines := logLines(10)
		x := &index{delay: time.Second}
		s := &Shipper{Index: x, Workers: 3}
		got := ship(context.Background(), s, &source{lines: lines})
		checkShipped(t, got, x, lines, nil, s.Workers, s.Workers, 4*time.Second)
		settle()
	})
}

func TestShipWorkers(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				lines := logLines(5)
				x := &index{delay: 3 * time.Second}
				s := &Shipper{Index: x, Workers: workers}
				got := ship(context.Background(), s, &source{lines: lines})
				rounds := (len(lines) + workers - 1) / workers
				checkShipped(t, got, x, lines, nil, workers, min(workers, len(lines)), time.Duration(rounds)*3*time.Second)
				settle()
			})
		})
	}
}

func TestShipEmptyLog(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		x := &index{delay: time.Second}
		got := ship(context.Background(), &Shipper{Index: x, Workers: 4}, &source{})
		checkShipped(t, got, x, nil, nil, 4, 0, 0)
		settle()
	})
}

func TestShipRefusedLines(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errTooLong := errors.New("line too long")
		errQuota := errors.New("quota exceeded")
		lines := logLines(9)
		x := &index{delay: time.Second, refuse: map[string]error{lines[1]: errTooLong, lines[6]: errQuota}}
		s := &Shipper{Index: x, Workers: 2}
		got := ship(context.Background(), s, &source{lines: lines})
		want := slices.Concat(lines[:1], lines[2:6], lines[7:])
		checkShipped(t, got, x, want, []error{errTooLong, errQuota}, s.Workers, s.Workers, 5*time.Second)
		for _, i := range []int{1, 6} {
			if got.err != nil && !strings.Contains(got.err.Error(), fmt.Sprintf("%q", lines[i])) {
				t.Errorf("Ship returned error %q; want it to quote the refused line %q", got.err, lines[i])
			}
		}
		settle()
	})
}

func TestShipReadError(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errDisk := errors.New("disk unplugged")
		lines := logLines(5)
		x := &index{delay: 2 * time.Second}
		s := &Shipper{Index: x, Workers: 3}
		// Lines arrive a second apart and take 2s each to index, so two
		// are being indexed at a time; the read fails after the fifth, at
		// 5s, while the last two lines are still being indexed.
		got := ship(context.Background(), s, &source{lines: lines, gap: time.Second, err: errDisk})
		checkShipped(t, got, x, lines, []error{errDisk}, s.Workers, 2, 7*time.Second)
		settle()
	})
}

func TestShipCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		lines := logLines(8)
		x := &index{delay: 1500 * time.Millisecond}
		s := &Shipper{Index: x, Workers: 2}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Lines arrive at 1s, 2s, 3s...; each takes 1.5s to index. At
		// 3.2s, line 1 is indexed, lines 2 and 3 are being indexed and
		// line 4 has not arrived.
		time.AfterFunc(3200*time.Millisecond, cancel)
		got := ship(ctx, s, &source{lines: lines, gap: time.Second})
		checkShipped(t, got, x, lines[:1], []error{context.Canceled}, s.Workers, 2, 3200*time.Millisecond)
		settle()
	})
}

func TestShipCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		x := &index{delay: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := ship(ctx, &Shipper{Index: x, Workers: 3}, &source{lines: logLines(4), gap: time.Second})
		checkShipped(t, got, x, nil, []error{context.Canceled}, 3, 0, 0)
		settle()
	})
}

// A quiet log: lines arrive an hour apart, as on a service nobody uses at
// night, and the index is slower still. The workers must still be there
// when the next line comes.
func TestShipQuietLog(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		lines := logLines(3)
		x := &index{delay: 90 * time.Minute}
		s := &Shipper{Index: x, Workers: 2}
		got := ship(context.Background(), s, &source{lines: lines, gap: time.Hour})
		checkShipped(t, got, x, lines, nil, s.Workers, 2, 4*time.Hour+30*time.Minute)
		settle()
	})
}

// checkShipped fails t unless Ship, with an index that takes a while per
// line, indexed at most workers lines at a time (and at some moment
// overlap lines at once, if overlap is not 0), indexed exactly want,
// returned len(want) and an error wrapping each of wantErrs (or nil), and
// returned after elapsed of fake time. A Ship that indexes too few lines at
// once is slow everywhere: that is all it is told.
func checkShipped(t *testing.T, got shipment, x *index, want []string, wantErrs []error, workers, overlap int, elapsed time.Duration) {
	t.Helper()
	lines, peak := x.indexed()
	switch {
	case peak > workers:
		t.Errorf("overspawn: %d lines were being indexed at once; want at most Workers = %d", peak, workers)
		return
	case peak < overlap:
		t.Errorf("serialized: at most %d lines were being indexed at once; want %d at a time (Workers = %d), while Ship goes on reading", peak, overlap, workers)
		return
	}
	if !slices.Equal(lines, slices.Sorted(slices.Values(want))) {
		t.Errorf("the index holds %d lines %q; want %d lines %q", len(lines), lines, len(want), want)
	}
	if got.n != len(want) {
		t.Errorf("Ship returned %d; want %d, the number of lines indexed", got.n, len(want))
	}
	if len(wantErrs) == 0 && got.err != nil {
		t.Errorf("Ship returned error %v; want none", got.err)
	}
	for _, want := range wantErrs {
		if !errors.Is(got.err, want) {
			t.Errorf("Ship returned error %v; want one that wraps %q", got.err, want)
		}
	}
	if got.elapsed != elapsed {
		t.Errorf("Ship returned after %v of fake time; want %v: it must return as soon as every line it read has been indexed", got.elapsed, elapsed)
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
