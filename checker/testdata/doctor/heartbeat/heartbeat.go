// Package heartbeat checks that a peer is alive.
//
// Saioc et al., "Start without Stop": the background loop has no way to
// end, so every Monitor leaks its goroutine.
package heartbeat

import (
	"sync"
	"time"
)

// A Monitor pings a peer and remembers when it last answered.
type Monitor struct {
	ping func() error
	mu   sync.Mutex // protects last
	last time.Time
}

// New returns a monitor using ping.
func New(ping func() error) *Monitor { return &Monitor{ping: ping} }

// Start pings the peer every interval, in the background.
func (m *Monitor) Start(interval time.Duration) {
	go func() {
		for range time.Tick(interval) { // want "leak"
			if m.ping() == nil {
				m.mu.Lock()
				m.last = time.Now()
				m.mu.Unlock()
			}
		}
	}()
}

// LastSeen returns when the peer last answered.
func (m *Monitor) LastSeen() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
