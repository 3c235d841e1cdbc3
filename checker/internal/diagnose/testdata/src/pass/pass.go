// Package pass counts with a lock.
package pass

import "sync"

// Counter is safe for concurrent use.
type Counter struct {
	mu sync.Mutex // protects n
	n  int
}

// Inc adds one.
func (c *Counter) Inc() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}
