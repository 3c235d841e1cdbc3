package quotes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// errHalted is the exchange's answer for a stock whose trading is halted.
var errHalted = errors.New("exchange: trading halted")

// A listing is how the test exchange answers for one symbol.
type listing struct {
	price int64         // in cents
	delay time.Duration // how long the exchange takes to answer, in fake time
	err   error         // the exchange's error, if any
}

// An exchange is a Source: it answers each symbol after its listing's
// delay, or gives up when ctx is done. It keeps no state, so that it adds
// no synchronization between the goroutines that call it.
type exchange map[string]listing

func (e exchange) Quote(ctx context.Context, symbol string) (Quote, error) {
	l, ok := e[symbol]
	if !ok {
		return Quote{}, fmt.Errorf("exchange: no such symbol %q", symbol)
	}
	select {
	case <-time.After(l.delay):
		if l.err != nil {
			return Quote{}, l.err
		}
		return Quote{Symbol: symbol, Price: l.price}, nil
	case <-ctx.Done():
		return Quote{}, ctx.Err()
	}
}

// market is the test exchange. Symbols share prefixes; delays differ.
var market = exchange{
	"ACME":    {price: 12_345, delay: 1 * time.Second},
	"ACMEX":   {price: 9_870, delay: 2 * time.Second},
	"INITECH": {price: 4_210, delay: 1500 * time.Millisecond},
	"HOOLI":   {delay: 500 * time.Millisecond, err: errHalted},
	"PIED":    {price: 1, delay: 250 * time.Millisecond},
}

// checkResult fails the test unless q and err are what the market answers
// for symbol.
func checkResult(t *testing.T, call, symbol string, q Quote, err error) {
	t.Helper()
	l := market[symbol]
	switch {
	case l.err != nil && !errors.Is(err, l.err):
		t.Errorf("%s for %s returned %+v, %v; want the exchange's error %q", call, symbol, q, err, l.err)
	case l.err == nil && (err != nil || q != Quote{Symbol: symbol, Price: l.price}):
		t.Errorf("%s for %s returned %+v, %v; want %+v, nil", call, symbol, q, err, Quote{Symbol: symbol, Price: l.price})
	}
}

// fetchAll fetches every symbol with c and checks that Fetch returned at
// once: the fetches run in the background, all at the same time.
func fetchAll(t *testing.T, ctx context.Context, c *Client, symbols ...string) []*Future {
	t.Helper()
	start := time.Now()
	var fs []*Future
	for _, s := range symbols {
		fs = append(fs, c.Fetch(ctx, s))
	}
	if elapsed := time.Since(start); elapsed != 0 {
		t.Fatalf("serialized: %d calls to Fetch took %v of fake time, want 0: Fetch must return at once and fetch the quote in the background, so that the dashboard fetches every symbol on screen at the same time", len(symbols), elapsed)
	}
	return fs
}

// TestGet fetches several quotes at once and gets each one, more than
// once.
func TestGet(t *testing.T) {
	if !raceDetector {
		t.Fatal("this lab's bug is a data race, and only the race detector finds one on every run: without it this test passes or fails by luck. Run: go test -race ./labs/quotes")
	}
	inBubble(t, func(t *testing.T) {
		c := &Client{Source: market}
		symbols := []string{"ACMEX", "ACME", "HOOLI", "INITECH", "PIED"}
		start := time.Now()
		fs := fetchAll(t, t.Context(), c, symbols...)
		var want time.Duration // when the quotes got so far have all arrived
		for i, f := range fs {
			q, err := f.Get()
			want = max(want, market[symbols[i]].delay)
			if elapsed := time.Since(start); elapsed != want {
				t.Errorf("Get for %s returned after %v of fake time, want %v: it must return as soon as the quote has arrived (the quotes are fetched all at once)", symbols[i], elapsed, want)
			}
			checkResult(t, "Get", symbols[i], q, err)
		}
		for i, f := range fs {
			q, err := f.Get()
			checkResult(t, "a second Get", symbols[i], q, err)
		}
		if elapsed := time.Since(start); elapsed != want {
			t.Errorf("calling Get again on quotes that have arrived took %v of fake time, want 0", elapsed-want)
		}
		time.Sleep(time.Minute) // let any straggler finish: the bubble reports goroutines left blocked
	})
}

// TestDone polls Done, as the dashboard does, until the quote has arrived,
// then gets it.
func TestDone(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := &Client{Source: market}
		const poll = 150 * time.Millisecond // never at the same fake instant as an answer
		for _, symbol := range []string{"ACME", "HOOLI", "PIED"} {
			start := time.Now()
			f := fetchAll(t, t.Context(), c, symbol)[0]
			if f.Done() {
				t.Errorf("Done for %s returned true right after Fetch, want false: the exchange answers after %v", symbol, market[symbol].delay)
			}
			for !f.Done() && time.Since(start) < time.Minute {
				time.Sleep(poll)
			}
			delay := market[symbol].delay
			if elapsed, want := time.Since(start), (delay/poll+1)*poll; elapsed != want {
				t.Errorf("Done for %s first returned true after %v of fake time, want %v: the exchange answers after %v, and Done is checked every %v", symbol, elapsed, want, delay, poll)
			}
			at := time.Now()
			q, err := f.Get()
			checkResult(t, "Get after Done returned true", symbol, q, err)
			if waited := time.Since(at); waited != 0 {
				t.Errorf("Get for %s took %v of fake time after Done returned true, want 0", symbol, waited)
			}
			if !f.Done() {
				t.Errorf("Done for %s returned false after Get had returned, want true", symbol)
			}
		}
		time.Sleep(time.Minute)
	})
}

// TestWait waits for quotes with contexts that end before the quote
// arrives, and with contexts that do not.
func TestWait(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := &Client{Source: market}
		start := time.Now()
		fs := fetchAll(t, t.Context(), c, "ACME", "ACMEX", "INITECH", "HOOLI", "PIED")
		acme, acmex, initech, hooli, pied := fs[0], fs[1], fs[2], fs[3], fs[4]
		at := func(call string, want time.Duration) {
			t.Helper()
			if elapsed := time.Since(start); elapsed != want {
				t.Errorf("%s returned after %v of fake time, want %v", call, elapsed, want)
			}
		}

		// A context that is already cancelled: Wait gives up at once.
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		q, err := acme.Wait(cancelled)
		if !errors.Is(err, context.Canceled) || q != (Quote{}) {
			t.Errorf("Wait for ACME with a cancelled context returned %+v, %v; want the zero Quote and context.Canceled: the quote arrives only after 1s", q, err)
		}
		at("Wait with a cancelled context", 0)

		// A timeout before the quote arrives.
		short, stop := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer stop()
		q, err = acmex.Wait(short)
		if !errors.Is(err, context.DeadlineExceeded) || q != (Quote{}) {
			t.Errorf("Wait for ACMEX with a 300ms timeout returned %+v, %v; want the zero Quote and context.DeadlineExceeded: the quote arrives only after 2s", q, err)
		}
		at("Wait for ACMEX with a 300ms timeout", 300*time.Millisecond)

		// Cancelled while waiting.
		during, cancelDuring := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancelDuring)
		q, err = initech.Wait(during)
		if !errors.Is(err, context.Canceled) || q != (Quote{}) {
			t.Errorf("Wait for INITECH, cancelled 100ms into the wait, returned %+v, %v; want the zero Quote and context.Canceled", q, err)
		}
		at("Wait for INITECH cancelled 100ms into the wait", 400*time.Millisecond)

		// A context that stays alive: the quote, or the exchange's error.
		q, err = hooli.Wait(t.Context())
		checkResult(t, "Wait", "HOOLI", q, err)
		at("Wait for HOOLI", 500*time.Millisecond)
		q, err = pied.Wait(t.Context()) // arrived at 250ms
		checkResult(t, "Wait", "PIED", q, err)
		at("Wait for PIED, whose quote had arrived", 500*time.Millisecond)

		// The fetches that Wait gave up on went on.
		q, err = acme.Wait(t.Context())
		checkResult(t, "Wait after an earlier Wait had given up", "ACME", q, err)
		at("Wait for ACME", time.Second)
		q, err = acmex.Get()
		checkResult(t, "Get after a Wait had given up", "ACMEX", q, err)
		at("Get for ACMEX", 2*time.Second)
		q, err = initech.Wait(t.Context())
		checkResult(t, "Wait after an earlier Wait had given up", "INITECH", q, err)
		at("Wait for INITECH, whose quote had arrived", 2*time.Second)
		time.Sleep(time.Minute)
	})
}

// TestGetFromManyGoroutines has several goroutines get one quote at the
// same time, before and after it arrives.
func TestGetFromManyGoroutines(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := &Client{Source: market}
		for _, symbol := range []string{"INITECH", "HOOLI"} {
			start := time.Now()
			f := fetchAll(t, t.Context(), c, symbol)[0]
			type result struct {
				call string
				q    Quote
				err  error
				at   time.Duration
			}
			results := make(chan result, 9)
			get := func(call string, wait bool) {
				var r result
				if wait {
					r.q, r.err = f.Wait(context.Background())
				} else {
					r.q, r.err = f.Get()
				}
				r.call, r.at = call, time.Since(start)
				results <- r
			}
			for range 4 {
				go get("Get", false)
				go get("Wait", true)
			}
			delay := market[symbol].delay
			time.Sleep(delay + time.Second)
			go get("Get", false)

			for range 9 {
				r := <-results
				checkResult(t, r.call+" from one of 9 goroutines", symbol, r.q, r.err)
				if r.at != delay && r.at != delay+time.Second {
					t.Errorf("%s for %s from one of 9 goroutines returned after %v of fake time, want %v (when the quote arrives), or at once if it had arrived", r.call, symbol, r.at, delay)
				}
			}
		}
		time.Sleep(time.Minute)
	})
}

// TestFetchCancelled fetches with contexts that end before the exchange
// answers: the fetch's result is then the exchange's error, ctx's.
func TestFetchCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := &Client{Source: market}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		f := fetchAll(t, ctx, c, "ACME")[0]
		if q, err := f.Get(); !errors.Is(err, context.Canceled) {
			t.Errorf("Get for a fetch whose context was cancelled before it started returned %+v, %v; want context.Canceled", q, err)
		}
		ctx, stop := context.WithTimeout(t.Context(), 700*time.Millisecond)
		defer stop()
		f = fetchAll(t, ctx, c, "ACMEX")[0]
		if q, err := f.Wait(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait for a fetch whose context timed out after 700ms returned %+v, %v; want context.DeadlineExceeded", q, err)
		}
		if elapsed := time.Since(start); elapsed != 700*time.Millisecond {
			t.Errorf("Wait for a fetch whose context timed out after 700ms returned after %v of fake time, want 700ms", elapsed)
		}
		time.Sleep(time.Minute)
	})
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
