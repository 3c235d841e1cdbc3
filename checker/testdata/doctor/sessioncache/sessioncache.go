// Package sessioncache keeps user sessions in memory and loads them from
// a backing store when they are missing or expired.
//
// Tu et al. (ASPLOS'19), blocking, Mutex: a method that holds the lock
// calls a helper that takes it again (double lock).
package sessioncache

import (
	"sync"
	"time"
)

// A Session is a logged-in user's state.
type Session struct {
	User    string
	Expires time.Time
}

// Cache maps session ids to sessions.
type Cache struct {
	mu       sync.Mutex // protects sessions
	sessions map[string]Session
	load     func(id string) (Session, error)
}

// New returns a cache that loads missing or expired sessions with load.
func New(load func(id string) (Session, error)) *Cache {
	return &Cache{sessions: map[string]Session{}, load: load}
}

// Get returns session id, loading it when it is missing or expired.
func (c *Cache) Get(id string, now time.Time) (Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[id]
	if !ok || now.After(s.Expires) {
		return c.refresh(id)
	}
	return s, nil
}

// refresh loads a session and stores it.
func (c *Cache) refresh(id string) (Session, error) {
	s, err := c.load(id)
	if err != nil {
		return Session{}, err
	}
	c.mu.Lock() // want "deadlock: double lock"
	c.sessions[id] = s
	c.mu.Unlock()
	return s, nil
}
