// Package timeoutloop spins until a flag that is never set.
package timeoutloop

import "sync/atomic"

// Wait spins until ready is set.
func Wait(ready *atomic.Bool) int {
	n := 0
	for !ready.Load() { // want "timeout"
		n++
	}
	return n
}
