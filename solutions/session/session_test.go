package session

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sasha-s/go-deadlock"
)

func init() {
	// go-deadlock's default reaction to a report is os.Exit(2), which ends
	// the test binary before any test can say what happened. Keep the
	// reports instead: every test fails with the ones made while it ran.
	deadlock.Opts.LogBuf = &lockReports
	deadlock.Opts.OnPotentialDeadlock = lockReports.count
	// No reports of long waits: they come from timers that fire after the
	// test that caused them has ended. The tests see frozen calls
	// themselves (goroutines_test.go), whatever mutex the store uses.
	deadlock.Opts.DeadlockTimeout = 0
}

// lockReports holds every report go-deadlock has made in this process.
var lockReports reportLog

// A reportLog collects go-deadlock's reports. go-deadlock writes a report
// to Opts.LogBuf and then calls Opts.OnPotentialDeadlock, on whichever
// goroutine was taking a lock, so the log has its own lock.
type reportLog struct {
	mu   sync.Mutex // protects n and text
	n    int        // reports so far
	text strings.Builder
}

// A logMark is a position in a reportLog.
type logMark struct{ n, len int }

func (r *reportLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.Write(p)
}

func (r *reportLog) count() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
}

func (r *reportLog) mark() logMark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return logMark{r.n, r.text.Len()}
}

// since returns the number of reports made after m and the text of the
// first one.
func (r *reportLog) since(m logMark) (n int, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const header = "POTENTIAL DEADLOCK:"
	first = r.text.String()[m.len:]
	if i := strings.Index(first[min(len(header), len(first)):], header); i >= 0 {
		first = first[:len(header)+i]
	}
	return r.n - m.n, strings.TrimSpace(first)
}

// checkLocks makes t fail, when it ends, if go-deadlock reported a
// potential deadlock while t ran.
func checkLocks(t *testing.T) {
	m := lockReports.mark()
	t.Cleanup(func() {
		if n, first := lockReports.since(m); n > 0 {
			t.Errorf("deadlock: go-deadlock reported %d potential deadlock(s) while %s ran; want none. The first report:\n%s", n, t.Name(), first)
		}
	})
}

// returns waits for calls to return, and fails t and stops it if they do
// not: they froze on the store's lock, or are still running after
// stuckLimit.
func returns(t *testing.T, calls ...*call) {
	t.Helper()
	if s, ok := wait(calls...); !ok {
		t.Fatal(stallReport(s))
	}
}

// stallReport says, in a tagged failure message, why calls did not return.
func stallReport(s stall) string {
	if !s.frozen {
		tag := "deadlock: "
		for _, g := range s.gs {
			if !g.stuck() {
				tag = "" // busy, not stuck
			}
		}
		return fmt.Sprintf("%s%s still had not returned after %v; want every call to return at once.\n%s", tag, s.names(), stuckLimit, s)
	}
	if len(s.gs) == 1 {
		return fmt.Sprintf("deadlock: %s never returned: it waits for the store's lock, and no other goroutine is in the store's code to release it. "+
			"The lock is held by this same goroutine, taken further up its stack (a sync.Mutex is not reentrant: locking it twice waits forever), "+
			"or by a call that returned without unlocking it.\n%s", s.names(), s)
	}
	return fmt.Sprintf("deadlock: %s never returned: every goroutine in the store's code waits for its lock, so none of them can ever release it. "+
		"One of them holds it already, taken further up its own stack (a sync.Mutex is not reentrant), or a call returned without unlocking it.\n%s", s.names(), s)
}

// A testClock tells the time it is set to. Every Now first calls onNow, if
// set, on the caller's goroutine: that is how the tests act while a call
// is under way.
type testClock struct {
	now   atomic.Int64 // Unix nanoseconds
	onNow func()       // set before the store is used
}

func newClock() *testClock {
	c := &testClock{}
	c.set(t0)
	return c
}

func (c *testClock) Now() time.Time {
	if c.onNow != nil {
		c.onNow()
	}
	return time.Unix(0, c.now.Load()).UTC()
}

func (c *testClock) set(t time.Time) { c.now.Store(t.UnixNano()) }

var t0 = time.Date(2025, 11, 28, 9, 0, 0, 0, time.UTC)

const ttl = 30 * time.Minute

// tokens returns "tok-1", "tok-2", ... in turn, from any goroutine.
func tokens() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("tok-%d", n.Add(1)) }
}

// The calls into the store, each under the tests' bound.

func create(t *testing.T, s *Store, user string) string {
	t.Helper()
	var token string
	returns(t, start(fmt.Sprintf("Create(%q)", user), func() { token = s.Create(user) }))
	return token
}

func lookup(t *testing.T, s *Store, token string) (Session, error) {
	t.Helper()
	var sess Session
	var err error
	returns(t, start(fmt.Sprintf("Lookup(%q)", token), func() { sess, err = s.Lookup(token) }))
	return sess, err
}

func touch(t *testing.T, s *Store, token string) error {
	t.Helper()
	var err error
	returns(t, start(fmt.Sprintf("Touch(%q)", token), func() { err = s.Touch(token) }))
	return err
}

func refresh(t *testing.T, s *Store, token string) (string, error) {
	t.Helper()
	var next string
	var err error
	returns(t, start(fmt.Sprintf("Refresh(%q)", token), func() { next, err = s.Refresh(token) }))
	return next, err
}

func end(t *testing.T, s *Store, token string) {
	t.Helper()
	returns(t, start(fmt.Sprintf("End(%q)", token), func() { s.End(token) }))
}

// wantSession fails t unless token names a live session of user that
// expires at expires.
func wantSession(t *testing.T, s *Store, token, user string, expires time.Time) {
	t.Helper()
	got, err := lookup(t, s, token)
	if want := (Session{User: user, Expires: expires}); err != nil || got != want {
		t.Errorf("Lookup(%q) = %+v, %v; want %+v, nil", token, got, err, want)
	}
}

// wantNoSession fails t unless token names no live session.
func wantNoSession(t *testing.T, s *Store, token string) {
	t.Helper()
	if got, err := lookup(t, s, token); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup(%q) = %+v, %v; want ErrNoSession", token, got, err)
	}
}

func TestSessions(t *testing.T) {
	checkLocks(t)
	clock := newClock()
	s := New(ttl, clock, tokens())

	ada, bob := create(t, s, "ada"), create(t, s, "bob")
	if ada != "tok-1" || bob != "tok-2" {
		t.Fatalf("Create(ada), Create(bob) = %q, %q; want tok-1, tok-2, the tokens newToken returned", ada, bob)
	}
	wantSession(t, s, ada, "ada", t0.Add(ttl))

	clock.set(t0.Add(20 * time.Minute))
	if err := touch(t, s, ada); err != nil {
		t.Errorf("Touch(%q) = %v; want nil", ada, err)
	}
	wantSession(t, s, ada, "ada", t0.Add(20*time.Minute+ttl))
	wantSession(t, s, bob, "bob", t0.Add(ttl))

	clock.set(t0.Add(ttl)) // bob's session ends now
	wantNoSession(t, s, bob)
	for _, token := range []string{bob, "tok-10", "tok", ""} {
		if err := touch(t, s, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("Touch(%q) = %v; want ErrNoSession", token, err)
		}
	}
	wantSession(t, s, ada, "ada", t0.Add(20*time.Minute+ttl))

	end(t, s, ada)
	wantNoSession(t, s, ada)
	end(t, s, "tok-10")
}

func TestRefresh(t *testing.T) {
	checkLocks(t)
	clock := newClock()
	s := New(ttl, clock, tokens())
	ada := create(t, s, "ada") // tok-1

	clock.set(t0.Add(10 * time.Minute))
	next, err := refresh(t, s, ada)
	if err != nil || next != "tok-2" {
		t.Fatalf("Refresh(%q) = %q, %v; want tok-2 (the next token from newToken), nil", ada, next, err)
	}
	wantSession(t, s, next, "ada", t0.Add(10*time.Minute+ttl))
	wantNoSession(t, s, ada)

	for _, token := range []string{ada, "tok-20", ""} {
		if got, err := refresh(t, s, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("Refresh(%q) = %q, %v; want ErrNoSession", token, got, err)
		}
	}
	wantSession(t, s, next, "ada", t0.Add(10*time.Minute+ttl))

	clock.set(t0.Add(10*time.Minute + ttl)) // ada's session ends now
	if got, err := refresh(t, s, next); !errors.Is(err, ErrNoSession) {
		t.Errorf("Refresh(%q) of an expired session = %q, %v; want ErrNoSession", next, got, err)
	}

	bob := create(t, s, "bob") // tok-3
	for i, want := range []string{"tok-4", "tok-5"} {
		clock.set(t0.Add(ttl + time.Duration(20+i)*time.Minute))
		got, err := refresh(t, s, bob)
		if err != nil || got != want {
			t.Fatalf("Refresh(%q) = %q, %v; want %q, nil", bob, got, err, want)
		}
		wantNoSession(t, s, bob)
		bob = got
	}
	wantSession(t, s, bob, "bob", t0.Add(ttl+21*time.Minute+ttl))
}

// An observation is what one call saw of a session being refreshed: the
// results of Lookup of its old token, then of its new one.
type observation struct {
	old, new       Session
	oldErr, newErr error
}

// TestRefreshIsAtomic looks at the session from another goroutine every
// time Refresh asks the clock the time, and lets Refresh go on only once
// that goroutine has seen the session or is waiting for the store's lock.
// Whatever it sees must be the session before Refresh or after it.
func TestRefreshIsAtomic(t *testing.T) {
	// No checkLocks: this test shows a freeze itself, with any mutex; the
	// other tests report what go-deadlock sees.
	clock := newClock()
	s := New(ttl, clock, tokens())
	old := create(t, s, "ada") // tok-1, expires at t0+ttl
	const next = "tok-2"       // the next token newToken returns
	now := t0.Add(10 * time.Minute)
	clock.set(now)
	before := Session{User: "ada", Expires: t0.Add(ttl)}
	after := Session{User: "ada", Expires: now.Add(ttl)}

	const maxLooks = 4
	var refresher atomic.Int64 // the goroutine of the Refresh call
	var looked atomic.Int32
	looks := make(chan *call, maxLooks)
	seen := make([]observation, maxLooks)
	clock.onNow = func() {
		if int64(goid()) != refresher.Load() {
			return // a Lookup of the test's, asking the time
		}
		i := int(looked.Add(1)) - 1
		if i >= maxLooks {
			return
		}
		o := &seen[i]
		look := start(fmt.Sprintf("Lookup(%q) then Lookup(%q)", old, next), func() {
			o.old, o.oldErr = s.Lookup(old)
			o.new, o.newErr = s.Lookup(next)
		})
		looks <- look
		waitParked(look)
	}

	gate := make(chan struct{})
	var got string
	var err error
	r := startAt(gate, fmt.Sprintf("Refresh(%q)", old), func() { got, err = s.Refresh(old) })
	refresher.Store(int64(r.id))
	close(gate)
	returns(t, r)
	close(looks) // the Refresh call, which sends, has returned
	var ls []*call
	for l := range looks {
		ls = append(ls, l)
	}
	returns(t, ls...)

	if err != nil || got != next {
		t.Fatalf("Refresh(%q) = %q, %v; want %q, nil", old, got, err, next)
	}
	for i := range ls {
		o := seen[i]
		switch {
		case o.oldErr == nil && o.old == before && errors.Is(o.newErr, ErrNoSession):
		case errors.Is(o.oldErr, ErrNoSession) && o.newErr == nil && o.new == after:
		default:
			t.Errorf("while Refresh(%q) ran, another goroutine saw Lookup(%q) = %+v, %v and Lookup(%q) = %+v, %v; "+
				"want the session before Refresh (%q alive until %v, %q unknown) or after it (%q gone, %q alive until %v): "+
				"Refresh is one step, and no call may see the new token before its expiry is extended",
				old, old, o.old, o.oldErr, next, o.new, o.newErr,
				old, before.Expires.Format(time.TimeOnly), next, old, next, after.Expires.Format(time.TimeOnly))
		}
	}
}

// TestConcurrentUse uses the store from several goroutines at once:
// touching one session, looking sessions up, refreshing another again and
// again, and starting and ending sessions.
func TestConcurrentUse(t *testing.T) {
	checkLocks(t)
	const rounds = 50
	clock := newClock()
	s := New(ttl, clock, tokens())
	ada, bob := s.Create("ada"), s.Create("bob") // tok-1, tok-2: no other goroutine knows s yet

	var calls []*call
	fails := make([]string, 6)
	for w := range 2 {
		calls = append(calls, start(fmt.Sprintf("a loop of Touch(%q)", ada), func() {
			for range rounds {
				if err := s.Touch(ada); err != nil {
					fails[w] = fmt.Sprintf("Touch(%q) = %v; want nil", ada, err)
					return
				}
			}
		}))
	}
	calls = append(calls, start(fmt.Sprintf("a loop of Lookup(%q)", ada), func() {
		for range rounds {
			if sess, err := s.Lookup(ada); err != nil || sess.User != "ada" {
				fails[2] = fmt.Sprintf("Lookup(%q) = %+v, %v; want ada's session", ada, sess, err)
				return
			}
		}
	}))
	final := make(chan string, 1)
	calls = append(calls, start(fmt.Sprintf("a loop of Refresh, from %q", bob), func() {
		token := bob
		for range rounds {
			next, err := s.Refresh(token)
			if err != nil {
				fails[3] = fmt.Sprintf("Refresh(%q) = %q, %v; want a new token, nil", token, next, err)
				return
			}
			token = next
		}
		final <- token
	}))
	for w := range 2 {
		calls = append(calls, start("a loop of Create, Lookup and End", func() {
			for i := range rounds {
				user := fmt.Sprintf("user-%d-%d", w, i)
				token := s.Create(user)
				if sess, err := s.Lookup(token); err != nil || sess.User != user {
					fails[4+w] = fmt.Sprintf("Lookup(%q) = %+v, %v; want the session of %s just created", token, sess, err, user)
					return
				}
				s.End(token)
			}
		}))
	}
	returns(t, calls...)
	for _, f := range fails {
		if f != "" {
			t.Errorf("while other goroutines used the store: %s", f)
		}
	}
	select {
	case token := <-final:
		wantSession(t, s, token, "bob", t0.Add(ttl))
		wantNoSession(t, s, bob)
	default:
	}
	wantSession(t, s, ada, "ada", t0.Add(ttl))
}
