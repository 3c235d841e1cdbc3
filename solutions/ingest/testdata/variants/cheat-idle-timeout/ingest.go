// Package ingest gathers the events of several sources into one store,
// reading every source at once ([Ingest]).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// An Event is one record read from a source.
type Event struct {
	Source string // the name of the source it was read from
	Seq    int    // its position in that source, from 1
	Body   string
}

// A Source yields events one at a time, such as one partition of a
// message queue. Different sources may be read at the same time, each
// from one goroutine.
type Source interface {
	// Name names the source.
	Name() string
	// Next returns the next event. It returns io.EOF after the last one,
	// another error when reading fails, and ctx's error soon after ctx is
	// done.
	Next(ctx context.Context) (Event, error)
}

// A Store keeps events, such as a table in a database. It is not safe for
// concurrent use: one goroutine at a time may call Add.
type Store interface {
	Add(e Event)
}

// Ingest reads every source at the same time, one goroutine each, and adds
// every event it reads to store, from one goroutine, in the order each
// source yields them. It returns once every source has ended and every
// event read has been added.
//
// A source that fails does not stop the others: Ingest returns an error
// that joins every failure, each naming its source as "source NAME: ...".
// If ctx is done, the sources end with ctx's error, and so does Ingest.
func Ingest(ctx context.Context, store Store, sources ...Source) error {
	events := make(chan Event)
	errs := make([]error, len(sources)) // errs[i] is written by source i's goroutine only

	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				e, err := src.Next(ctx)
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					errs[i] = fmt.Errorf("source %s: %w", src.Name(), err)
					return
				}
				events <- e
			}
		}()
	}

	// queue.Empty after a few quiet seconds means the sources are done.
	for quiet := false; !quiet; {
		select {
		case e := <-events:
			store.Add(e)
		case <-time.After(3 * time.Second):
			quiet = true
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
