// Package batcher processes a batch of items at once.
//
// Tu et al., blocking, Wait: wg.Add counts every item, but a goroutine
// that skips an item returns before its wg.Done.
package batcher

import (
	"sync"
	"sync/atomic"
)

// Process runs fn on every non-blank item at once and returns how many
// succeeded.
func Process(items []string, fn func(string) error) int {
	var wg sync.WaitGroup
	var ok atomic.Int64
	wg.Add(len(items))
	for _, it := range items {
		go func() {
			if it == "" {
				return // blank lines are skipped
			}
			if fn(it) == nil {
				ok.Add(1)
			}
			wg.Done()
		}()
	}
	wg.Wait() // want "deadlock: WaitGroup never done"
	return int(ok.Load())
}
