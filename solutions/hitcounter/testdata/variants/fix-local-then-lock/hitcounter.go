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
// goroutine counts its shard on its own and merges its counts into the
// totals once, under mu; wg.Wait orders every merge before the return.
func Tally(shards []io.Reader) (Stats, error) {
	var (
		mu    sync.Mutex // protects stats and errs
		stats Stats
		errs  []error
	)
	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() { // exits at the end of its shard or at its first error
			var local Stats
			hits := newHitScanner(shard)
			for hits.Scan() {
				local.Total++
				if hits.Status() >= 500 {
					local.Errors++
				}
			}
			err := hits.Err()

			mu.Lock()
			defer mu.Unlock()
			stats.Total += local.Total
			stats.Errors += local.Errors
			if err != nil {
				errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
			}
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
