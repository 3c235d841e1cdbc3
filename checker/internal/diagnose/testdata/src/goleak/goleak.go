// Package goleak starts a ticker loop it never stops.
package goleak

import "time"

// Start begins flushing every tick and returns at once.
func Start(flush func()) {
	go func() { // want "leak"
		for range time.Tick(time.Hour) { // want "leak"
			flush()
		}
	}()
}
