// Package hitcounter adds up the hits on a website from its access log,
// which is split into shards that are read in parallel.
package hitcounter

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Stats sums up an access log.
type Stats struct {
	Total  int // requests served
	Errors int // requests that failed on the server: status 500 to 599
}

// increment adds one to n. CompareAndSwap stores old+1 only if n still
// holds old, so an update made by another goroutine in between is never
// overwritten: the loop reads again and retries.
func increment(n *atomic.Int64) {
	for {
		old := n.Load()
		if n.CompareAndSwap(old, old+1) {
			return
		}
	}
}

// Tally reads every shard at the same time, one goroutine per shard.
func Tally(shards []io.Reader) (Stats, error) {
	var total, failed atomic.Int64
	errs := make([]error, len(shards)) // errs[i] is written by shard i's goroutine only

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() { // exits at the end of its shard or at its first error
			hits := newHitScanner(shard)
			for hits.Scan() {
				increment(&total)
				if hits.Status() >= 500 {
					increment(&failed)
				}
			}
			if err := hits.Err(); err != nil {
				errs[i] = fmt.Errorf("shard %d: %w", i, err)
			}
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return Stats{Total: int(total.Load()), Errors: int(failed.Load())}, nil
}
