package pricewatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// The first test runs in real time, outside any bubble, so that goleak can
// see every goroutine Price started. The others run in testing/synctest
// bubbles, where time is fake and exact: a feed that takes an hour takes
// no real time, and a goroutine still blocked when a test ends is reported
// by the bubble, on every run.

const symbol = "ACME"

// A feed is a fake market-data feed. Request n (from 1) answers after
// delays[n-1] (the last delay repeats), or fails with errs[n]; once its ctx
// is done it stops after lag, as the real feed finishes the read it is in.
type feed struct {
	cents  int64
	delays []time.Duration
	errs   map[int]error
	lag    time.Duration
	begun  chan int // if not nil, receives the number of each request as it starts
	ended  chan int // if not nil, receives the number of each request as it returns

	mu        sync.Mutex // protects the fields below; never held across a wait
	starts    []time.Time
	ctxs      []context.Context
	uncleared []string // requests made while an earlier one was still running, not cancelled
}

func (f *feed) Quote(ctx context.Context, sym string) (Quote, error) {
	f.mu.Lock()
	n := len(f.starts) + 1
	for i, c := range f.ctxs {
		if c.Err() == nil {
			f.uncleared = append(f.uncleared, fmt.Sprintf("request %d was made while request %d had not been cancelled", n, i+1))
		}
	}
	f.starts = append(f.starts, time.Now())
	f.ctxs = append(f.ctxs, ctx)
	delay := f.delays[min(n, len(f.delays))-1]
	err := f.errs[n]
	f.mu.Unlock()
	if f.begun != nil {
		f.begun <- n
	}
	if f.ended != nil {
		defer func() { f.ended <- n }()
	}

	select {
	case <-time.After(delay):
		if err != nil {
			return Quote{}, err
		}
		return Quote{Symbol: sym, Cents: f.cents}, nil
	case <-ctx.Done():
		time.Sleep(f.lag)
		return Quote{}, ctx.Err()
	}
}

// requests returns when each request started, relative to start, and the
// requests that were made while an earlier one had not been cancelled.
func (f *feed) requests(start time.Time) ([]time.Duration, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var at []time.Duration
	for _, s := range f.starts {
		at = append(at, s.Sub(start))
	}
	return at, f.uncleared
}

// A call is what one call of Price did.
type call struct {
	quote   Quote
	err     error
	start   time.Time
	elapsed time.Duration // fake time Price took, in a bubble
}

func price(ctx context.Context, w *Watcher) call {
	start := time.Now()
	q, err := w.Price(ctx, symbol)
	return call{quote: q, err: err, start: start, elapsed: time.Since(start)}
}

// settle lets fake time run, so that a cancelled request stops and its
// goroutine ends; a goroutine still blocked afterwards is reported by the
// bubble when the test returns.
func settle() { time.Sleep(24 * time.Hour) }

func TestPriceLeavesNoGoroutines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w       *Watcher
		cancel  bool
		wantErr error
	}{
		{
			name:    "when every request is too slow",
			w:       &Watcher{Attempts: 3, Timeout: 5 * time.Millisecond},
			wantErr: ErrSlowFeed,
		},
		{
			name:    "when ctx is cancelled",
			w:       &Watcher{Attempts: 2, Timeout: time.Hour},
			cancel:  true,
			wantErr: context.Canceled,
		},
	} {
		before := goleak.IgnoreCurrent()
		// The feed answers only once a request is cancelled: every
		// request's goroutine has an answer to deliver after Price has
		// given up on it.
		f := &feed{cents: 12345, delays: []time.Duration{time.Hour}, begun: make(chan int, 10), ended: make(chan int, 10)}
		tc.w.Feed = f
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan call, 1)
		go func() { done <- price(ctx, tc.w) }()
		if tc.cancel {
			select {
			case <-f.begun:
			case <-time.After(2 * time.Second):
				t.Fatalf("Price %s made no request within 2s; want one at once", tc.name)
			}
			cancel()
		}
		select {
		case got := <-done:
			if !errors.Is(got.err, tc.wantErr) {
				t.Errorf("Price %s = %+v, %v; want an error that wraps %q", tc.name, got.quote, got.err, tc.wantErr)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("deadlock: Price %s has not returned after 2s; want it to return after its last timeout, or when ctx is done", tc.name)
		}
		cancel()
		// Wait until the feed has answered every request it got: each
		// request's goroutine is then past the feed, with an answer to
		// deliver.
		at, _ := f.requests(time.Now())
		wait := time.After(time.Second)
	answered:
		for range at {
			select {
			case <-f.ended:
			case <-wait:
				break answered
			}
		}
		// Every goroutine Price started must have ended, or be about to:
		// goleak retries for a while before it reports one.
		if err := goleak.Find(before); err != nil {
			// One report is enough: goleak takes a while to be sure.
			t.Fatalf("Price %s left goroutines behind; want none:\n%v", tc.name, err)
		}
	}
}

func TestPriceFirstAnswer(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := &feed{cents: 18250, delays: []time.Duration{300 * time.Millisecond}, lag: time.Second}
		w := &Watcher{Feed: f, Attempts: 3, Timeout: time.Second}
		got := price(context.Background(), w)
		checkPrice(t, got, f, 18250, nil, 300*time.Millisecond, []time.Duration{0})
		settle()
	})
}

func TestPriceAttempts(t *testing.T) {
	for _, attempts := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(attempts), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				// Every request is too slow; a cancelled one stops 50ms
				// after its cancel.
				const timeout = 250 * time.Millisecond
				f := &feed{cents: 100, delays: []time.Duration{time.Hour}, lag: 50 * time.Millisecond}
				w := &Watcher{Feed: f, Attempts: attempts, Timeout: timeout}
				got := price(context.Background(), w)
				var starts []time.Duration
				for i := range attempts {
					starts = append(starts, time.Duration(i)*timeout)
				}
				checkPrice(t, got, f, 0, ErrSlowFeed, time.Duration(attempts)*timeout, starts)
				settle()
			})
		})
	}
}

func TestPriceAsksAgain(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		// The first two requests are too slow, the third answers after
		// 400ms. A cancelled request takes 2s to stop: Price must not wait
		// for that before it asks again.
		f := &feed{cents: 9900, delays: []time.Duration{5 * time.Second, 3 * time.Second, 400 * time.Millisecond}, lag: 2 * time.Second}
		w := &Watcher{Feed: f, Attempts: 4, Timeout: time.Second}
		got := price(context.Background(), w)
		checkPrice(t, got, f, 9900, nil, 2400*time.Millisecond, []time.Duration{0, time.Second, 2 * time.Second})
		settle()
	})
}

func TestPriceFeedError(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errUnknown := errors.New("unknown symbol")
		// The first request is too slow; the second fails after 100ms,
		// and a request that fails is not retried.
		f := &feed{cents: 100, delays: []time.Duration{time.Hour, 100 * time.Millisecond}, errs: map[int]error{2: errUnknown}, lag: 300 * time.Millisecond}
		w := &Watcher{Feed: f, Attempts: 3, Timeout: time.Second}
		got := price(context.Background(), w)
		checkPrice(t, got, f, 0, errUnknown, 1100*time.Millisecond, []time.Duration{0, time.Second})
		settle()
	})
}

func TestPriceCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := &feed{cents: 100, delays: []time.Duration{time.Hour}, lag: 3 * time.Second}
		w := &Watcher{Feed: f, Attempts: 5, Timeout: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(1500*time.Millisecond, cancel) // during the second request
		got := price(ctx, w)
		checkPrice(t, got, f, 0, context.Canceled, 1500*time.Millisecond, []time.Duration{0, time.Second})
		settle()
	})
}

func TestPriceCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := &feed{cents: 100, delays: []time.Duration{time.Second}, lag: 100 * time.Millisecond}
		w := &Watcher{Feed: f, Attempts: 2, Timeout: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := price(ctx, w)
		checkPrice(t, got, f, 0, context.Canceled, 0, nil)
		settle()
	})
}

// checkPrice fails t unless Price returned a quote of cents (when wantErr
// is nil) or an error that wraps wantErr, after elapsed of fake time, and
// made its requests at starts (nil: any requests, all at once), cancelling
// each one it gave up on before the next.
func checkPrice(t *testing.T, got call, f *feed, cents int64, wantErr error, elapsed time.Duration, starts []time.Duration) {
	t.Helper()
	if wantErr == nil {
		if want := (Quote{Symbol: symbol, Cents: cents}); got.err != nil || got.quote != want {
			t.Errorf("Price = %+v, %v; want %+v, nil", got.quote, got.err, want)
		}
	} else if !errors.Is(got.err, wantErr) {
		t.Errorf("Price = %+v, %v; want an error that wraps %q", got.quote, got.err, wantErr)
	}
	if got.elapsed != elapsed {
		t.Errorf("Price returned after %v of fake time; want %v", got.elapsed, elapsed)
	}
	at, uncleared := f.requests(got.start)
	if starts != nil && fmt.Sprint(at) != fmt.Sprint(starts) {
		t.Errorf("Price made requests at %v of fake time; want %v: it must ask again as soon as a request's Timeout has passed, without waiting for the cancelled request to stop", at, starts)
	}
	if len(uncleared) > 0 {
		t.Errorf("Price must cancel a request before it asks again; but %s", strings.Join(uncleared, "; "))
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
