//go:build go1.21

// Package thumbnails makes the thumbnails of a photo album, every photo at
// the same time ([Render]).
//
// The build line above pins this file to the Go 1.21 language, as in a
// project that has not moved on yet: keep it exactly as it is.
package thumbnails

import (
	"errors"
	"fmt"
	"sync"
)

// An Album is where the photos are kept, such as a bucket of an object
// store.
type Album interface {
	// Photo returns the photo called name, PGM-encoded. It may be called
	// from many goroutines at once.
	Photo(name string) ([]byte, error)
}

// Render makes a thumbnail width pixels wide of every photo named in names,
// all at the same time: one goroutine per photo. It returns the thumbnails
// in the order of names.
//
// If any photo cannot be read or decoded, Render returns nil and an error
// that joins, as errors.Join does, the error of every such photo, in the
// order of names; each of them names its photo.
func Render(album Album, names []string, width int) (thumbs []*Pixmap, err error) {
	thumbs = make([]*Pixmap, len(names))
	errs := make([]error, len(names)) // errs[i] is written by photo i's goroutine only
	var wg sync.WaitGroup
	for i, name := range names {
		// Before Go 1.22 (and this file is Go 1.21), i and name are one
		// pair of variables that the loop overwrites at every iteration,
		// while the goroutines read them. These copies are new variables
		// each time round, written once, before the go statement, which
		// happens before the goroutine starts: each goroutine reads its
		// own pair, and nothing writes it again.
		i, name := i, name
		wg.Add(1)
		go func() { // exits once photo i is rendered or has failed
			defer wg.Done()
			// Photo i's goroutine writes thumbs[i] or errs[i], and no
			// other goroutine writes them: no two goroutines share a
			// variable, so each can report its own error and none is lost.
			data, readErr := album.Photo(name)
			if readErr != nil {
				errs[i] = fmt.Errorf("photo %s: %w", name, readErr)
				return
			}
			pix, decodeErr := Decode(data)
			if decodeErr != nil {
				errs[i] = fmt.Errorf("photo %s: %w", name, decodeErr)
				return
			}
			thumbs[i] = pix.Scale(width)
		}()
	}
	// Every goroutine's wg.Done happens before Wait returns, so thumbs and
	// errs are complete, and safe to read, from here on.
	wg.Wait()
	if err = errors.Join(errs...); err != nil {
		return nil, err
	}
	return thumbs, nil
}
