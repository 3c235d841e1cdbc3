package archiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run Restore in testing/synctest bubbles, where time is fake and
// exact: an archive that takes an hour to download takes no real time, a
// reader waiting on a pipe that nobody will close is found blocked on
// every run, and so is a download left waiting to write.

// An object is a fake archive in the bucket: Download writes each of
// writes, gap after the one before, and then returns err.
type object struct {
	writes []string
	gap    time.Duration
	err    error
}

// A bucket is a fake Bucket. Its mutex is never held across a wait.
type bucket struct {
	objects map[string]*object

	mu      sync.Mutex // protects running
	running int        // downloads in progress
}

func (b *bucket) Download(ctx context.Context, name string, w io.Writer) error {
	b.mu.Lock()
	b.running++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running--
		b.mu.Unlock()
	}()
	obj, ok := b.objects[name]
	if !ok {
		return fmt.Errorf("object %s: %w", name, fs.ErrNotExist)
	}
	for _, data := range obj.writes {
		select {
		case <-time.After(obj.gap):
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, err := io.WriteString(w, data); err != nil {
			return err
		}
	}
	return obj.err
}

// downloads returns the downloads still in progress.
func (b *bucket) downloads() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// orders returns n orders, and their lines in an archive.
func orders(n int) ([]Order, []string) {
	customers := []string{"ada", "grace", "linus", "barbara", "ken"}
	var all []Order
	var lines []string
	for i := range n {
		o := Order{ID: 1001 + i, Customer: customers[i%len(customers)], Cents: int64(250 + 137*i)}
		line, err := json.Marshal(o)
		if err != nil {
			panic(err)
		}
		all = append(all, o)
		lines = append(lines, string(line)+"\n")
	}
	return all, lines
}

// A loaded order: the order and when load was called with it.
type loaded struct {
	order Order
	at    time.Duration
}

// A loader records the orders it is given, and fails with err on the
// order whose ID is failOn.
type loader struct {
	start  time.Time
	failOn int
	err    error

	mu  sync.Mutex // protects got
	got []loaded
}

func (l *loader) load(o Order) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, loaded{o, time.Since(l.start)})
	if o.ID == l.failOn {
		return l.err
	}
	return nil
}

func (l *loader) loaded() []loaded {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got
}

// A restore is what one call of Restore did.
type restore struct {
	err     error
	elapsed time.Duration
	loads   []loaded
}

func run(ctx context.Context, b *bucket, name string, l *loader) restore {
	l.start = time.Now()
	err := Restore(ctx, b, name, l.load)
	return restore{err: err, elapsed: time.Since(l.start), loads: l.loaded()}
}

// settle lets fake time run, so that a download Restore has stopped can
// end; a goroutine still blocked afterwards is reported by the bubble when
// the test returns.
func settle() { time.Sleep(24 * time.Hour) }

// arrivals returns when each line of writes is complete, given a write
// every gap.
func arrivals(writes []string, gap time.Duration) []time.Duration {
	var at []time.Duration
	for i, w := range writes {
		for range strings.Count(w, "\n") {
			at = append(at, time.Duration(i+1)*gap)
		}
	}
	return at
}

// checkLoads fails t unless l was given want, in order, each as soon as
// its line had arrived (at).
func checkLoads(t *testing.T, got restore, want []Order, at []time.Duration) {
	t.Helper()
	var gotOrders []Order
	for _, l := range got.loads {
		gotOrders = append(gotOrders, l.order)
	}
	if fmt.Sprint(gotOrders) != fmt.Sprint(want) {
		t.Errorf("load was called with %d orders %v; want %d orders %v, in the order of the archive", len(gotOrders), gotOrders, len(want), want)
		return
	}
	for i, l := range got.loads {
		if l.at == at[i] {
			continue
		}
		if last := at[len(at)-1]; len(at) > 1 && l.at >= last {
			t.Errorf("serialized: order %d was loaded at %v of fake time, once the download had ended (%v); want each order loaded as soon as its line has arrived (%v), while the rest is still downloading", l.order.ID, l.at, last, at[i])
		} else {
			t.Errorf("order %d was loaded at %v of fake time; want %v, as soon as its line had arrived", l.order.ID, l.at, at[i])
		}
		return
	}
}

// checkStopping fails t unless Restore, stopping early at fake time at
// (when what happened), returned then, or once the download had stopped,
// which it does at once if cancelled, or at its next Write, gap later.
func checkStopping(t *testing.T, elapsed, at, gap time.Duration, what string) {
	t.Helper()
	if elapsed < at || elapsed > at+gap {
		t.Errorf("Restore returned after %v of fake time; want %v, when %s (or, if it waits for the download to stop, by %v, the download's next Write)", elapsed, at, what, at+gap)
	}
}

// checkStopped fails t unless the download has ended.
func checkStopped(t *testing.T, b *bucket) {
	t.Helper()
	if n := b.downloads(); n > 0 {
		t.Errorf("leak: a day after Restore returned, its download is still running; want it stopped: once Restore stops reading, the download's next Write must fail")
	}
}

func TestRestoreWholeArchive(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		want, lines := orders(6)
		// Most writes hold one line; one holds two, and one line comes in
		// two halves.
		half := len(lines[4]) / 2
		writes := []string{lines[0], lines[1] + lines[2], lines[3], lines[4][:half], lines[4][half:], lines[5]}
		b := &bucket{objects: map[string]*object{"orders-2024-03-03.jsonl": {writes: writes, gap: time.Second}}}
		got := run(context.Background(), b, "orders-2024-03-03.jsonl", &loader{})
		if got.err != nil {
			t.Errorf("Restore returned %v; want nil", got.err)
		}
		checkLoads(t, got, want, arrivals(writes, time.Second))
		if got.elapsed != 6*time.Second {
			t.Errorf("Restore returned after %v of fake time; want 6s, as soon as the download had ended", got.elapsed)
		}
		settle()
	})
}

func TestRestoreSizes(t *testing.T) {
	for _, n := range []int{0, 1, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				want, lines := orders(n)
				const gap = 10 * time.Millisecond
				b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: lines, gap: gap}}}
				got := run(context.Background(), b, "orders.jsonl", &loader{})
				if got.err != nil {
					t.Errorf("Restore of an archive of %d orders returned %v; want nil", n, got.err)
				}
				checkLoads(t, got, want, arrivals(lines, gap))
				if want := time.Duration(n) * gap; got.elapsed != want {
					t.Errorf("Restore returned after %v of fake time; want %v, as soon as the download had ended", got.elapsed, want)
				}
				settle()
			})
		})
	}
}

func TestRestoreDownloadFails(t *testing.T) {
	errReset := errors.New("connection reset by peer")
	want, lines := orders(5)
	for _, tc := range []struct {
		name   string
		writes []string
		loaded int
	}{
		{"between two lines", lines[:3], 3},
		{"in the middle of a line", []string{lines[0], lines[1], lines[2][:7]}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: tc.writes, gap: time.Second, err: errReset}}}
				got := run(context.Background(), b, "orders.jsonl", &loader{})
				if !errors.Is(got.err, errReset) {
					t.Errorf("Restore returned %v when the download failed with %q after %d orders; want an error that wraps the download's: an archive cut short must not pass for a whole one", got.err, errReset, tc.loaded)
				}
				checkLoads(t, got, want[:tc.loaded], arrivals(tc.writes, time.Second))
				if got.elapsed != 3*time.Second {
					t.Errorf("Restore returned after %v of fake time; want 3s, when the download failed", got.elapsed)
				}
				settle()
			})
		})
	}
}

func TestRestoreMissingArchive(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		b := &bucket{objects: map[string]*object{}}
		got := run(context.Background(), b, "orders-1999-12-31.jsonl", &loader{})
		if !errors.Is(got.err, fs.ErrNotExist) {
			t.Errorf("Restore of a missing archive returned %v; want the download's error, which wraps fs.ErrNotExist", got.err)
		}
		checkLoads(t, got, nil, nil)
		settle()
	})
}

func TestRestoreCorruptLine(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		want, lines := orders(6)
		lines[2] = "{\"id\": 1003, \"customer\": \"linus\", \"cents\": 5.2.1}\n"
		b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: lines, gap: time.Second}}}
		got := run(context.Background(), b, "orders.jsonl", &loader{})
		if got.err == nil {
			t.Errorf("Restore of an archive whose third line is not an order returned nil; want an error")
		}
		checkLoads(t, got, want[:2], arrivals(lines, time.Second))
		checkStopping(t, got.elapsed, 3*time.Second, time.Second, "the line that is not an order arrived")
		settle()
		checkStopped(t, b)
	})
}

func TestRestoreLoadFails(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errFull := errors.New("database full")
		want, lines := orders(8)
		b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: lines, gap: time.Minute}}}
		got := run(context.Background(), b, "orders.jsonl", &loader{failOn: want[3].ID, err: errFull})
		if !errors.Is(got.err, errFull) {
			t.Errorf("Restore returned %v when load failed on the fourth order; want an error that wraps load's error %q", got.err, errFull)
		}
		checkLoads(t, got, want[:4], arrivals(lines, time.Minute))
		checkStopping(t, got.elapsed, 4*time.Minute, time.Minute, "load failed")
		settle()
		checkStopped(t, b)
	})
}

func TestRestoreCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		want, lines := orders(10)
		b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: lines, gap: time.Second}}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(2500*time.Millisecond, cancel)
		got := run(ctx, b, "orders.jsonl", &loader{})
		if !errors.Is(got.err, context.Canceled) {
			t.Errorf("Restore with ctx cancelled during the download returned %v; want an error that wraps context.Canceled", got.err)
		}
		checkLoads(t, got, want[:2], arrivals(lines, time.Second))
		if got.elapsed != 2500*time.Millisecond {
			t.Errorf("Restore returned after %v of fake time; want 2.5s, when ctx was cancelled", got.elapsed)
		}
		settle()
	})
}

func TestRestoreCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		_, lines := orders(3)
		b := &bucket{objects: map[string]*object{"orders.jsonl": {writes: lines, gap: time.Second}}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := run(ctx, b, "orders.jsonl", &loader{})
		if !errors.Is(got.err, context.Canceled) {
			t.Errorf("Restore with a cancelled ctx returned %v; want an error that wraps context.Canceled", got.err)
		}
		checkLoads(t, got, nil, nil)
		settle()
	})
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
