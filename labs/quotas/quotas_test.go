package quotas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

const tenant = "acme"

var errUnavailable = errors.New("store unavailable")

// planFunc and usageFunc turn functions into stores.
type (
	planFunc  func(ctx context.Context, tenant string) (Plan, error)
	usageFunc func(ctx context.Context, tenant string) (int, error)
)

func (f planFunc) Plan(ctx context.Context, tenant string) (Plan, error) { return f(ctx, tenant) }
func (f usageFunc) Used(ctx context.Context, tenant string) (int, error) { return f(ctx, tenant) }

// A lookup is how a fake store answers: after delay (in fake time, inside
// a bubble), with plan or used, or with err. When ctx is done first, it
// takes giveUp more to return ctx.Err(); a lookup begun with ctx already
// done returns at once.
type lookup struct {
	delay, giveUp time.Duration
	plan          Plan
	used          int
	err           error
}

func (l lookup) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.delay == 0 {
		return l.err
	}
	timer := time.NewTimer(l.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return l.err
	case <-ctx.Done():
		time.Sleep(l.giveUp)
		return ctx.Err()
	}
}

func (l lookup) plans() PlanStore {
	return planFunc(func(ctx context.Context, _ string) (Plan, error) {
		if err := l.wait(ctx); err != nil {
			return Plan{}, err
		}
		return l.plan, nil
	})
}

func (l lookup) usage() UsageStore {
	return usageFunc(func(ctx context.Context, _ string) (int, error) {
		if err := l.wait(ctx); err != nil {
			return 0, err
		}
		return l.used, nil
	})
}

// A path is one way out of Allow.
type path struct {
	name        string
	plan, usage lookup
	cost        int
	cancelled   bool  // ctx is cancelled before the call
	want        bool  // Allow's answer, when wantErr is nil
	wantErr     error // what Allow's error must wrap
}

func (p path) check(t *testing.T, ok bool, err error) {
	t.Helper()
	switch {
	case p.wantErr == nil && err != nil:
		t.Errorf("Allow(%s, %d) returned error %v; want %v, nil", tenant, p.cost, err, p.want)
	case p.wantErr == nil && ok != p.want:
		t.Errorf("Allow(%s, %d) = %v; want %v (%d used + %d asked, limit %d)", tenant, p.cost, ok, p.want, p.usage.used, p.cost, p.plan.plan.Limit)
	case p.wantErr != nil && !errors.Is(err, p.wantErr):
		t.Errorf("Allow(%s, %d) returned error %v; want one that wraps %v", tenant, p.cost, err, p.wantErr)
	}
}

// paths drives every way out of Allow, with stores that answer at once.
var paths = []path{
	{name: "allowed", plan: lookup{plan: Plan{Limit: 100}}, usage: lookup{used: 60}, cost: 40, want: true},
	{name: "denied", plan: lookup{plan: Plan{Limit: 100}}, usage: lookup{used: 60}, cost: 41, want: false},
	{name: "plan lookup fails", plan: lookup{err: errUnavailable}, usage: lookup{used: 60}, cost: 1, wantErr: errUnavailable},
	{name: "suspended", plan: lookup{plan: Plan{Limit: 100, Suspended: true}}, usage: lookup{used: 60}, cost: 1, wantErr: ErrSuspended},
	{name: "usage lookup fails", plan: lookup{plan: Plan{Limit: 100}}, usage: lookup{err: errUnavailable}, cost: 1, wantErr: errUnavailable},
	{name: "cancelled before the call", plan: lookup{plan: Plan{Limit: 100}}, usage: lookup{used: 60}, cost: 1, cancelled: true, wantErr: context.Canceled},
}

// These tests run in real time, outside any bubble, so that goleak sees
// every goroutine Allow started. They need no timing luck: the stores
// answer at once, so a goroutine still there after Allow has returned is
// blocked for good.
func TestAllowLeavesNoGoroutines(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			c := &Checker{Plans: p.plan.plans(), Usage: p.usage.usage()}
			ctx, cancel := context.WithCancel(context.Background())
			if p.cancelled {
				cancel()
			}
			defer cancel()
			type answer struct {
				ok  bool
				err error
			}
			done := make(chan answer, 1)
			go func() { // exits when Allow returns
				ok, err := c.Allow(ctx, tenant, p.cost)
				done <- answer{ok, err}
			}()
			select {
			case a := <-done:
				p.check(t, a.ok, a.err)
				goleak.VerifyNone(t, before)
			case <-time.After(2 * time.Second):
				t.Errorf("deadlock: Allow has not returned after 2s, with both stores answering at once")
			}
		})
	}
}

// The remaining tests run in testing/synctest bubbles, where time is fake
// and exact, and a goroutine still blocked when a test function returns
// makes the bubble panic, which ends the test binary. Each bubble first
// gives every goroutine a minute of fake time to finish.
func TestAllowLooksUpBothAtOnce(t *testing.T) {
	for _, tc := range []struct {
		planIn, usageIn time.Duration
	}{
		{200 * time.Millisecond, 300 * time.Millisecond},
		{300 * time.Millisecond, 200 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("plan=%v/usage=%v", tc.planIn, tc.usageIn), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				for _, p := range paths[:2] {
					p.plan.delay, p.usage.delay = tc.planIn, tc.usageIn
					c := &Checker{Plans: p.plan.plans(), Usage: p.usage.usage()}
					start := time.Now()
					ok, err := c.Allow(context.Background(), tenant, p.cost)
					elapsed := time.Since(start)
					p.check(t, ok, err)
					if want := max(tc.planIn, tc.usageIn); elapsed > want {
						t.Errorf("serialized: Allow took %v of fake time; want %v: a plan lookup of %v and a usage lookup of %v take %v at the same time, %v one after the other", elapsed, want, tc.planIn, tc.usageIn, want, tc.planIn+tc.usageIn)
					}
				}
				time.Sleep(time.Minute)
			})
		})
	}
}

func TestAllowErrorPaths(t *testing.T) {
	const (
		fast   = 100 * time.Millisecond
		slow   = 300 * time.Millisecond
		giveUp = 10 * time.Millisecond
	)
	for _, p := range paths[2:] {
		t.Run(p.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				// The lookup that fails does so first, while the other is
				// still in flight.
				p.plan.delay, p.usage.delay = slow, slow
				if p.plan.err != nil || p.plan.plan.Suspended {
					p.plan.delay = fast
				}
				if p.usage.err != nil {
					p.usage.delay = fast
				}
				p.plan.giveUp, p.usage.giveUp = giveUp, giveUp
				c := &Checker{Plans: p.plan.plans(), Usage: p.usage.usage()}
				ctx, cancel := context.WithCancel(context.Background())
				if p.cancelled {
					cancel()
				}
				defer cancel()
				ok, err := c.Allow(ctx, tenant, p.cost)
				p.check(t, ok, err)
				time.Sleep(time.Minute)
			})
		})
	}

	// The caller gives up while Allow waits for the usage lookup, which
	// takes a moment to notice.
	t.Run("cancelled while waiting", func(t *testing.T) {
		inBubble(t, func(t *testing.T) {
			p := path{
				plan:  lookup{delay: fast, giveUp: giveUp, plan: Plan{Limit: 100}},
				usage: lookup{delay: time.Second, giveUp: giveUp, used: 60},
				cost:  1, wantErr: context.Canceled,
			}
			c := &Checker{Plans: p.plan.plans(), Usage: p.usage.usage()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(2*fast, cancel)
			ok, err := c.Allow(ctx, tenant, p.cost)
			p.check(t, ok, err)
			time.Sleep(time.Minute)
		})
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
