// Package cleancache is a read-mostly cache and transfers between two of
// its entries, both locked in one global order. Correct: the doctor must
// report nothing (no lock-order finding for consistently ordered locks).
package cleancache

import "sync"

// An Entry is a counter with its own lock and a stable id.
type Entry struct {
	id int
	mu sync.Mutex // protects n
	n  int
}

// A Cache holds entries by key.
type Cache struct {
	mu      sync.RWMutex // protects entries
	entries map[string]*Entry
	nextID  int
}

// New returns an empty cache.
func New() *Cache { return &Cache{entries: map[string]*Entry{}} }

// Get returns the entry for key, creating it.
func (c *Cache) Get(key string) *Entry {
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e != nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.entries[key]; e == nil {
		c.nextID++
		e = &Entry{id: c.nextID}
		c.entries[key] = e
	}
	return e
}

// Move moves n from one entry to another, locking the lower id first.
func Move(from, to *Entry, n int) {
	first, second := from, to
	if second.id < first.id {
		first, second = second, first
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	from.n -= n
	to.n += n
}

// Value returns e's value.
func (e *Entry) Value() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}
