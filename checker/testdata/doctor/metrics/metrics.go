// Package metrics keeps named counters.
//
// Tu et al., blocking, RWMutex: a method holding the read lock calls one
// that takes the write lock of the same RWMutex.
package metrics

import "sync"

// A Registry holds counters by name.
type Registry struct {
	mu       sync.RWMutex // protects counters
	counters map[string]int64
}

// New returns an empty registry.
func New() *Registry { return &Registry{counters: map[string]int64{}} }

// Add adds n to counter name.
func (r *Registry) Add(name string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counters[name] += n
}

// Snapshot returns a copy of the counters, and zeroes them when reset is set.
func (r *Registry) Snapshot(reset bool) map[string]int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]int64, len(r.counters))
	for k, v := range r.counters {
		out[k] = v
	}
	if reset {
		r.Reset()
	}
	return out
}

// Reset zeroes every counter.
func (r *Registry) Reset() {
	r.mu.Lock() // want "deadlock: double lock"
	defer r.mu.Unlock()
	clear(r.counters)
}
