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

// A count is one shard's result.
type count struct {
	stats Stats
	err   error
}

// Tally reads every shard at the same time, one goroutine per shard, and
// adds up what they send back.
func Tally(shards []io.Reader) (Stats, error) {
	counts := make(chan count, 4) // one slot per shard

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
			var c count
			hits := newHitScanner(shard)
			for hits.Scan() {
				c.stats.Total++
				if hits.Status() >= 500 {
					c.stats.Errors++
				}
			}
			if err := hits.Err(); err != nil {
				c.err = fmt.Errorf("shard %d: %w", i, err)
			}
			counts <- c
		})
	}
	wg.Wait()
	close(counts)

	var stats Stats
	var errs []error
	for c := range counts {
		stats.Total += c.stats.Total
		stats.Errors += c.stats.Errors
		errs = append(errs, c.err)
	}
	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
