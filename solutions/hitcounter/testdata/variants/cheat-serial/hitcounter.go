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

// Tally reads the shards one after another: no race, and no parallelism.
func Tally(shards []io.Reader) (Stats, error) {
	var stats Stats
	var errs []error
	for i, shard := range shards {
		hits := newHitScanner(shard)
		for hits.Scan() {
			stats.Total++
			if hits.Status() >= 500 {
				stats.Errors++
			}
		}
		if err := hits.Err(); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Stats{}, err
	}
	return stats, nil
}
