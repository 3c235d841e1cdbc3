// Package logtail ships a service's log to a search index, indexing
// several lines at once while it goes on reading ([Shipper]).
package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// A Source yields the lines of a log one at a time, such as a log file
// being read to its end.
type Source interface {
	// Next returns the next line. It returns io.EOF after the last line,
	// another error when reading fails, and ctx's error soon after ctx is
	// done.
	Next(ctx context.Context) (string, error)
}

// An Index stores log lines so they can be searched. Put may be called
// from several goroutines at once; it returns ctx's error soon after ctx is
// done.
type Index interface {
	Put(ctx context.Context, line string) error
}

// A Shipper sends the lines of a log to an Index.
type Shipper struct {
	Index   Index
	Workers int // how many lines are indexed at once, at least 1
}

// Ship reads src to its end and indexes every line it reads, up to
// s.Workers lines at a time, while it goes on reading. It returns the
// number of lines indexed once every line it read has been indexed or
// refused.
//
// A line the index refuses does not stop the others: Ship returns an error
// that joins every refusal, each quoting its line. If reading src fails,
// Ship stops reading, still waits for the lines already read, and returns
// the read error as well. If ctx is done, src and the index return ctx's
// error, and so does Ship.
func (s *Shipper) Ship(ctx context.Context, src Source) (int, error) {
	lines := make(chan string)
	var pending sync.WaitGroup // lines read and not yet indexed

	var mu sync.Mutex // protects shipped and refused
	shipped := 0
	var refused []error

	for range s.Workers {
		go func() {
			for {
				var line string
				select {
				case line = <-lines:
				case <-time.After(time.Minute):
					return // a minute without a line: the log must be over
				}
				err := s.Index.Put(ctx, line)
				mu.Lock()
				if err != nil {
					refused = append(refused, fmt.Errorf("line %q: %w", line, err))
				} else {
					shipped++
				}
				mu.Unlock()
				pending.Done()
			}
		}()
	}

	var readErr error
	for {
		line, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read log: %w", err)
			break
		}
		pending.Add(1)
		lines <- line
	}

	pending.Wait()

	mu.Lock()
	defer mu.Unlock()
	return shipped, errors.Join(append([]error{readErr}, refused...)...)
}
