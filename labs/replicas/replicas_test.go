package replicas

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

const key = "user:1041/avatar"

// A replica answers after delay (in fake time, inside a bubble) with its own
// name as the value, or with err. Once its ctx is done, it takes giveUp to
// return ctx.Err(), also when ctx was done before the call.
type replica struct {
	name          string
	delay, giveUp time.Duration
	err           error
	calls         *calls // counts the calls in flight, if not nil
}

// calls counts the calls to a set of replicas.
type calls struct {
	mu       sync.Mutex // protects inFlight and peak
	inFlight int
	peak     int // the most calls in flight at once
}

func (c *calls) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight++
	c.peak = max(c.peak, c.inFlight)
}

func (c *calls) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
}

func (c *calls) most() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

func (r replica) Get(ctx context.Context, key string) (string, error) {
	if r.calls != nil {
		r.calls.begin()
		defer r.calls.end()
	}
	if ctx.Err() == nil && r.delay > 0 {
		timer := time.NewTimer(r.delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil {
		time.Sleep(r.giveUp)
		return "", ctx.Err()
	}
	if r.err != nil {
		return "", r.err
	}
	return r.name, nil
}

// client returns a Client for replicas, all counted by one calls.
func client(rs ...replica) (*Client, *calls) {
	c, n := &Client{}, &calls{}
	for _, r := range rs {
		r.calls = n
		c.Replicas = append(c.Replicas, r)
	}
	return c, n
}

// ok returns n replicas that answer at once.
func ok(n int) []replica {
	rs := make([]replica, n)
	for i := range rs {
		rs[i] = replica{name: fmt.Sprintf("replica-%d", i)}
	}
	return rs
}

// failing returns n replicas that fail, the i-th after (i+1)*step, each
// with an error of its own.
func failing(n int, step time.Duration) []replica {
	rs := make([]replica, n)
	for i := range rs {
		rs[i] = replica{name: fmt.Sprintf("replica-%d", i), delay: time.Duration(i+1) * step, err: fmt.Errorf("replica-%d: %w", i, errors.New("connection refused"))}
	}
	return rs
}

// checkAllFailed fails t unless err wraps ErrNoAnswer and every replica's
// error.
func checkAllFailed(t *testing.T, err error, rs []replica) {
	t.Helper()
	if !errors.Is(err, ErrNoAnswer) {
		t.Errorf("Get returned error %v with every replica failing; want one that wraps ErrNoAnswer", err)
	}
	for _, r := range rs {
		if !errors.Is(err, r.err) {
			t.Errorf("Get returned error %v; want one that also wraps %s's error, %v", err, r.name, r.err)
		}
	}
}

// This test runs in real time, outside any bubble, so that goleak sees
// every goroutine Get started. It needs no timing luck: the replicas answer
// at once, so a goroutine still there after Get has returned is blocked for
// good.
func TestGetLeavesNoGoroutines(t *testing.T) {
	oneFails := ok(5)
	oneFails[0].err = errors.New("replica-0: timeout")
	for _, tc := range []struct {
		name     string
		replicas []replica
	}{
		{"1 replica", ok(1)},
		{"2 replicas", ok(2)},
		{"5 replicas", ok(5)},
		{"5 replicas, one failing", oneFails},
		{"3 replicas, all failing", failing(3, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			c, _ := client(tc.replicas...)
			type got struct {
				value string
				err   error
			}
			done := make(chan got, 1)
			go func() { // exits when Get returns
				v, err := c.Get(context.Background(), key)
				done <- got{v, err}
			}()
			select {
			case g := <-done:
				if strings.Contains(tc.name, "all failing") {
					checkAllFailed(t, g.err, tc.replicas)
				} else if g.err != nil || !strings.HasPrefix(g.value, "replica-") || g.value == "replica-0" && tc.replicas[0].err != nil {
					t.Errorf("Get = %q, %v; want the value of a replica that answered, nil", g.value, g.err)
				}
				goleak.VerifyNone(t, before)
			case <-time.After(2 * time.Second):
				t.Errorf("deadlock: Get has not returned after 2s, with every replica answering at once")
			}
		})
	}
}

// The remaining tests run in testing/synctest bubbles, where time is fake
// and exact, and a goroutine still blocked when a test function returns
// makes the bubble panic, which ends the test binary. Each bubble first
// gives every goroutine a minute of fake time to finish.
func TestGetTakesTheFirstAnswer(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		replicas []replica
		want     string
		at       time.Duration
	}{
		{[]replica{{name: "a", delay: ms(200)}}, "a", ms(200)},
		{[]replica{{name: "a", delay: ms(300)}, {name: "b", delay: ms(100)}}, "b", ms(100)},
		{[]replica{
			{name: "a", delay: ms(500)},
			{name: "b", delay: ms(400)},
			{name: "c", delay: ms(100), err: errors.New("c: disk full")},
			{name: "d", delay: ms(300)},
			{name: "e", delay: ms(200)},
		}, "e", ms(200)},
	} {
		t.Run(fmt.Sprintf("%d replicas", len(tc.replicas)), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				c, n := client(tc.replicas...)
				start := time.Now()
				v, err := c.Get(context.Background(), key)
				elapsed := time.Since(start)
				if most := n.most(); most < len(tc.replicas) {
					t.Errorf("serialized: at most %d of the %d replicas were asked at once; want all of them at once", most, len(tc.replicas))
				} else if v != tc.want || err != nil || elapsed != tc.at {
					t.Errorf("Get = %q, %v after %v of fake time; want %q, nil after %v: the first value to come back", v, err, elapsed, tc.want, tc.at)
				}
				// The replicas that lost the race answer later: their
				// goroutines must end all the same.
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestGetSkipsFailures(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		rs := failing(2, 100*time.Millisecond)
		rs = append(rs, replica{name: "c", delay: 300 * time.Millisecond})
		c, calls := client(rs...)
		start := time.Now()
		v, err := c.Get(context.Background(), key)
		if most := calls.most(); most < len(rs) {
			t.Errorf("serialized: at most %d of the %d replicas were asked at once; want all of them at once", most, len(rs))
		} else if elapsed := time.Since(start); v != "c" || err != nil || elapsed != 300*time.Millisecond {
			t.Errorf("Get = %q, %v after %v of fake time; want %q, nil after 300ms: failed replicas are skipped, and Get waits for the others", v, err, elapsed, "c")
		}
		time.Sleep(time.Minute)
	})
}

func TestGetAllFail(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				rs := failing(n, 100*time.Millisecond)
				c, calls := client(rs...)
				start := time.Now()
				_, err := c.Get(context.Background(), key)
				if most := calls.most(); most < n {
					t.Errorf("serialized: at most %d of the %d replicas were asked at once; want all of them at once", most, n)
				} else if elapsed, want := time.Since(start), time.Duration(n)*100*time.Millisecond; elapsed != want {
					t.Errorf("Get returned after %v of fake time; want %v, when the last replica failed", elapsed, want)
				}
				checkAllFailed(t, err, rs)
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestGetCancelled(t *testing.T) {
	const (
		cancelAt = 150 * time.Millisecond
		giveUp   = 10 * time.Millisecond
	)
	for _, n := range []int{1, 2, 5} {
		for _, before := range []bool{false, true} {
			name := fmt.Sprintf("%d replicas/while waiting", n)
			if before {
				name = fmt.Sprintf("%d replicas/before the call", n)
			}
			t.Run(name, func(t *testing.T) {
				inBubble(t, func(t *testing.T) {
					rs := ok(n)
					for i := range rs {
						rs[i].delay, rs[i].giveUp = time.Second, giveUp
					}
					c, _ := client(rs...)
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					stopAt := cancelAt
					if before {
						cancel()
						stopAt = 0
					} else {
						time.AfterFunc(cancelAt, cancel)
					}
					start := time.Now()
					_, err := c.Get(ctx, key)
					elapsed := time.Since(start)
					if !errors.Is(err, context.Canceled) {
						t.Errorf("Get returned error %v; want one that wraps context.Canceled", err)
					}
					if elapsed > stopAt+giveUp {
						t.Errorf("Get returned %v after ctx was cancelled; want it back within %v, the time the replicas take to give up", elapsed-stopAt, giveUp)
					}
					time.Sleep(time.Minute)
				})
			})
		}
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
