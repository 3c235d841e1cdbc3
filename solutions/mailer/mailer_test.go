package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run Send in testing/synctest bubbles, where time is fake:
// opening a session, sending a message and saying goodbye take fake time,
// so a session still saying goodbye when Send returns is, on every run,
// still saying goodbye.
const (
	dialDelay = 10 * time.Millisecond  // opening a session
	sendDelay = 100 * time.Millisecond // handing over one message
	cancelLag = 7 * time.Millisecond   // a Send noticing that its ctx is done
)

var newsletter = Message{Subject: "Our spring catalog", Body: "Spring is here, and so are our new kites."}

// A server is a fake mail server.
type server struct {
	quitDelay time.Duration    // the round trip of QUIT: how long Close takes
	reject    map[string]error // recipients the server refuses
	dialErr   map[int]error    // the n-th Dial (from 1) fails with this error

	mu       sync.Mutex // protects the fields below; never held across a wait; never taken by Close
	dials    int        // calls of Dial
	sessions []*session // every session opened, in order
	sending  int        // Sends in progress
	peak     int        // the most Sends in progress at once
}

func (srv *server) Dial(ctx context.Context) (Session, error) {
	srv.mu.Lock()
	srv.dials++
	n := srv.dials
	srv.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	time.Sleep(dialDelay)
	if err := srv.dialErr[n]; err != nil {
		return nil, err
	}
	s := &session{srv: srv}
	srv.mu.Lock()
	srv.sessions = append(srv.sessions, s)
	srv.mu.Unlock()
	return s, nil
}

// A session is one Session of a server. Its fields are written, without a
// lock, by whichever goroutine uses the session, and read by the test once
// Send has returned, when by Send's contract nothing uses the session any
// more. Close touches nothing else, so the test adds no happens-before
// edge that could hide a Close still running after Send returned.
type session struct {
	srv    *server
	sent   []string // recipients the server accepted, in order
	misuse []string // calls made on a closed session
	closes int      // calls of Close
	bye    bool     // the server has answered QUIT: the session is over
	site   string   // where the goroutine that sent over the session was started
}

func (s *session) Send(ctx context.Context, to string, msg Message) error {
	if s.site == "" {
		s.site = goroutineSite()
	}
	if s.closes > 0 {
		s.misuse = append(s.misuse, "Send("+to+")")
		return errors.New("send on a closed session")
	}
	s.srv.mu.Lock()
	s.srv.sending++
	s.srv.peak = max(s.srv.peak, s.srv.sending)
	s.srv.mu.Unlock()
	defer func() {
		s.srv.mu.Lock()
		s.srv.sending--
		s.srv.mu.Unlock()
	}()

	select {
	case <-time.After(sendDelay):
	case <-ctx.Done():
		time.Sleep(cancelLag)
		return ctx.Err()
	}
	if err := s.srv.reject[to]; err != nil {
		return err
	}
	s.sent = append(s.sent, to)
	return nil
}

func (s *session) Close() error {
	s.closes++
	if s.closes > 1 {
		s.misuse = append(s.misuse, "Close")
		return errors.New("session already closed")
	}
	time.Sleep(s.srv.quitDelay) // QUIT, then wait for "221 Bye"
	s.bye = true
	return nil
}

// recipients returns n addresses, some sharing a prefix.
func recipients(n int) []string {
	names := []string{"ann", "anna", "bob", "bo", "carla", "carl", "dev", "eve", "eva", "fin", "finn", "gus"}
	to := make([]string, n)
	for i := range to {
		to[i] = fmt.Sprintf("%s%d@example.com", names[i%len(names)], i/len(names))
	}
	return to
}

// A sending is what one call of Send did.
type sending struct {
	err      error
	sessions []*session // opened, in order
	open     int        // sessions not yet closed when Send returned
}

// runSend calls Send, notes which sessions were still open when it
// returned, then lets fake time run so that whatever Send left running can
// end.
func runSend(ctx context.Context, srv *server, sessions int, to []string) sending {
	m := &Mailer{Dial: srv.Dial, Sessions: sessions}
	err := m.Send(ctx, newsletter, to)
	srv.mu.Lock()
	r := sending{err: err, sessions: slices.Clone(srv.sessions)}
	srv.mu.Unlock()
	for _, s := range r.sessions {
		if !s.bye {
			r.open++
		}
	}
	time.Sleep(time.Hour) // in a bubble: returns once every other goroutine is blocked or gone
	return r
}

// checkClosed fails t, and returns false, unless every session Send opened
// was closed, once, before Send returned, and never used after.
func checkClosed(t *testing.T, r sending) bool {
	t.Helper()
	if r.open > 0 {
		site := ""
		for _, s := range r.sessions {
			site = cmp.Or(site, s.site)
		}
		t.Errorf("leak: Send returned while %d of the %d sessions it opened were still open, their Close not yet ended (sessions used by goroutines started at %s); "+
			"Send must return only once every session it opened has said goodbye (Python: join() returns only after the thread's with-block has exited)",
			r.open, len(r.sessions), cmp.Or(site, "an unknown place"))
		return false
	}
	ok := true
	for i, s := range r.sessions {
		if s.closes != 1 || len(s.misuse) > 0 {
			t.Errorf("session %d was closed %d times and then used for %q; want it closed exactly once, after its last Send", i+1, s.closes, s.misuse)
			ok = false
		}
	}
	return ok
}

// checkDelivered fails t unless the server accepted the message exactly
// once for each recipient in want, and for nobody else.
func checkDelivered(t *testing.T, r sending, want []string) {
	t.Helper()
	var got []string
	for _, s := range r.sessions {
		got = append(got, s.sent...)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("the server accepted the message for %q; want exactly once for each of %q", got, want)
	}
}

// checkOverlap fails t unless want sessions sent at the same time.
func checkOverlap(t *testing.T, srv *server, want int) {
	t.Helper()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if want > 1 && srv.peak < want {
		t.Errorf("serialized: at most %d of the %d sessions were sending at the same time; Send must use all of its sessions at once, one goroutine each", srv.peak, want)
	}
}

func TestSendDeliversEveryMessage(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		srv := &server{quitDelay: 200 * time.Millisecond}
		to := recipients(10)
		r := runSend(context.Background(), srv, 3, to)
		if !checkClosed(t, r) {
			return
		}
		if r.err != nil {
			t.Errorf("Send returned error %v; want none", r.err)
		}
		if len(r.sessions) != 3 {
			t.Errorf("Send opened %d sessions; want 3 (Mailer.Sessions)", len(r.sessions))
		}
		checkDelivered(t, r, to)
		checkOverlap(t, srv, 3)
	})
}

func TestSendSessionCounts(t *testing.T) {
	for _, tt := range []struct{ sessions, recipients, want int }{
		{1, 4, 1},
		{2, 5, 2},
		{5, 12, 5},
		{8, 3, 3}, // more sessions than recipients: one each
	} {
		t.Run(fmt.Sprintf("%d sessions %d recipients", tt.sessions, tt.recipients), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				srv := &server{quitDelay: 50 * time.Millisecond}
				to := recipients(tt.recipients)
				r := runSend(context.Background(), srv, tt.sessions, to)
				if !checkClosed(t, r) {
					return
				}
				if r.err != nil {
					t.Errorf("Send returned error %v; want none", r.err)
				}
				if len(r.sessions) != tt.want {
					t.Errorf("Send opened %d sessions; want %d", len(r.sessions), tt.want)
				}
				checkDelivered(t, r, to)
				checkOverlap(t, srv, tt.want)
			})
		})
	}
}

func TestSendNoRecipients(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		srv := &server{quitDelay: 50 * time.Millisecond}
		r := runSend(context.Background(), srv, 3, nil)
		if r.err != nil || len(r.sessions) != 0 {
			t.Errorf("Send to nobody opened %d sessions and returned %v; want no session and no error", len(r.sessions), r.err)
		}
	})
}

// A slow server takes seconds to answer QUIT: a Send that gives its
// sessions a fixed time to close, instead of waiting for them, is caught
// here.
func TestSendSlowGoodbye(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		srv := &server{quitDelay: 5 * time.Second}
		to := recipients(6)
		r := runSend(context.Background(), srv, 2, to)
		if !checkClosed(t, r) {
			return
		}
		if r.err != nil {
			t.Errorf("Send returned error %v; want none", r.err)
		}
		checkDelivered(t, r, to)
	})
}

func TestSendRefused(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errNoMailbox := errors.New("550 no such mailbox")
		errFull := errors.New("552 mailbox full")
		to := recipients(9)
		srv := &server{quitDelay: 100 * time.Millisecond, reject: map[string]error{to[1]: errNoMailbox, to[7]: errFull}}
		r := runSend(context.Background(), srv, 3, to)
		if !checkClosed(t, r) {
			return
		}
		for _, want := range []struct {
			err error
			to  string
		}{{errNoMailbox, to[1]}, {errFull, to[7]}} {
			if !errors.Is(r.err, want.err) {
				t.Errorf("Send returned error %v; want one that wraps %q, the server's answer for %s", r.err, want.err, want.to)
			} else if !strings.Contains(r.err.Error(), want.to) {
				t.Errorf("Send returned error %q; want it to name %s", r.err, want.to)
			}
		}
		checkDelivered(t, r, slices.Concat(to[:1], to[2:7], to[8:]))
		checkOverlap(t, srv, 3)
	})
}

func TestSendDialFails(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		errBusy := errors.New("421 too many connections")
		to := recipients(9) // three sessions, three recipients each
		srv := &server{quitDelay: 100 * time.Millisecond, dialErr: map[int]error{2: errBusy}}
		r := runSend(context.Background(), srv, 3, to)
		if !checkClosed(t, r) {
			return
		}
		if !errors.Is(r.err, errBusy) {
			t.Errorf("Send returned error %v; want one that wraps %q, the error of the session that could not be opened", r.err, errBusy)
		}
		if len(r.sessions) != 2 {
			t.Errorf("Send opened %d sessions; want 2: one of its three Dials fails", len(r.sessions))
		}
		// Whichever session could not be opened, its three recipients get
		// no message and are named in the error; the others get theirs.
		accepted := map[string]bool{}
		for _, s := range r.sessions {
			for _, addr := range s.sent {
				accepted[addr] = true
			}
		}
		var delivered, failed []string
		for _, addr := range to {
			if accepted[addr] {
				delivered = append(delivered, addr)
				continue
			}
			failed = append(failed, addr)
			if r.err != nil && !strings.Contains(r.err.Error(), addr) {
				t.Errorf("Send returned error %q; want it to name %s, a recipient of the session that could not be opened", r.err, addr)
			}
		}
		if len(failed) != 3 {
			t.Errorf("%d recipients got no message (%q); want 3, those of the session that could not be opened", len(failed), failed)
		}
		checkDelivered(t, r, delivered)
		checkOverlap(t, srv, 2)
	})
}

func TestSendCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Every session is open by 3*dialDelay and has sent one message by
		// 3*dialDelay+sendDelay: cancel during the second round of sends.
		time.AfterFunc(3*dialDelay+sendDelay+sendDelay/2, cancel)
		srv := &server{quitDelay: 100 * time.Millisecond}
		r := runSend(ctx, srv, 3, recipients(12))
		if !checkClosed(t, r) {
			return
		}
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Send with its ctx cancelled while sending returned error %v; want one that wraps context.Canceled", r.err)
		}
	})
}

func TestSendCancelledBefore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv := &server{quitDelay: 100 * time.Millisecond}
		r := runSend(ctx, srv, 3, recipients(6))
		if !checkClosed(t, r) {
			return
		}
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Send with a cancelled ctx returned error %v; want one that wraps context.Canceled", r.err)
		}
		checkDelivered(t, r, nil)
	})
}

// goroutineSite says where, in the lab's own code (not its tests), the
// calling goroutine was started, such as "mailer.go:62"; or, when it was
// started elsewhere (by a sync.WaitGroup), the line of that code it is
// running; or "" when neither is in the lab's code.
func goroutineSite() string {
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self)
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	var running string
	lines := strings.Split(string(buf), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "\t") || i == 0 {
			continue
		}
		loc, _, _ := strings.Cut(strings.TrimSpace(l), " +0x")
		file, line, ok := strings.Cut(loc, ".go:")
		file += ".go"
		if !ok || filepath.Dir(file) != dir || strings.HasSuffix(file, "_test.go") {
			continue
		}
		site := filepath.Base(file) + ":" + line
		if strings.HasPrefix(lines[i-1], "created by ") {
			return site
		}
		if running == "" {
			running = site
		}
	}
	return running
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
