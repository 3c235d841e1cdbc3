// Package hitcounter adds up the hits on a website from its access log,
// which is split into shards that are read in parallel.
package hitcounter

import (
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
	var firstErr error // the error of a shard that failed

	var wg sync.WaitGroup
	for i, shard := range shards {
		wg.Go(func() {
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
				firstErr = fmt.Errorf("shard %d: %w", i, err)
			}
		})
	}
	wg.Wait()

	if firstErr != nil {
		return Stats{}, firstErr
	}
	return stats, nil
}
