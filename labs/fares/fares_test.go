package fares

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const route = "AMS-LIS"

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

// slowSource answers after delay (with err, if set), or gives up when ctx is
// done. Its delay is in fake time when it runs in a synctest bubble.
type slowSource struct {
	fare  Fare
	delay time.Duration
	err   error
}

func (s slowSource) Quote(ctx context.Context, route string) (Fare, error) {
	select {
	case <-time.After(s.delay):
		return s.fare, s.err
	case <-ctx.Done():
		return Fare{}, ctx.Err()
	}
}

// This test runs in real time, outside any bubble, so that goleak can see
// every goroutine Cheapest started: it needs no timing luck, because the
// sources answer only after Cheapest has returned.
func TestCheapestLeavesNoGoroutines(t *testing.T) {
	release := make(chan struct{})
	s := &Search{
		Sources: []Source{
			heldSource{Fare{"KLM", 21900}, release},
			heldSource{Fare{"TAP", 18400}, release},
		},
		Timeout: 20 * time.Millisecond,
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
	inBubble(t, func(t *testing.T) {
		const delay = 300 * time.Millisecond
		s := &Search{
			Sources: []Source{
				slowSource{fare: Fare{"KLM", 21900}, delay: delay},
				slowSource{fare: Fare{"Transavia", 15900}, delay: delay},
				slowSource{fare: Fare{"TAP", 18400}, delay: delay},
			},
			Timeout: time.Second,
		}
		start := time.Now()
		fare, err := s.Cheapest(context.Background(), route)
		checkAllAtOnce(t, time.Since(start), delay, s)
		require.NoError(t, err, "Cheapest returned an error, want the cheapest fare")
		assert.Equal(t, Fare{"Transavia", 15900}, fare, "Cheapest must return the cheapest of the fares quoted")
	})
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
			},
			Timeout: time.Second,
		}
		start := time.Now()
		fare, err := s.Cheapest(context.Background(), route)
		checkAllAtOnce(t, time.Since(start), delay, s)
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
			},
			Timeout: time.Second,
		}
		_, err := s.Cheapest(context.Background(), route)
		assert.ErrorIs(t, err, ErrNoFare, "with every source failing, Cheapest must return ErrNoFare")
		none := &Search{Timeout: time.Second}
		_, err = none.Cheapest(context.Background(), route)
		assert.ErrorIs(t, err, ErrNoFare, "with no sources, Cheapest must return ErrNoFare")
	})
}

// This test comes last: if goroutines are still blocked when it returns, the
// bubble panics, which ends the test binary.
func TestCheapestIgnoresLateSources(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		s := &Search{
			Sources: []Source{
				slowSource{fare: Fare{"easyJet", 24900}, delay: 100 * time.Millisecond},
				slowSource{fare: Fare{"KLM", 21900}, delay: 10 * time.Second},
				slowSource{fare: Fare{"TAP", 18400}, delay: 20 * time.Second},
			},
			Timeout: time.Second,
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

// checkAllAtOnce fails the test unless Cheapest, whose sources all answer
// after delay, returned after exactly delay of fake time.
func checkAllAtOnce(t *testing.T, elapsed, delay time.Duration, s *Search) {
	t.Helper()
	n := len(s.Sources)
	switch {
	case elapsed == delay:
	case elapsed >= s.Timeout:
		t.Errorf("Cheapest returned after %v of fake time, want %v: all %d sources had answered by then, so it need not wait for its %v timeout", elapsed, delay, n, s.Timeout)
	case elapsed > delay:
		t.Errorf("serialized: Cheapest returned after %v of fake time, want %v: %d sources that each answer in %v have all answered after %v when asked at once, but take %v asked one after another", elapsed, delay, n, delay, delay, time.Duration(n)*delay)
	default:
		t.Errorf("Cheapest returned after %v of fake time, want %v: it cannot know the cheapest fare before every source has answered", elapsed, delay)
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
