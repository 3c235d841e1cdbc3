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
	// Each worker fills its own map and error list, owned by it alone
	// until wg.Wait, after which Sums merges them.
	type partial struct {
		sums map[string]string
		errs []error
	}
	parts := make([]partial, c.Workers)

	jobs := make(chan Blob)
	var wg sync.WaitGroup
	for w := range c.Workers {
		parts[w].sums = map[string]string{}
		wg.Go(func() {
			p := &parts[w]
			for b := range jobs {
				h := c.NewHash()
				if _, err := io.Copy(h, b.Data); err != nil {
					p.errs = append(p.errs, fmt.Errorf("blob %s: %w", b.Name, err))
				} else {
					p.sums[b.Name] = hex.EncodeToString(h.Sum(nil))
				}
			}
		})
	}
	for _, b := range blobs {
		jobs <- b
	}
	close(jobs)
	wg.Wait()

	sums := make(map[string]string, len(blobs))
	var errs []error
	for _, p := range parts {
		for name, sum := range p.sums {
			sums[name] = sum
		}
		errs = append(errs, p.errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sums, nil
}
