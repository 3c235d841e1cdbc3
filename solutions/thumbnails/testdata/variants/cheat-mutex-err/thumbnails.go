//go:build go1.21

// Package thumbnails makes the thumbnails of a photo album, every photo at
// the same time ([Render]).
//
// The build line above pins this file to the Go 1.21 language, as in a
// project that has not moved on yet: keep it exactly as it is.
package thumbnails

import (
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
	var mu sync.Mutex // protects err
	var wg sync.WaitGroup
	for i, name := range names {
		i, name := i, name
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, readErr := album.Photo(name)
			if readErr != nil {
				mu.Lock()
				err = fmt.Errorf("photo %s: %w", name, readErr)
				mu.Unlock()
				return
			}
			pix, decodeErr := Decode(data)
			if decodeErr != nil {
				mu.Lock()
				err = fmt.Errorf("photo %s: %w", name, decodeErr)
				mu.Unlock()
				return
			}
			thumbs[i] = pix.Scale(width)
		}()
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return thumbs, nil
}
