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
// A result is what one photo's goroutine sends back.
type result struct {
	i     int
	thumb *Pixmap
	err   error
}

func Render(album Album, names []string, width int) (thumbs []*Pixmap, err error) {
	results := make(chan result)
	for i, name := range names {
		go func(i int, name string) { // exits once Render has received its result
			data, e := album.Photo(name)
			if e != nil {
				results <- result{i: i, err: fmt.Errorf("photo %s: %w", name, e)}
				return
			}
			pix, e := Decode(data)
			if e != nil {
				results <- result{i: i, err: fmt.Errorf("photo %s: %w", name, e)}
				return
			}
			results <- result{i: i, thumb: pix.Scale(width)}
		}(i, name)
	}
	thumbs = make([]*Pixmap, len(names))
	errs := make([]error, len(names))
	for range names {
		r := <-results
		thumbs[r.i], errs[r.i] = r.thumb, r.err
	}
	if err = errors.Join(errs...); err != nil {
		return nil, err
	}
	return thumbs, nil
}
