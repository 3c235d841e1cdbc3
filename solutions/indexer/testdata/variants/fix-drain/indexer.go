// Package indexer builds a search [Index] of documents that a pool of
// workers ([Indexer]) fetches from a [Store].
package indexer

import (
	"context"
	"fmt"
	"sync"
)

// A Store holds the documents to index.
type Store interface {
	// Fetch returns the text of the document id. It may take long; it
	// should return soon after ctx is done.
	Fetch(ctx context.Context, id string) (string, error)
}

// An Indexer fetches documents from a store with a pool of workers and
// indexes them.
type Indexer struct {
	Store   Store
	Workers int // how many documents are fetched at once; at least 1
}

// A fetched document, or why it could not be fetched.
type fetched struct {
	id, text string
	err      error
}

// Run fetches the documents ids from ix.Store, with ix.Workers goroutines
// each fetching one document at a time, and returns their index.
//
// If a fetch fails, Run cancels the fetches in flight and returns an error
// that names the document and wraps the fetch's error. If ctx is done
// first, Run returns an error that wraps ctx.Err(). Either way the workers
// stop taking documents, and Run returns as soon as the fetches in flight
// have returned: when Run returns, none of its workers is still running.
func (ix *Indexer) Run(ctx context.Context, ids []string) (Index, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan string, len(ids))
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)

	results := make(chan fetched)
	var wg sync.WaitGroup
	for range ix.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id, ok := <-jobs:
					if !ok {
						return
					}
					text, err := ix.Store.Fetch(ctx, id)
					select {
					case results <- fetched{id, text, err}:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	// results is closed once every worker has exited, so ranging over it
	// below is the join.
	go func() {
		wg.Wait()
		close(results)
	}()

	idx := make(Index)
	var firstErr error
	for f := range results {
		switch {
		case firstErr != nil:
			// stopping: drain until every worker has exited
		case f.err != nil:
			firstErr = fmt.Errorf("indexer: fetch %s: %w", f.id, f.err)
			cancel()
		default:
			idx.add(f.id, f.text)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("indexer: %w", err)
	}
	return idx, nil
}
