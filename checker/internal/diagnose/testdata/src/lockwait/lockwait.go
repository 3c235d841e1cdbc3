// Package lockwait holds a lock while it waits for a slow step.
package lockwait

import (
	"time"

	"github.com/sasha-s/go-deadlock"
)

// Store guards a value with a lock.
type Store struct {
	mu deadlock.Mutex // protects v
	v  int
}

// SlowSet holds the lock across a slow step.
func (s *Store) SlowSet(v int, slow time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(slow)
	s.v = v
}

// Get reads the value.
func (s *Store) Get() int {
	s.mu.Lock() // want "deadlock"
	defer s.mu.Unlock()
	return s.v
}
