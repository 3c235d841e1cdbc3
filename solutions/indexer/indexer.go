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
//
// Every goroutine Run starts has exited when Run returns: Run's deferred
// cancel tells them to stop, and its deferred wg.Wait waits until they have.
func (ix *Indexer) Run(ctx context.Context, ids []string) (Index, error) {
	// ctx is done once Run returns, whatever the reason: the caller's ctx
	// ended, a fetch failed, or every document is in. It cancels the
	// fetches in flight and tells the workers that nobody receives any more.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		// The join: each worker's last action happens before its Done, and
		// every Done before Wait returns, so no worker and no fetch of
		// Run's outlives it.
		wg.Wait()
	}()

	jobs := make(chan string, len(ids)) // every document to fetch, queued up front
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)

	results := make(chan fetched)
	for range ix.Workers {
		// A worker exits when the queue is empty or ctx is done, whichever
		// comes first.
		wg.Go(func() {
			for id := range jobs {
				if ctx.Err() != nil {
					return // stopped: take no more documents
				}
				text, err := ix.Store.Fetch(ctx, id)
				// The send has a way out: while Run collects, it receives;
				// once Run is returning, ctx is done.
				select {
				case results <- fetched{id, text, err}:
				case <-ctx.Done():
					return
				}
			}
		})
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
