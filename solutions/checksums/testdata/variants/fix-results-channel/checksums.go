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
	type result struct {
		name, sum string
		err       error
	}
	jobs := make(chan Blob)
	results := make(chan result)

	// A feeder hands out the blobs; it exits after the last one.
	go func() {
		defer close(jobs)
		for _, b := range blobs {
			jobs <- b
		}
	}()
	// The workers send one result per blob; Sums receives them all, so
	// every send completes and every worker exits once jobs is drained.
	for range c.Workers {
		go func() {
			for b := range jobs {
				h := c.NewHash()
				_, err := io.Copy(h, b.Data)
				r := result{name: b.Name, err: err}
				if err == nil {
					r.sum = hex.EncodeToString(h.Sum(nil))
				} else {
					r.err = fmt.Errorf("blob %s: %w", b.Name, err)
				}
				results <- r
			}
		}()
	}

	sums := make(map[string]string, len(blobs))
	var errs []error
	for range blobs {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			sums[r.name] = r.sum
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sums, nil
}
