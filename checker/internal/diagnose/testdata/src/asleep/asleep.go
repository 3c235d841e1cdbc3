// Package asleep waits for a WaitGroup nobody finishes.
package asleep

import "sync"

// Run adds a worker it never starts and waits for it.
func Run() {
	var wg sync.WaitGroup
	wg.Add(1)
	wg.Wait() // want "deadlock"
}
