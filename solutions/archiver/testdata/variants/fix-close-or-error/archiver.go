// Package archiver restores a shop's orders from its nightly archives in
// object storage, loading each order as soon as it has been downloaded
// ([Restore]).
package archiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// An Order is one line of an archive, in JSON.
type Order struct {
	ID       int    `json:"id"`
	Customer string `json:"customer"`
	Cents    int64  `json:"cents"`
}

// A Bucket holds archives: it is the object storage's client.
type Bucket interface {
	// Download writes the object name to w as it arrives over the
	// network. It returns nil once it has written all of it, or the error
	// that stopped it: the object does not exist, the connection broke,
	// ctx is done, or a Write to w failed.
	Download(ctx context.Context, name string, w io.Writer) error
}

// Restore downloads the archive name from b, one JSON order a line, and
// calls load with each order as soon as its line has arrived, while the
// rest of the archive is still downloading. It returns nil once every
// order of the archive has been loaded.
//
// If the download fails, Restore returns an error that wraps the
// download's: an archive cut short is never taken for a whole one. If the
// archive holds a line that is not an order, or load fails, Restore stops
// the download and returns that error. If ctx is done, the download ends
// with ctx's error, and so does Restore.
func Restore(ctx context.Context, b Bucket, name string, load func(Order) error) error {
	pr, pw := io.Pipe()
	defer pr.Close() // if Restore returns early, the download's next Write fails

	go func() {
		if err := b.Download(ctx, name, pw); err != nil {
			pw.CloseWithError(err) // the decoder's next Read returns err
			return
		}
		pw.Close() // the decoder's next Read returns io.EOF
	}()

	dec := json.NewDecoder(pr)
	for {
		var o Order
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if err := load(o); err != nil {
			return fmt.Errorf("load order %d: %w", o.ID, err)
		}
	}
}
