package poller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Every test runs in a testing/synctest bubble, where time is fake and
// exact: the test API answers at once, so Wait checks the status at 0,
// Interval, 2*Interval... of fake time, and must return at exactly the
// moment its documentation says. No test's Timeout or cancel falls on a
// check, where either order would be right.

const op = "op-restore-db-7f3a"

// never is a doneAt for an operation that never finishes.
const never = time.Duration(math.MaxInt64)

var errAPI = errors.New("api: 503 service unavailable")

// An api is the test's API for one operation, which is done from doneAt
// after start on. It answers at once.
type api struct {
	start  time.Time
	doneAt time.Duration
	failAt int // the check that fails, counting from 1; 0: none

	mu       sync.Mutex // protects the fields below
	checks   int        // the checks made
	last     Status     // the last status returned
	calledAt string     // where Wait called Status, such as "poller.go:58"
}

func newAPI(doneAt time.Duration) *api {
	return &api{start: time.Now(), doneAt: doneAt}
}

func (a *api) Status(ctx context.Context, id string) (Status, error) {
	site := callerIn("poller.go")
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calledAt = site
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	a.checks++
	if a.checks == a.failAt {
		return Status{}, errAPI
	}
	st := Status{Op: id, Progress: min(a.checks, 99)}
	if el := time.Since(a.start); el >= a.doneAt {
		st.Done, st.Progress = true, 100
	} else if a.doneAt != never {
		st.Progress = int(el * 100 / a.doneAt)
	}
	a.last = st
	return st, nil
}

// seen returns the number of checks, the last status returned and where
// Wait called Status.
func (a *api) seen() (checks int, last Status, calledAt string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checks, a.last, a.calledAt
}

// A waited is what Wait returned, and when.
type waited struct {
	st      Status
	err     error
	elapsed time.Duration
}

// wait calls p.Wait(ctx, op) in a new goroutine and returns what it
// returned. If Wait has not returned after limit of fake time, wait fails
// t with where Wait is waiting (saying what it should have done), cancels
// Wait's ctx to let it out, and returns false.
func wait(t *testing.T, ctx context.Context, p *Poller, limit time.Duration, should string) (waited, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan waited, 1)
	start := time.Now()
	go func() { // exits when Wait returns
		st, err := p.Wait(ctx, op)
		done <- waited{st, err, time.Since(start)}
	}()
	select {
	case w := <-done:
		return w, true
	case <-time.After(limit):
	}
	synctest.Wait() // let Wait settle where it waits
	t.Errorf("Wait, with Interval %v and Timeout %v, is still running after %v of fake time; want it to %s (it is waiting at %s)",
		p.Interval, p.Timeout, limit, should, stuckAt("poller.go"))
	cancel()
	<-done
	return waited{}, false
}

func TestWaitGivesUpAfterTheTimeout(t *testing.T) {
	for _, tc := range []struct{ interval, timeout time.Duration }{
		{10 * time.Second, 3 * time.Second},
		{10 * time.Second, 25 * time.Second},
		{time.Second, 45*time.Second + 500*time.Millisecond},
		{time.Minute, 7*time.Minute + 30*time.Second},
	} {
		t.Run(fmt.Sprintf("interval=%v/timeout=%v", tc.interval, tc.timeout), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				a := newAPI(never)
				p := &Poller{API: a, Interval: tc.interval, Timeout: tc.timeout}
				w, ok := wait(t, context.Background(), p, 2*tc.timeout+tc.interval,
					fmt.Sprintf("give up with ErrTimeout %v after the call, its Timeout: the operation never finishes", tc.timeout))
				if !ok {
					return
				}
				checks, last, _ := a.seen()
				if !errors.Is(w.err, ErrTimeout) || w.elapsed != tc.timeout {
					t.Errorf("Wait with Interval %v and Timeout %v returned error %v after %v of fake time, having checked the status %d time(s); want ErrTimeout after %v, its Timeout", p.Interval, p.Timeout, w.err, w.elapsed, checks, tc.timeout)
				} else if w.st != last {
					t.Errorf("Wait returned status %+v with ErrTimeout; want the last status it received, %+v", w.st, last)
				}
			})
		})
	}
}

func TestWaitWithoutLimit(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct{ interval, timeout, doneAt, want time.Duration }{
		{10 * time.Second, 0, 0, 0},
		{10 * time.Second, 0, 35 * time.Second, 40 * time.Second},
		{10 * time.Second, -time.Second, 35 * time.Second, 40 * time.Second},
		{10 * time.Second, -1, 95 * time.Second, 100 * time.Second},
		{time.Hour, 0, 30*day - time.Minute, 30 * day},
		{10 * time.Second, time.Hour, 35 * time.Second, 40 * time.Second},
	} {
		t.Run(fmt.Sprintf("timeout=%v/done=%v", tc.timeout, tc.doneAt), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				a := newAPI(tc.doneAt)
				p := &Poller{API: a, Interval: tc.interval, Timeout: tc.timeout}
				limit := "no limit: Wait waits as long as the operation runs"
				if tc.timeout > 0 {
					limit = "a limit of " + tc.timeout.String()
				}
				w, ok := wait(t, context.Background(), p, tc.want+time.Hour,
					fmt.Sprintf("return the final status %v after the call, at the first check after the operation finished", tc.want))
				if !ok {
					return
				}
				checks, _, calledAt := a.seen()
				if w.err != nil || !w.st.Done || w.elapsed != tc.want {
					t.Errorf("Wait with Timeout %v returned error %v after %v of fake time, having checked the status %d time(s) at %s; want the final status and nil after %v: a Timeout of %v means %s",
						tc.timeout, w.err, w.elapsed, checks, calledAt, tc.want, tc.timeout, limit)
				}
			})
		})
	}
}

func TestWaitCancelled(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second, time.Hour} {
		for _, cancelAt := range []time.Duration{-1, 15 * time.Second} {
			when := "during the call"
			if cancelAt < 0 {
				when = "before the call"
			}
			t.Run(fmt.Sprintf("timeout=%v/%s", timeout, when), func(t *testing.T) {
				inBubble(t, func(t *testing.T) {
					a := newAPI(never)
					p := &Poller{API: a, Interval: 10 * time.Second, Timeout: timeout}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if cancelAt < 0 {
						cancel()
					} else {
						time.AfterFunc(cancelAt, cancel)
					}
					w, ok := wait(t, ctx, p, max(cancelAt, 0)+time.Hour, "return ctx's error as soon as ctx is cancelled")
					if !ok {
						return
					}
					checks, last, calledAt := a.seen()
					if !errors.Is(w.err, context.Canceled) || w.elapsed != max(cancelAt, 0) {
						t.Errorf("Wait with Timeout %v and ctx cancelled %s returned error %v after %v of fake time, having checked the status %d time(s) at %s; want context.Canceled after %v, as soon as ctx was cancelled",
							timeout, when, w.err, w.elapsed, checks, calledAt, max(cancelAt, 0))
					} else if w.st != last {
						t.Errorf("Wait returned status %+v with ctx's error; want the last status it received, %+v", w.st, last)
					}
				})
			})
		}
	}
}

func TestWaitStatusFails(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("timeout=%v", timeout), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				a := newAPI(never)
				a.failAt = 3
				p := &Poller{API: a, Interval: 10 * time.Second, Timeout: timeout}
				w, ok := wait(t, context.Background(), p, time.Hour, "return the error of its third status check, which failed")
				if !ok {
					return
				}
				checks, last, calledAt := a.seen()
				if !errors.Is(w.err, errAPI) || w.elapsed != 20*time.Second {
					t.Errorf("Wait with Timeout %v returned error %v after %v of fake time, having checked the status %d time(s) at %s; want the error of the third check, %v, after 20s",
						timeout, w.err, w.elapsed, checks, calledAt, errAPI)
				} else if w.st != last {
					t.Errorf("Wait returned status %+v with the check's error; want the last status it received, %+v", w.st, last)
				}
			})
		})
	}
}

// callerIn returns the innermost frame of the calling goroutine that is in
// the file named file, such as "poller.go:58", or "an unknown place".
func callerIn(file string) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if filepath.Base(f.File) == file {
			return fmt.Sprintf("%s:%d", file, f.Line)
		}
		if !more {
			return "an unknown place"
		}
	}
}

// stuckAt returns where a goroutine is waiting in the file named file,
// such as "poller.go:64", from a dump of every goroutine.
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
