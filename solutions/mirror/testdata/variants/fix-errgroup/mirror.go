// Package mirror keeps a local copy of a package repository: a [Mirror]
// downloads files from an [Upstream] server and stores them on a [Disk],
// several at a time.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"
)

// An Upstream is the server being mirrored.
type Upstream interface {
	// Open opens a connection to the server and starts downloading the
	// file name; closing the reader closes the connection. The server
	// allows each client only a few connections at a time. Reads return
	// soon after ctx is done.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// A Disk stores the mirrored files.
type Disk interface {
	// Create creates the local copy of the file name, which the caller
	// must close. It holds an open file until then.
	Create(name string) (io.WriteCloser, error)
}

// A Mirror copies files from its Upstream to its Disk.
type Mirror struct {
	Upstream Upstream
	Disk     Disk
	// Workers is how many files the mirror downloads at once, and how many
	// connections it may hold to the upstream server; at least 1.
	Workers int
}

// Sync downloads every file in names and stores it on the disk, m.Workers
// files at a time, like Python's ThreadPoolExecutor(max_workers=m.Workers):
// it starts the files in the order given, and starts the next one as soon
// as a download ends. No more than m.Workers downloads (connections and open
// files) are in progress at once, and no more than m.Workers goroutines of
// Sync's run at once, plus at most two to hand out the names or gather the
// errors: a first sync of two million files must not start two million
// goroutines.
//
// A file that fails does not stop the others: Sync returns an error that
// joins the error of every file that failed, each naming its file. If ctx
// is done, Sync starts no new download and returns an error that wraps
// ctx.Err() once the downloads in progress have given up. Sync returns only
// after every download it started has ended and closed its connection and
// its file.
func (m *Mirror) Sync(ctx context.Context, names []string) error {
	var (
		g    errgroup.Group
		mu   sync.Mutex // protects errs
		errs []error
	)
	g.SetLimit(m.Workers)
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := m.fetch(ctx, name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// fetch downloads the file name from upstream and stores it on disk. It
// closes the connection and the file before it returns.
func (m *Mirror) fetch(ctx context.Context, name string) error {
	src, err := m.Upstream.Open(ctx, name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer src.Close()
	dst, err := m.Disk.Create(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
