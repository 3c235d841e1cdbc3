// Package homehub is the event hub of a home-automation system: devices
// publish [Event]s to a [Hub], and automations subscribe [Handler]s that
// react to them, each subscription on a goroutine of its own.
package homehub

import (
	"maps"
	"sync"
	"sync/atomic"
)

// An Event is something a device reports.
type Event struct {
	Device string // "front-door", "hall-motion", "washer", ...
	State  string // "locked", "motion", "done", ...
}

// A Handler reacts to events. The hub calls each subscription's handler on
// a goroutine of the subscription's own, with one event at a time, in the
// order they were published; the handlers of different subscriptions run
// at the same time.
//
// A handler may call [Hub.Subscribe] and [Hub.Unsubscribe], for its own
// subscription or for another. It must not call [Hub.Publish] or
// [Hub.Close], which wait for handlers.
type Handler func(Event)

// A Hub hands every event published to every subscription. The zero value
// is a hub with no subscriptions, ready to use. Its methods may be called
// from many goroutines at once.
//
// The subscriptions are kept copy-on-write: Subscribe and Unsubscribe,
// serialized by mu, replace the whole map, and Publish reads the current
// one without any lock, so a handler that calls back into the hub while
// Publish waits for it never waits for Publish.
type Hub struct {
	mu   sync.Mutex                            // serializes writers of subs; protects last
	subs atomic.Pointer[map[int]*subscription] // by id; never modified once stored
	last int                                   // the id of the latest subscription

	handlers sync.WaitGroup // counts the subscriptions' goroutines
}

// A subscription hands events to one handler.
type subscription struct {
	events chan Event    // unbuffered: Publish hands each event over in person
	done   chan struct{} // closed by Unsubscribe
}

// current returns the current subscriptions, which must not be modified.
func (h *Hub) current() map[int]*subscription {
	if p := h.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// Subscribe adds a subscription whose handler is called with every event
// published from now on, until it is unsubscribed. It returns the
// subscription's id, which is never 0.
func (h *Hub) Subscribe(handle Handler) int {
	s := &subscription{events: make(chan Event), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last++
	next := maps.Clone(h.current())
	if next == nil {
		next = make(map[int]*subscription)
	}
	next[h.last] = s
	h.handlers.Go(func() { // exits once the subscription is unsubscribed
		for {
			select {
			case ev := <-s.events:
				handle(ev)
			case <-s.done:
				return
			}
		}
	})
	h.subs.Store(&next)
	return h.last
}

// Unsubscribe removes the subscription id, if there is one. Its handler is
// not called with events published after Unsubscribe returns; an event
// published while Unsubscribe runs may still reach it.
func (h *Hub) Unsubscribe(id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.current()
	s, ok := cur[id]
	if !ok {
		return
	}
	next := maps.Clone(cur)
	delete(next, id)
	h.subs.Store(&next)
	close(s.done)
}

// Publish hands ev to every subscription and returns once each has taken
// it. A subscription takes an event once its handler is done with the
// previous one: the hub keeps no queue, so a slow handler holds up Publish,
// and the device publishing, instead of letting events pile up in memory.
func (h *Hub) Publish(ev Event) {
	// The map loaded is never modified, so no lock is held while Publish
	// waits for a handler that may itself call Subscribe or Unsubscribe.
	for _, s := range h.current() {
		select {
		case s.events <- ev:
		case <-s.done: // unsubscribed meanwhile: it takes no more events
		}
	}
}

// Close unsubscribes every subscription and waits until every handler has
// returned. The hub must not be used during or after Close.
func (h *Hub) Close() {
	h.mu.Lock()
	cur := h.current()
	h.subs.Store(nil)
	for _, s := range cur {
		close(s.done)
	}
	h.mu.Unlock()
	h.handlers.Wait()
}
