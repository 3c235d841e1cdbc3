// Package recursive takes a read lock twice, as Python's RLock would allow.
package recursive

import "github.com/sasha-s/go-deadlock"

// Cache is a map behind a read-write lock.
type Cache struct {
	mu deadlock.RWMutex // protects m
	m  map[string]int
}

// Get reads a key.
func (c *Cache) Get(k string) int {
	c.mu.RLock() // want "deadlock"
	defer c.mu.RUnlock()
	return c.m[k]
}

// Sum reads two keys, holding the read lock across both calls.
func (c *Cache) Sum(a, b string) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.Get(a) + c.Get(b)
}
