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

// Tally reads every shard at the same time, one goroutine per shard, and
// counts in one more goroutine that owns stats: readers send it each
// request's status, so only the counter ever touches stats.
func Tally(shards []io.Reader) (Stats, error) {
	statuses := make(chan int)
	counted := make(chan Stats)
	go func() { // exits once statuses is closed, after handing over the counts
		var stats Stats
		for status := range statuses {
			stats.Total++
			if status >= 500 {
				stats.Errors++
			}
		}
		counted <- stats
	}()

	errs := make([]error, len(shards)) // errs[i] is written by shard i's reader only
	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
			hits := newHitScanner(shard)
			for hits.Scan() {
				statuses <- hits.Status()
			}
			if err := hits.Err(); err != nil {
				errs[i] = fmt.Errorf("shard %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(statuses)
	stats := <-counted

	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
