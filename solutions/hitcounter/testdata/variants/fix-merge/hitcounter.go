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

// Tally reads every shard at the same time, one goroutine per shard. Each
// goroutine owns counts[i] and errs[i] for its shard i, so no two goroutines
// write the same memory; the totals are added up after wg.Wait, which every
// goroutine's return happens before.
func Tally(shards []io.Reader) (Stats, error) {
	counts := make([]Stats, len(shards))
	errs := make([]error, len(shards))

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() { // exits at the end of its shard or at its first error
			hits := newHitScanner(shard)
			for hits.Scan() {
				counts[i].Total++
				if hits.Status() >= 500 {
					counts[i].Errors++
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
	var stats Stats
	for _, c := range counts {
		stats.Total += c.Total
		stats.Errors += c.Errors
	}
	return stats, nil
}
