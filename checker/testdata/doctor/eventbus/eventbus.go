// Package eventbus dispatches events to a handler in order.
//
// Tu et al., blocking, channel with a mutex: Close holds the lock while it
// waits for the dispatcher, which needs the lock to finish.
package eventbus

import "sync"

// A Bus hands events to a handler in a goroutine of its own.
type Bus struct {
	mu      sync.Mutex // protects handled and closed
	handled int
	closed  bool
	events  chan string
	done    chan struct{}
}

// New starts a bus that calls handle with each event.
func New(handle func(string)) *Bus {
	b := &Bus{events: make(chan string, 16), done: make(chan struct{})}
	go func() {
		for e := range b.events {
			handle(e)
			b.mu.Lock()
			b.handled++
			b.mu.Unlock()
		}
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.done)
	}()
	return b
}

// Publish queues an event.
func (b *Bus) Publish(e string) { b.events <- e }

// Close waits for queued events and returns how many were handled.
func (b *Bus) Close() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.events)
	<-b.done // want "deadlock: receive while holding a lock"
	return b.handled
}
