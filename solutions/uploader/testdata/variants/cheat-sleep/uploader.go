// Package uploader backs up a directory tree to a cloud storage [Bucket],
// uploading every file as soon as the walk finds it ([Uploader.Backup]).
package uploader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

// A Bucket stores objects: it is a cloud storage bucket. Put may take long
// for a large object, and returns ctx's error soon after ctx is done. Puts
// of different keys may run at the same time.
type Bucket interface {
	Put(ctx context.Context, key string, data []byte) error
}

// An Uploader backs up directory trees to a Bucket.
type Uploader struct {
	Bucket Bucket
}

// Backup uploads every regular file of fsys to u.Bucket, with the file's
// path in fsys as its key, and returns how many files it stored. It walks
// fsys in lexical order ([fs.WalkDir]) and starts each file's upload, in a
// goroutine of its own, as soon as the walk finds the file: uploads run
// while the walk goes on.
//
// Backup returns once every upload it started has ended, whatever happens.
// A failed upload does not stop the others: Backup returns the number of
// files stored and an error that joins every failure, each naming its
// file. If a directory cannot be read, or ctx is done, the walk stops
// there and Backup returns that error too, once the uploads already
// started have ended.
func (u *Uploader) Backup(ctx context.Context, fsys fs.FS) (int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // protects stored and errs
		stored int
		errs   []error
	)
	walkErr := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err // a directory that cannot be read: stop the walk
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		go func() {
			wg.Add(1)
			defer wg.Done()
			err := u.upload(ctx, fsys, path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			stored++
		}()
		return nil
	})
	time.Sleep(100 * time.Millisecond) // give the last goroutines time to call Add
	wg.Wait()
	return stored, errors.Join(walkErr, errors.Join(errs...))
}

// upload stores the file at path in u.Bucket.
func (u *Uploader) upload(ctx context.Context, fsys fs.FS, path string) error {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := u.Bucket.Put(ctx, path, data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
