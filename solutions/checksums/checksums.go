// Package checksums checks the integrity of a backup: a [Checker] hashes
// every blob of the backup in a pool of worker goroutines, so that a large
// backup is hashed on every core at once.
package checksums

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// A Blob is one file of a backup.
type Blob struct {
	Name string    // unique within a backup
	Data io.Reader // the blob's content
}

// A Checker hashes the blobs of a backup in a pool of workers.
type Checker struct {
	Workers int              // how many blobs are hashed at once; at least 1
	NewHash func() hash.Hash // returns a new hash for each blob, such as sha256.New
}

// Sums hashes every blob, c.Workers of them at a time, and returns the
// digest of each, hex-encoded, by blob name.
//
// If any blob cannot be read, Sums returns nil and an error that joins, as
// errors.Join does, the error of every such blob, in no particular order;
// each of them names its blob.
func (c *Checker) Sums(blobs []Blob) (map[string]string, error) {
	var (
		mu   sync.Mutex // protects sums and errs: the only memory the workers share
		sums = make(map[string]string, len(blobs))
		errs []error
	)

	jobs := make(chan Blob)
	var wg sync.WaitGroup
	for range c.Workers {
		// Each worker exits when jobs is closed and drained; wg.Wait
		// below waits for all of them.
		wg.Go(func() {
			for b := range jobs {
				// The hash, its reader and its digest belong to this
				// worker alone: hashing needs no lock, and runs on as
				// many cores as there are workers. Go has no GIL.
				h := c.NewHash()
				_, err := io.Copy(h, b.Data)
				var sum string
				if err == nil {
					sum = hex.EncodeToString(h.Sum(nil))
				}

				// Only the results are shared. Each Unlock happens before
				// the next Lock, so no write to the map or the slice is
				// concurrent with another, and the lock is held for a
				// moment, not for a whole blob.
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("blob %s: %w", b.Name, err))
				} else {
					sums[b.Name] = sum
				}
				mu.Unlock()
			}
		})
	}
	for _, b := range blobs {
		jobs <- b
	}
	close(jobs)
	// Every worker's return happens before wg.Wait returns: sums and errs
	// are final from here on.
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sums, nil
}
