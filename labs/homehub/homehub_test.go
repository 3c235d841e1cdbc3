package homehub

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

var (
	doorLocked   = Event{"front-door", "locked"}
	doorUnlocked = Event{"front-door", "unlocked"}
	washerDone   = Event{"washer", "done"}
	motion       = Event{"hall-motion", "motion"}
)

// reading is the i-th of a stream of thermostat readings, each unlike the
// others.
func reading(i int) Event { return Event{"thermostat", fmt.Sprintf("%d.%dC", 18+i/10, i%10)} }

// readings returns the readings from i to j, j excluded.
func readings(i, j int) []Event {
	var evs []Event
	for k := i; k < j; k++ {
		evs = append(evs, reading(k))
	}
	return evs
}

// A recorder is a handler that keeps the events it is called with.
type recorder struct {
	name string // "the event logger"

	mu     sync.Mutex // protects events
	events []Event
}

func (r *recorder) handle(ev Event) {
	nameGoroutine(r.name + "'s handler")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) got() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// The calls into the hub, each under the tests' bound.

func subscribe(t *testing.T, h *Hub, who string, handle Handler) int {
	t.Helper()
	var id int
	returns(t, start(fmt.Sprintf("Subscribe(%s)", who), func() { id = h.Subscribe(handle) }))
	return id
}

func unsubscribe(t *testing.T, h *Hub, id int) {
	t.Helper()
	returns(t, start(fmt.Sprintf("Unsubscribe(%d)", id), func() { h.Unsubscribe(id) }))
}

func publish(t *testing.T, h *Hub, ev Event) {
	t.Helper()
	returns(t, start(fmt.Sprintf("Publish(%s=%s)", ev.Device, ev.State), func() { h.Publish(ev) }))
}

// closeHub closes h once its handlers have nothing left to do: the hub
// must not be used during Close, and a handler may call Subscribe.
func closeHub(t *testing.T, h *Hub) {
	t.Helper()
	settle()
	returns(t, start("Close()", h.Close))
}

// publishAll publishes evs one after another on a goroutine of its own,
// counting in started the calls of Publish begun.
func publishAll(h *Hub, evs []Event, started *atomic.Int64) *call {
	name := fmt.Sprintf("Publish of %d thermostat readings", len(evs))
	return start(name, func() {
		for _, ev := range evs {
			started.Add(1)
			h.Publish(ev)
		}
	})
}

// wantEvents fails t unless who got want.
func wantEvents(t *testing.T, who string, got, want []Event) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s got %d events %v; want %d events %v, each once and in the order published", who, len(got), got, len(want), want)
	}
}

// wantLeftAfter fails t unless the events a handler got after it (or its
// subscription) was unsubscribed are readings published before Unsubscribe
// returned (those whose Publish had begun by then), in order: an event
// being handed over while Unsubscribe runs may reach the handler or not,
// but nothing published later may.
func wantLeftAfter(t *testing.T, who string, tail []Event, begun int) {
	t.Helper()
	next := 0 // the first reading tail may still hold
	for _, ev := range tail {
		i := slices.Index(readings(0, begun), ev)
		if i < next {
			t.Errorf("after its Unsubscribe, %s got %v; want only readings whose Publish had begun by the time Unsubscribe returned (0 to %d), each once and in order", who, tail, begun-1)
			return
		}
		next = i + 1
	}
}

// wantOwnGoroutine stops t if a handler ran on the goroutine of a call
// into the hub.
func wantOwnGoroutine(t *testing.T, inline *atomic.Bool) {
	t.Helper()
	if inline.Load() {
		t.Fatalf("serialized: a handler ran on the goroutine that called Publish, which waited for it to return; want each subscription's handler on a goroutine of its own, so that handlers run at the same time and Publish waits only for each to take the event")
	}
}

func TestPublish(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	var h Hub // the zero value is ready to use
	publish(t, &h, motion)

	logger := &recorder{name: "the event logger"}
	lights := &recorder{name: "the hall lights"}
	idLogger := subscribe(t, &h, logger.name, logger.handle)
	idLights := subscribe(t, &h, lights.name, lights.handle)
	if idLogger == 0 || idLights == 0 || idLogger == idLights {
		t.Fatalf("Subscribe returned ids %d and %d; want two different ids, neither 0", idLogger, idLights)
	}

	first := []Event{doorUnlocked, motion, reading(0)}
	for _, ev := range first {
		publish(t, &h, ev)
	}
	unsubscribe(t, &h, idLights)
	unsubscribe(t, &h, idLights)          // again: nothing to do
	unsubscribe(t, &h, idLogger+idLights) // no such subscription
	then := []Event{reading(1), doorLocked}
	for _, ev := range then {
		publish(t, &h, ev)
	}
	closeHub(t, &h)

	wantEvents(t, logger.name, logger.got(), append(slices.Clone(first), then...))
	wantEvents(t, lights.name+" (unsubscribed after the first three)", lights.got(), first)
	goleak.VerifyNone(t, leaks)
}

// TestCloseWaitsForHandlers closes a hub while a handler is busy.
func TestCloseWaitsForHandlers(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	var h Hub
	gate := make(chan struct{})
	var handled atomic.Int32
	subscribe(t, &h, "the washer automation", func(ev Event) {
		nameGoroutine("the washer automation's handler")
		if !isCall() {
			<-gate
		}
		handled.Add(1)
	})
	publish(t, &h, washerDone)

	c := start("Close()", h.Close)
	if parkedOrReturned(c) && handled.Load() == 0 {
		t.Errorf("Close returned while a handler was still busy with %v; want Close to wait until every handler has returned", washerDone)
	}
	close(gate)
	returns(t, c)
	goleak.VerifyNone(t, leaks)
}

// TestHandlersRunAtOnce publishes an event to n subscriptions whose
// handlers each wait until all n are running at once.
func TestHandlersRunAtOnce(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		var h Hub
		m := newMeeting(n)
		var inline atomic.Bool
		for i := range n {
			name := fmt.Sprintf("light %d", i+1)
			subscribe(t, &h, name, func(ev Event) {
				nameGoroutine(name + "'s handler")
				if isCall() {
					inline.Store(true) // on the publisher's goroutine: it cannot wait
					return
				}
				m.arrive()
			})
		}
		publish(t, &h, motion)
		closeHub(t, &h)
		wantOwnGoroutine(t, &inline)
		if most := m.result(); most < n {
			t.Fatalf("serialized: of %d handlers given the same event, at most %d ran at a time; want all %d at once: each subscription's handler runs on a goroutine of its own, and Publish does not wait for handlers to finish, only for them to take the event", n, most, n)
		}
	}
}

// TestPublishWaitsForHandlers publishes an event while a handler is still
// busy with the previous one.
func TestPublishWaitsForHandlers(t *testing.T) {
	var h Hub
	gate := make(chan struct{})
	slow := &recorder{name: "the washer automation"}
	logger := &recorder{name: "the event logger"}
	var inline atomic.Bool
	subscribe(t, &h, slow.name, func(ev Event) {
		slow.handle(ev)
		if ev != washerDone {
			return
		}
		if isCall() {
			inline.Store(true)
			return
		}
		<-gate
	})
	subscribe(t, &h, logger.name, logger.handle)
	publish(t, &h, washerDone)
	wantOwnGoroutine(t, &inline)

	p := start("Publish(front-door=locked)", func() { h.Publish(doorLocked) })
	if parkedOrReturned(p) {
		t.Errorf("Publish(%v) returned while %s's handler was still busy with %v; want Publish to wait until every subscription has taken the event: the hub keeps no queue, not even a channel's buffer, so that a slow handler holds up the device instead of letting events pile up", doorLocked, slow.name, washerDone)
	}
	close(gate)
	returns(t, p)
	closeHub(t, &h)
	wantEvents(t, slow.name, slow.got(), []Event{washerDone, doorLocked})
	wantEvents(t, logger.name, logger.got(), []Event{washerDone, doorLocked})
}

// The tests below have handlers call back into the hub while Publish waits
// for them. The readings published meanwhile are more than any queue a hub
// might keep: a channel buffer only delays the moment Publish waits.
const many = 40

// TestHandlerUnsubscribesItself runs a one-shot automation: when the washer
// is done, it notifies once and unsubscribes itself, while the thermostat
// keeps publishing.
func TestHandlerUnsubscribesItself(t *testing.T) {
	var h Hub
	gate := make(chan struct{})
	var started atomic.Int64 // readings whose Publish has begun
	var self atomic.Int64    // the washer automation's id
	var begun atomic.Int64   // readings begun when Unsubscribe returned
	var unsubscribed atomic.Bool
	var inline atomic.Bool
	washer := &recorder{name: "the washer automation"}
	logger := &recorder{name: "the event logger"}
	self.Store(int64(subscribe(t, &h, washer.name, func(ev Event) {
		washer.handle(ev)
		if ev != washerDone {
			return
		}
		if isCall() {
			inline.Store(true)
			return
		}
		<-gate // busy notifying, while the readings come in
		h.Unsubscribe(int(self.Load()))
		begun.Store(started.Load())
		unsubscribed.Store(true)
	})))
	subscribe(t, &h, logger.name, logger.handle)
	publish(t, &h, washerDone)
	wantOwnGoroutine(t, &inline)

	p := publishAll(&h, readings(0, many), &started)
	parkedOrReturned(p) // the hub waits for the washer automation
	close(gate)
	returns(t, p)
	closeHub(t, &h)

	wantEvents(t, logger.name, logger.got(), append([]Event{washerDone}, readings(0, many)...))
	got := washer.got()
	if !unsubscribed.Load() || len(got) == 0 || got[0] != washerDone {
		t.Fatalf("%s got %v and its Unsubscribe returned: %v; want %v first, then Unsubscribe to return", washer.name, got, unsubscribed.Load(), washerDone)
	}
	wantLeftAfter(t, washer.name, got[1:], int(begun.Load()))
}

// TestHandlerSubscribes runs a night-mode automation: when the front door
// is locked, it subscribes the motion alarm, while the thermostat keeps
// publishing.
func TestHandlerSubscribes(t *testing.T) {
	var h Hub
	gate := make(chan struct{})
	var started atomic.Int64 // readings whose Publish has begun
	var begun atomic.Int64   // readings begun when Subscribe returned
	var alarmID atomic.Int64
	var inline atomic.Bool
	alarm := &recorder{name: "the motion alarm"}
	night := &recorder{name: "the night-mode automation"}
	subscribe(t, &h, night.name, func(ev Event) {
		night.handle(ev)
		if ev != doorLocked {
			return
		}
		if isCall() {
			inline.Store(true)
			return
		}
		<-gate // the readings come in meanwhile
		alarmID.Store(int64(h.Subscribe(alarm.handle)))
		begun.Store(started.Load())
	})
	publish(t, &h, doorLocked)
	wantOwnGoroutine(t, &inline)

	p := publishAll(&h, readings(0, many), &started)
	parkedOrReturned(p) // the hub waits for the night-mode automation
	close(gate)
	returns(t, p)
	closeHub(t, &h)

	wantEvents(t, night.name, night.got(), append([]Event{doorLocked}, readings(0, many)...))
	if alarmID.Load() == 0 {
		t.Fatalf("Subscribe, called by a handler, returned id 0; want an id that is never 0")
	}
	// The alarm gets every reading published after its Subscribe returned,
	// and may get the one being published then.
	got, b := alarm.got(), int(begun.Load())
	if !slices.Equal(got, readings(b, many)) && !slices.Equal(got, readings(b-1, many)) {
		t.Errorf("%s, subscribed by a handler while readings %d on were published, got %v; want every reading from %d on (and %d, if it was being published when Subscribe returned)", alarm.name, b-1, got, b, b-1)
	}
}

// TestHandlerUnsubscribesAnother runs the night-mode automation again: when
// the front door is unlocked, it unsubscribes the motion alarm, while the
// thermostat keeps publishing.
func TestHandlerUnsubscribesAnother(t *testing.T) {
	var h Hub
	gate := make(chan struct{})
	var started atomic.Int64 // readings whose Publish has begun
	var begun atomic.Int64   // readings begun when Unsubscribe returned
	var alarmID atomic.Int64
	var inline atomic.Bool
	alarm := &recorder{name: "the motion alarm"}
	night := &recorder{name: "the night-mode automation"}
	subscribe(t, &h, night.name, func(ev Event) {
		night.handle(ev)
		if ev != doorUnlocked {
			return
		}
		if isCall() {
			inline.Store(true)
			return
		}
		<-gate // the readings come in meanwhile
		h.Unsubscribe(int(alarmID.Load()))
		begun.Store(started.Load())
	})
	alarmID.Store(int64(subscribe(t, &h, alarm.name, alarm.handle)))
	publish(t, &h, doorUnlocked)
	wantOwnGoroutine(t, &inline)

	p := publishAll(&h, readings(0, many), &started)
	parkedOrReturned(p) // the hub waits for the night-mode automation
	close(gate)
	returns(t, p)
	closeHub(t, &h)

	wantEvents(t, night.name, night.got(), append([]Event{doorUnlocked}, readings(0, many)...))
	got := alarm.got()
	if len(got) == 0 || got[0] != doorUnlocked {
		t.Fatalf("%s got %v; want %v first", alarm.name, got, doorUnlocked)
	}
	wantLeftAfter(t, alarm.name, got[1:], int(begun.Load()))
}

// TestConcurrentUse publishes from several goroutines at once to handlers
// that keep subscribing and unsubscribing another handler.
func TestConcurrentUse(t *testing.T) {
	const publishers, each = 3, 20
	var h Hub
	loggers := []*recorder{{name: "the event logger"}, {name: "the energy meter"}}
	for _, l := range loggers {
		subscribe(t, &h, l.name, l.handle)
	}
	extra := &recorder{name: "the extra light"}
	var extraID atomic.Int64 // read and written by the toggle's handler only
	subscribe(t, &h, "the toggle", func(ev Event) {
		nameGoroutine("the toggle's handler")
		if isCall() {
			return
		}
		if id := extraID.Load(); id != 0 {
			h.Unsubscribe(int(id))
			extraID.Store(0)
		} else {
			extraID.Store(int64(h.Subscribe(extra.handle)))
		}
	})

	var ps []*call
	for p := range publishers {
		ps = append(ps, start(fmt.Sprintf("Publish of %d events by device %d", each, p), func() {
			for i := range each {
				h.Publish(Event{fmt.Sprintf("device-%d", p), fmt.Sprint(i)})
			}
		}))
	}
	returns(t, ps...)
	closeHub(t, &h)

	for _, l := range loggers {
		got := l.got()
		for p := range publishers {
			var mine []string
			for _, ev := range got {
				if ev.Device == fmt.Sprintf("device-%d", p) {
					mine = append(mine, ev.State)
				}
			}
			var want []string
			for i := range each {
				want = append(want, fmt.Sprint(i))
			}
			if !slices.Equal(mine, want) {
				t.Errorf("%s got device-%d's events %v; want %v, each once and in the order published", l.name, p, mine, want)
			}
		}
	}
}
