// Package fetcher calls a slow backend with a deadline.
//
// Saioc et al. (CGO'24), "timeout abandoning the sender"; Tu et al.,
// channel with context: when ctx ends first, nobody receives the result
// and the goroutine blocks on its send forever.
package fetcher

import "context"

// Fetch calls get, giving up when ctx ends.
func Fetch(ctx context.Context, get func() (string, error)) (string, error) {
	type result struct {
		body string
		err  error
	}
	ch := make(chan result)
	go func() {
		body, err := get()
		ch <- result{body, err} // want "leak"
	}()
	select {
	case r := <-ch:
		return r.body, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
