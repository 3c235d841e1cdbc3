// Package configstore holds configuration values read by many goroutines.
//
// Tu et al., blocking, RWMutex: a read-locked method calls another that
// read-locks again. It works until a writer waits between the two RLocks:
// then reader, writer and reader wait for each other (read-write-read).
// The tests never write concurrently, so no run hangs.
package configstore

import "sync"

// A Store maps keys to values.
type Store struct {
	mu     sync.RWMutex // protects values
	values map[string]string
}

// New returns a store holding values.
func New(values map[string]string) *Store {
	return &Store{values: values}
}

// Get returns key's value.
func (s *Store) Get(key string) (string, bool) {
	s.mu.RLock() // want "deadlock: recursive read lock"
	defer s.mu.RUnlock()
	v, ok := s.values[key]
	return v, ok
}

// GetOr returns key's value, or the value of fallback when key is unset.
func (s *Store) GetOr(key, fallback string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	v, _ := s.Get(fallback)
	return v
}

// Set sets key to value.
func (s *Store) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[key] = value
}
