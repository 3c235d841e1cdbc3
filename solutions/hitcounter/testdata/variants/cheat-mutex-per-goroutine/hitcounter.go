// Package hitcounter adds up the hits on a website from its access log,
// which is split into shards that are read in parallel.
package hitcounter

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Stats sums up an access log.
type Stats struct {
	Total  int // requests served
	Errors int // requests that failed on the server: status 500 to 599
}

// Tally reads every shard of an access log at the same time, one goroutine
// per shard, and adds up the requests in all of them. Each shard holds one
// request a line, such as "GET /pricing 200".
//
// If a shard cannot be read or holds a malformed line, Tally returns the
// zero Stats and an error that says which shard and which line.
func Tally(shards []io.Reader) (Stats, error) {
	var stats Stats
	errs := make([]error, len(shards)) // errs[i] is written by shard i's goroutine only

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
			var mu sync.Mutex // one per goroutine: guards nothing
			hits := newHitScanner(shard)
			for hits.Scan() {
				mu.Lock()
				stats.Total++
				if hits.Status() >= 500 {
					stats.Errors++
				}
				mu.Unlock()
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
	return stats, nil
}
