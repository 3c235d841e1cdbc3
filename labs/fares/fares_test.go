package fares

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const route = "AMS-LIS"

// Every source here is a well-behaved airline: as the Source doc asks, it
// returns soon after its ctx is done (at once, unless it says otherwise).

// heldSource answers only once release is closed, or gives up when ctx is
// done.
type heldSource struct {
	fare    Fare
	release <-chan struct{}
}

func (h heldSource) Quote(ctx context.Context, route string) (Fare, error) {
	select {
	case <-h.release:
		return h.fare, nil
	case <-ctx.Done():
		return Fare{}, ctx.Err()
	}
}

// slowSource answers after delay (with err, if set), or gives up stopAfter
// after ctx is done. Its times are fake when it runs in a synctest bubble.
type slowSource struct {
	fare      Fare
	delay     time.Duration
	err       error
	stopAfter time.Duration // how long it takes to give up once ctx is done
}

func (s slowSource) Quote(ctx context.Context, route string) (Fare, error) {
	select {
	case <-time.After(s.delay):
		return s.fare, s.err
	case <-ctx.Done():
		time.Sleep(s.stopAfter)
		return Fare{}, ctx.Err()
	}
}

// A hungSource is an airline whose API hangs: it never answers, and its
// Quote returns only when its ctx is done (or when the test ends, which
// closes teardown). It counts the calls still running.
type hungSource struct {
	running  *atomic.Int32
	teardown <-chan struct{}
}

func (h hungSource) Quote(ctx context.Context, route string) (Fare, error) {
	h.running.Add(1)
	defer h.running.Add(-1)
	select {
	case <-ctx.Done():
		return Fare{}, ctx.Err()
	case <-h.teardown:
		return Fare{}, errors.New("test over")
	}
}

// This test runs in real time, outside any bubble, so that goleak can see
// every goroutine Cheapest started: it needs no timing luck, because the
// sources answer only after Cheapest has returned.
func TestCheapestLeavesNoGoroutines(t *testing.T) {
	release := make(chan struct{})
	s := &Search{Timeout: 20 * time.Millisecond}
	for i, airline := range []string{"KLM", "TAP", "Iberia", "Vueling", "easyJet"} {
		s.Sources = append(s.Sources, heldSource{Fare{airline, 18400 + 1000*i}, release})
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.Cheapest(context.Background(), route)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoFare) {
			t.Errorf("Cheapest returned error %v, want ErrNoFare: no source answered within the 20ms timeout", err)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("Cheapest has not returned 2s after its 20ms timeout: sources that answer late must be ignored, not waited for")
	}

	// The airlines answer now, when nobody wants their fares any more. Every
	// goroutine Cheapest started must end all the same.
	close(release)
	goleak.VerifyNone(t)
}

func TestCheapestAsksAllAtOnce(t *testing.T) {
	airlines := []string{"KLM", "Transavia", "TAP", "Iberia", "Vueling", "easyJet", "Ryanair"}
	for _, n := range []int{1, 3, 7} {
		inBubble(t, func(t *testing.T) {
			const delay = 300 * time.Millisecond
			// A timeout longer than all the delays together: asked one
			// after another, the sources would still all answer in time.
			s := &Search{Timeout: 10 * time.Second}
			for i := range n {
				// Prices go down, then up: the cheapest is in the middle.
				price := 20000 - 1000*min(i, n/2) + 500*max(0, i-n/2)
				s.Sources = append(s.Sources, slowSource{fare: Fare{airlines[i], price}, delay: delay})
			}
			want := Fare{airlines[n/2], 20000 - 1000*(n/2)}
			start := time.Now()
			fare, err := s.Cheapest(context.Background(), route)
			checkAllAnswered(t, time.Since(start), s)
			require.NoError(t, err, "Cheapest(%d sources) returned an error, want the cheapest fare", n)
			assert.Equal(t, want, fare, "Cheapest(%d sources) must return the cheapest of the fares quoted", n)
		})
	}
}

func TestCheapestSkipsErrors(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const delay = 200 * time.Millisecond
		unavailable := errors.New("service unavailable")
		s := &Search{
			Sources: []Source{
				slowSource{delay: delay, err: unavailable},
				slowSource{fare: Fare{"Vueling", 17300}, delay: delay},
				slowSource{fare: Fare{"Iberia", 9900}, delay: delay, err: unavailable},
				slowSource{fare: Fare{"TAP", 18400}, delay: delay},
				slowSource{delay: delay, err: unavailable},
			},
			Timeout: 10 * time.Second, // more than all the delays together
		}
		start := time.Now()
		fare, err := s.Cheapest(context.Background(), route)
		checkAllAnswered(t, time.Since(start), s)
		require.NoError(t, err, "Cheapest returned an error, want the cheapest fare (a source that fails is skipped)")
		assert.Equal(t, Fare{"Vueling", 17300}, fare, "a source that fails is skipped")
	})
}

func TestCheapestNoFare(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		unavailable := errors.New("service unavailable")
		s := &Search{
			Sources: []Source{
				slowSource{delay: 100 * time.Millisecond, err: unavailable},
				slowSource{delay: 300 * time.Millisecond, err: unavailable},
				slowSource{delay: 200 * time.Millisecond, err: unavailable},
			},
			Timeout: 10 * time.Second, // more than all the delays together
		}
		start := time.Now()
		_, err := s.Cheapest(context.Background(), route)
		checkAllAnswered(t, time.Since(start), s)
		assert.ErrorIs(t, err, ErrNoFare, "with every source failing, Cheapest must return ErrNoFare")

		none := &Search{Timeout: time.Second}
		start = time.Now()
		_, err = none.Cheapest(context.Background(), route)
		assert.ErrorIs(t, err, ErrNoFare, "with no sources, Cheapest must return ErrNoFare")
		assert.Zero(t, time.Since(start), "with no sources, Cheapest must return at once, not after its timeout")
	})
}

// The caller gives up: before Cheapest is called, or while the sources are
// quoting. Cheapest must return the context's error as soon as it is done,
// and every goroutine it started must end.
func TestCheapestCallerGivesUp(t *testing.T) {
	sources := func(stopAfter time.Duration) []Source {
		return []Source{
			slowSource{fare: Fare{"KLM", 21900}, delay: 2 * time.Second, stopAfter: stopAfter},
			slowSource{fare: Fare{"TAP", 18400}, delay: 3 * time.Second, stopAfter: stopAfter},
			slowSource{fare: Fare{"Iberia", 19900}, delay: 500 * time.Millisecond, err: errors.New("service unavailable"), stopAfter: stopAfter},
		}
	}
	inBubble(t, func(t *testing.T) {
		// Cancelled before the call. The sources take 10ms to give up, so
		// the context is done before any of them has answered.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := &Search{Sources: sources(10 * time.Millisecond), Timeout: time.Second}
		start := time.Now()
		_, err := s.Cheapest(ctx, route)
		assert.ErrorIs(t, err, context.Canceled, "Cheapest with a cancelled context must return the context's error")
		if elapsed := time.Since(start); elapsed >= s.Timeout {
			t.Errorf("Cheapest with a cancelled context returned after %v of fake time; want it to return once the context is done, not after its %v timeout", elapsed, s.Timeout)
		}

		// Cancelled while the sources quote; from here on the sources give
		// up at once.
		s.Sources = sources(0)
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start = time.Now()
		_, err = s.Cheapest(ctx, route)
		assert.ErrorIs(t, err, context.Canceled, "Cheapest whose context is cancelled after 300ms must return the context's error")
		if elapsed := time.Since(start); elapsed != 300*time.Millisecond {
			t.Errorf("Cheapest whose context is cancelled after 300ms returned after %v of fake time; want 300ms", elapsed)
		}

		// The caller's deadline comes before the search's timeout.
		ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		start = time.Now()
		_, err = s.Cheapest(ctx, route)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Cheapest whose context's deadline passes first must return the context's error")
		if elapsed := time.Since(start); elapsed != 400*time.Millisecond {
			t.Errorf("Cheapest with a 400ms deadline returned after %v of fake time; want 400ms", elapsed)
		}

		// Let the sources finish: a goroutine still blocked after that has
		// leaked, and the bubble reports it when this function returns.
		time.Sleep(time.Minute)
	})
}

// A source that hangs returns only when told to stop. Once Cheapest has
// returned, nobody wants its fare: Cheapest must tell it to stop (its ctx
// is done), or the goroutine that waits for it never ends.
func TestCheapestStopsSources(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var hung atomic.Int32
		teardown := make(chan struct{})
		defer close(teardown)
		s := &Search{
			Sources: []Source{
				slowSource{fare: Fare{"TAP", 18400}, delay: 100 * time.Millisecond},
				hungSource{&hung, teardown},
				hungSource{&hung, teardown},
				hungSource{&hung, teardown},
			},
			Timeout: time.Second,
		}
		// The caller would wait an hour: long enough to tell Cheapest's
		// timeout from the caller's, and to end a Cheapest that waits for
		// every source.
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		fare, err := s.Cheapest(ctx, route)
		if elapsed := time.Since(start); elapsed != s.Timeout {
			t.Errorf("Cheapest returned after %v of fake time, want %v (its Timeout): sources that have not answered by then must be ignored, not waited for", elapsed, s.Timeout)
		}
		if want := (Fare{"TAP", 18400}); err != nil || fare != want {
			t.Errorf("Cheapest = %+v, %v; want %+v, nil (the only fare quoted within the timeout)", fare, err, want)
		}
		synctest.Wait() // every goroutine has done what it can
		if n := hung.Load(); n > 0 {
			t.Errorf("leak: %d of 3 sources that hang are still quoting after Cheapest returned, and so are the goroutines waiting for them; want Cheapest to tell the sources it stops waiting for to stop (a source's Quote returns soon after its ctx is done, and may not return before)", n)
		}
	})
}

// This test comes last: if goroutines are still blocked when it returns, the
// bubble panics, which ends the test binary.
func TestCheapestIgnoresLateSources(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		s := &Search{Timeout: time.Second}
		s.Sources = append(s.Sources, slowSource{fare: Fare{"easyJet", 24900}, delay: 100 * time.Millisecond})
		for i, airline := range []string{"KLM", "TAP", "Iberia", "Vueling", "Transavia"} {
			s.Sources = append(s.Sources, slowSource{fare: Fare{airline, 18400 + 100*i}, delay: time.Duration(10*(i+1)) * time.Second})
		}
		start := time.Now()
		fare, err := s.Cheapest(context.Background(), route)
		if elapsed := time.Since(start); elapsed != s.Timeout {
			t.Errorf("Cheapest returned after %v of fake time, want %v (its Timeout): sources still quoting then must be ignored, not waited for", elapsed, s.Timeout)
		}
		if want := (Fare{"easyJet", 24900}); err != nil || fare != want {
			t.Errorf("Cheapest = %+v, %v; want %+v, nil (the only fare quoted within the timeout)", fare, err, want)
		}

		// Give the late airlines all the (fake) time they need: a goroutine
		// still blocked after that has leaked, and the bubble reports it
		// when this function returns.
		time.Sleep(time.Minute)
	})
}

// checkAllAnswered fails the test unless Cheapest, whose sources all
// answer within its timeout, returned after exactly the slowest of them, in
// fake time: it must ask them all at once, and need not wait for its
// timeout once every one has answered.
func checkAllAnswered(t *testing.T, elapsed time.Duration, s *Search) {
	t.Helper()
	var slowest, sum time.Duration
	for _, src := range s.Sources {
		d := src.(slowSource).delay
		slowest, sum = max(slowest, d), sum+d
	}
	n := len(s.Sources)
	switch {
	case elapsed == slowest:
	case elapsed >= s.Timeout:
		t.Errorf("Cheapest returned after %v of fake time, want %v: all %d sources had answered by then, so it need not wait for its %v timeout", elapsed, slowest, n, s.Timeout)
	case elapsed > slowest:
		t.Errorf("serialized: Cheapest returned after %v of fake time, want %v: %d sources that answer within %v have all answered after %v when asked at once, but take %v asked one after another", elapsed, slowest, n, slowest, slowest, sum)
	default:
		t.Errorf("Cheapest returned after %v of fake time, want %v: it cannot know the cheapest fare before every source has answered", elapsed, slowest)
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
