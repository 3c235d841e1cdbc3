// Package race updates a counter from several goroutines without a lock.
package race

import "sync"

// Count starts n goroutines that each add one to a shared total.
func Count(n int) int {
	total := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total++ // want "race"
		}()
	}
	wg.Wait()
	return total
}
