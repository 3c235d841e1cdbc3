// Package pubsub delivers messages to subscribers.
//
// Tu et al., blocking, channel with a mutex: the publisher holds the lock
// while it sends, and a subscriber needs the lock before it can receive
// the next message.
package pubsub

import "sync"

// A Broker fans messages out to subscribers.
type Broker struct {
	mu   sync.Mutex // protects subs and sent
	subs []chan string
	sent int
}

// Subscribe calls handle with every message, in a goroutine of its own.
func (b *Broker) Subscribe(handle func(string)) {
	ch := make(chan string)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	go func() {
		for m := range ch {
			handle(m)
		}
	}()
}

// PublishAll delivers msgs to every subscriber, in order.
func (b *Broker) PublishAll(msgs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		for _, ch := range b.subs {
			ch <- m // want "deadlock: send while holding a lock"
		}
		b.sent++
	}
}

// Sent returns how many messages have been published.
func (b *Broker) Sent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}
