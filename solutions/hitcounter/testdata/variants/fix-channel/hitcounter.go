// Package hitcounter adds up the hits on a website from its access log,
// which is split into shards that are read in parallel.
package hitcounter

import (
	"errors"
	"fmt"
	"io"
)

// Stats sums up an access log.
type Stats struct {
	Total  int // requests served
	Errors int // requests that failed on the server: status 500 to 599
}

// A shardResult is what one shard's goroutine sends back to Tally.
type shardResult struct {
	stats Stats
	err   error
}

// Tally reads every shard at the same time, one goroutine per shard. Each
// goroutine counts into its own Stats and sends it on results: the send
// happens before Tally's receive, which hands the counts over. Tally
// receives exactly one result per goroutine, so every goroutine's send
// completes and it exits.
func Tally(shards []io.Reader) (Stats, error) {
	results := make(chan shardResult)
	for i, shard := range shards {
		go func() {
			var r shardResult
			hits := newHitScanner(shard)
			for hits.Scan() {
				r.stats.Total++
				if hits.Status() >= 500 {
					r.stats.Errors++
				}
			}
			if err := hits.Err(); err != nil {
				r.err = fmt.Errorf("shard %d: %w", i, err)
			}
			results <- r
		}()
	}

	var stats Stats
	var errs []error
	for range shards {
		r := <-results
		stats.Total += r.stats.Total
		stats.Errors += r.stats.Errors
		errs = append(errs, r.err)
	}
	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
