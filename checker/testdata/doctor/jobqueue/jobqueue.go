// Package jobqueue runs jobs on a fixed number of workers.
//
// Tu et al., blocking, Chan: workers range over a queue that is never
// closed, and RunAll waits for them.
package jobqueue

import "sync"

// A Job is one unit of work.
type Job struct {
	ID  int
	Run func() error
}

// RunAll runs jobs on n workers and returns each job's error by ID.
func RunAll(jobs []Job, n int) []error {
	queue := make(chan Job)
	errs := make([]error, len(jobs))
	var mu sync.Mutex // protects errs
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue { // want "deadlock: blocked receive (no sender)"
				err := j.Run()
				mu.Lock()
				errs[j.ID] = err
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		queue <- j
	}
	wg.Wait()
	return errs
}
