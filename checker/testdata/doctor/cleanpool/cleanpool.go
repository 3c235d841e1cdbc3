// Package cleanpool maps a function over items with a bounded number of
// workers. Correct: the doctor must report nothing.
package cleanpool

import "sync"

// Map runs fn on every item with n workers and returns the results in order.
func Map(items []int, n int, fn func(int) int) []int {
	out := make([]int, len(items))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() { // ends when jobs is closed
			defer wg.Done()
			for i := range jobs {
				out[i] = fn(items[i])
			}
		}()
	}
	for i := range items {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out
}
