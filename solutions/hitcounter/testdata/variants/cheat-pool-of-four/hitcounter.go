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

// poolSize is how many goroutines read shards: about one per disk.
const poolSize = 4

// Tally reads the shards with a pool of goroutines that share a queue.
func Tally(shards []io.Reader) (Stats, error) {
	var (
		mu    sync.Mutex // protects stats
		stats Stats
	)
	errs := make([]error, len(shards)) // errs[i] is written by whoever reads shard i

	queue := make(chan int)
	var wg sync.WaitGroup
	for range poolSize {
		wg.Go(func() {
			for i := range queue {
				hits := newHitScanner(shards[i])
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
			}
		})
	}
	for i := range shards {
		queue <- i
	}
	close(queue)
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
