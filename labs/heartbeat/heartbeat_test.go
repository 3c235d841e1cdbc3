package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

const instance = "checkout-7f9c"

// A registry records the beats it is sent. A beat takes took to answer,
// and the registry does not give up on it when ctx is done: it is the worst
// case for Stop, which must wait for a beat in flight all the same.
type registry struct {
	start time.Time     // beats are timed from here
	took  time.Duration // how long each beat takes
	err   error         // what every beat returns

	mu       sync.Mutex      // protects the fields below
	beats    []time.Duration // when each beat began, since start
	inFlight int             // beats begun and not yet answered
}

func newRegistry(took time.Duration, err error) *registry {
	return &registry{start: time.Now(), took: took, err: err}
}

func (r *registry) Beat(ctx context.Context, inst string) error {
	r.mu.Lock()
	r.beats = append(r.beats, time.Since(r.start))
	r.inFlight++
	r.mu.Unlock()

	time.Sleep(r.took) // in fake time, inside a bubble

	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	return r.err
}

// sent returns when each beat so far began, and how many are in flight.
func (r *registry) sent() (beats []time.Duration, inFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.beats...), r.inFlight
}

// stop calls h.Stop and fails t if it has not returned within two seconds of
// real time. Use it outside bubbles only.
func stop(t *testing.T, h *Heartbeat, what string) bool {
	t.Helper()
	done := make(chan struct{})
	go func() { // exits when Stop returns
		h.Stop()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(2 * time.Second):
		t.Errorf("deadlock: %s has not returned after 2s; Stop must return as soon as the background loop has exited", what)
		return false
	}
}

// These tests run in real time, outside any bubble, so that goleak sees
// every goroutine Start left behind. They need no timing luck: with an
// interval of an hour no beat is ever due, and a goroutine still there
// after Stop is blocked for good.
func TestStopEndsTheLoop(t *testing.T) {
	before := goleak.IgnoreCurrent()
	r := newRegistry(0, nil)
	h := New(r, instance, time.Hour)
	h.Start()
	if stop(t, h, "Stop after Start") {
		goleak.VerifyNone(t, before)
	}
}

func TestStopTwiceAndBeforeStart(t *testing.T) {
	before := goleak.IgnoreCurrent()
	r := newRegistry(0, nil)
	if !stop(t, New(r, instance, time.Hour), "Stop before Start") {
		return // stuck, not leaked: stop has said so
	}
	h := New(r, instance, time.Hour)
	h.Start()
	if stop(t, h, "Stop") && stop(t, h, "a second Stop") {
		goleak.VerifyNone(t, before)
	}
}

// The remaining tests run in testing/synctest bubbles, where time is fake
// and exact: the ticker fires at exactly every interval, and a test can
// wait an hour for free. A goroutine still blocked when a bubble's test
// function returns makes the bubble panic, which ends the test binary.
func TestBeatsEveryInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		err      error
	}{
		{time.Second, nil},
		{10 * time.Second, nil},
		{5 * time.Second, errors.New("registry unavailable")}, // failed beats are not retried early
	} {
		t.Run(fmt.Sprintf("%v/err=%v", tc.interval, tc.err), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				r := newRegistry(0, tc.err)
				h := New(r, instance, tc.interval)
				h.Start()

				time.Sleep(3*tc.interval + tc.interval/2)
				synctest.Wait()
				want := []time.Duration{tc.interval, 2 * tc.interval, 3 * tc.interval}
				if got, _ := r.sent(); !equal(got, want) {
					t.Errorf("after %v the registry got beats at %v; want %v: one beat every interval, the first one interval after Start", 3*tc.interval+tc.interval/2, got, want)
				}

				h.Stop()
				stopped, _ := r.sent()
				time.Sleep(10 * tc.interval)
				synctest.Wait()
				if got, _ := r.sent(); len(got) > len(stopped) {
					t.Errorf("leak: the registry got %d more beats in the %v after Stop returned, at %v: Start's goroutine is still running; want no beat after Stop", len(got)-len(stopped), 10*tc.interval, got[len(stopped):])
				}
				// A goroutine Start left blocked makes the bubble panic now.
			})
		})
	}
}

func TestStopWaitsForBeatInFlight(t *testing.T) {
	for _, interval := range []time.Duration{10 * time.Second, time.Minute} {
		t.Run(interval.String(), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				took := interval / 5 // a slow registry: each beat takes a fifth of an interval
				r := newRegistry(took, nil)
				h := New(r, instance, interval)
				h.Start()

				// Stop halfway through the first beat.
				time.Sleep(interval + took/2)
				synctest.Wait()
				if beats, inFlight := r.sent(); len(beats) != 1 || inFlight != 1 {
					t.Fatalf("at %v the registry got beats at %v, %d in flight; want one beat, begun at %v and in flight", interval+took/2, beats, inFlight, interval)
				}
				h.Stop()
				if _, inFlight := r.sent(); inFlight > 0 {
					t.Errorf("leak: Stop returned at %v while a beat begun at %v was still in flight (it ends at %v): the loop had not exited; want Stop to wait until it has", interval+took/2, interval, interval+took)
				}

				stopped, _ := r.sent()
				time.Sleep(10 * interval)
				synctest.Wait()
				if got, _ := r.sent(); len(got) > len(stopped) {
					t.Errorf("leak: the registry got %d more beats after Stop returned, at %v; want no beat after Stop", len(got)-len(stopped), got[len(stopped):])
				}
			})
		})
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
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
