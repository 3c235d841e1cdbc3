// Package watchdog holds a mutex across a sleep, which hangs a synctest
// bubble: a goroutine waiting on a mutex is not durably blocked, so fake
// time cannot move on.
package watchdog

import (
	"sync"
	"time"
)

// Cache refreshes a value under a lock.
type Cache struct {
	mu sync.Mutex // protects v
	v  int
}

// Refresh holds the lock while it waits for the slow source.
func (c *Cache) Refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	time.Sleep(time.Second)
	c.v++
}

// Get reads the value.
func (c *Cache) Get() int {
	c.mu.Lock() // want "deadlock"
	defer c.mu.Unlock()
	return c.v
}
