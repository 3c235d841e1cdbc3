// Package timeoutdeadlock sends on a channel while holding a lock.
package timeoutdeadlock

import "sync"

// Hub publishes events to one subscriber channel.
type Hub struct {
	mu   sync.Mutex // protects n
	n    int
	Subs chan int
}

// Publish counts the event and hands it to the subscriber, under the lock.
func (h *Hub) Publish(v int) {
	h.mu.Lock() // want "deadlock"
	defer h.mu.Unlock()
	h.n++
	h.Subs <- v // want "deadlock"
}
