// Package resultsink adds up the results of jobs run at once.
//
// Tu et al., blocking, Chan: workers send on an unbuffered channel that
// is read only after every worker has finished.
package resultsink

import "sync"

// Sum runs each job at once and adds up their results.
func Sum(jobs []func() int) int {
	results := make(chan int)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- job() // want "deadlock: blocked send (no receiver)"
		}()
	}
	wg.Wait()
	close(results)
	total := 0
	for r := range results {
		total += r
	}
	return total
}
