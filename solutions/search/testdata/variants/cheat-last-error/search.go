// Package search answers a query from several backends at once: a
// [Searcher] asks every [Backend] (web pages, news, images...) in parallel
// and merges their results into one page.
package search

import (
	"context"
	"slices"
	"sync"
)

// A Result is one hit.
type Result struct {
	Backend string // the backend that found it
	Title   string
	URL     string
}

// A Backend searches one kind of content.
type Backend interface {
	// Search returns the backend's results for query. It may take long;
	// once ctx is done it gives up soon, returning ctx.Err().
	Search(ctx context.Context, query string) ([]Result, error)
}

// A Searcher asks all its backends at once.
type Searcher struct {
	Backends []Backend
}

// Search asks every backend at once and returns all their results: the
// results of s.Backends[0] first, then those of s.Backends[1], and so on.
//
// A page with a section missing is worse than an error page, so if any
// backend fails, Search fails, with the error of the first backend to fail
// (the first in time); the errors of the others are dropped. The moment one
// fails, the others' work is wasted: Search cancels them at once, and
// returns as soon as they have stopped. If ctx is done first, Search returns
// an error that wraps ctx.Err(), also once every backend has stopped.
// Search never returns while a backend it asked is still searching.
func (s *Searcher) Search(ctx context.Context, query string) ([]Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // protects lastErr
		lastErr error
	)
	results := make([][]Result, len(s.Backends))
	for i, b := range s.Backends {
		wg.Go(func() {
			res, err := b.Search(ctx, query)
			if err != nil {
				mu.Lock()
				lastErr = err
				mu.Unlock()
				cancel()
				return
			}
			results[i] = res
		})
	}
	wg.Wait()
	if lastErr != nil {
		return nil, lastErr
	}
	return slices.Concat(results...), nil
}
