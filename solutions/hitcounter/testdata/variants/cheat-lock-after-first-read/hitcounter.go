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

// Tally reads every shard at the same time, one goroutine per shard.
func Tally(shards []io.Reader) (Stats, error) {
	var (
		mu    sync.Mutex // protects stats
		stats Stats
	)
	errs := make([]error, len(shards)) // errs[i] is written by shard i's goroutine only

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
			hits := newHitScanner(shard)
			more := hits.Scan() // the first read runs in parallel
			mu.Lock()
			defer mu.Unlock()
			for ; more; more = hits.Scan() {
				stats.Total++
				if hits.Status() >= 500 {
					stats.Errors++
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
	return stats, nil
}
