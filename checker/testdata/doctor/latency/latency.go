// Package latency counts requests per route.
//
// Chabbi and Ramanathan, a mutex passed by value: Observe has a value
// receiver, so every call locks its own copy of mu, and the map they
// share is not protected at all.
package latency

import "sync"

// A Recorder counts observations per route.
type Recorder struct {
	mu      sync.Mutex // protects counts
	counts  map[string]int
	enabled bool
}

// New returns an enabled recorder.
func New() *Recorder { return &Recorder{counts: map[string]int{}, enabled: true} }

// Observe counts one request to route.
func (r Recorder) Observe(route string) {
	if !r.enabled {
		return
	}
	r.mu.Lock()
	r.counts[route]++ // want "race"
	r.mu.Unlock()
}

// Count returns route's count.
func (r *Recorder) Count(route string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[route]
}
