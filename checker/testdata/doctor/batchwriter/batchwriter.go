// Package batchwriter writes rows at once.
//
// Tu et al., non-blocking, WaitGroup misuse: a failing row calls Done on
// its error path and again at the end: the counter goes negative.
package batchwriter

import "sync"

// WriteAll writes every row at once and returns the errors.
func WriteAll(rows []string, write func(string) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, len(rows))
	for _, r := range rows {
		wg.Add(1)
		go func() {
			if err := write(r); err != nil {
				errs <- err
				wg.Done()
			}
			wg.Done() // want "panic"
		}()
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}
