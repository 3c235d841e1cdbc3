// Package barrier lets n goroutines wait for each other.
//
// Tu et al., blocking, Cond: the last goroutine to arrive Signals, which
// wakes one waiter; the others wait forever (Broadcast was needed).
package barrier

import "sync"

// A Barrier releases its goroutines when n have arrived.
type Barrier struct {
	mu      sync.Mutex // protects arrived
	cond    *sync.Cond
	n       int
	arrived int
}

// New returns a barrier for n goroutines.
func New(n int) *Barrier {
	b := &Barrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Await blocks until n goroutines have called it.
func (b *Barrier) Await() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arrived++
	if b.arrived == b.n {
		b.cond.Signal()
		return
	}
	for b.arrived < b.n {
		b.cond.Wait() // want "deadlock: Cond lost wake-up"
	}
}
