// Package panicindex indexes past the end of a slice in a worker.
package panicindex

import "sync"

// Squares squares n numbers, one goroutine each, into a slice one too short.
func Squares(n int) []int {
	out := make([]int, n-1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { // want "panic"
			defer wg.Done()
			out[i] = i * i // want "panic"
		}()
	}
	wg.Wait()
	return out
}
