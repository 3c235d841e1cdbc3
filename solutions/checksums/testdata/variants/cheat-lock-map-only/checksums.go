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

// hashing lets one worker hash at a time. Like Python's GIL, it keeps the
// workers out of each other's way, to be safe: only one of them touches the
// results at a time.
var hashing sync.Mutex

// Sums hashes every blob, c.Workers of them at a time, and returns the
// digest of each, hex-encoded, by blob name.
//
// If any blob cannot be read, Sums returns nil and an error that joins, as
// errors.Join does, the error of every such blob, in no particular order;
// each of them names its blob.
func (c *Checker) Sums(blobs []Blob) (map[string]string, error) {
	sums := make(map[string]string, len(blobs))
	var errs []error

	jobs := make(chan Blob)
	var wg sync.WaitGroup
	for range c.Workers {
		wg.Go(func() {
			for b := range jobs {
				h := c.NewHash()
				if _, err := io.Copy(h, b.Data); err != nil {
					errs = append(errs, fmt.Errorf("blob %s: %w", b.Name, err)) // still unguarded
				} else {
					hashing.Lock()
					sums[b.Name] = hex.EncodeToString(h.Sum(nil))
					hashing.Unlock()
				}
			}
		})
	}
	for _, b := range blobs {
		jobs <- b
	}
	close(jobs)
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sums, nil
}
