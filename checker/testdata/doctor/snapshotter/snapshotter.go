// Package snapshotter saves snapshots with a time limit.
//
// Chabbi and Ramanathan, a captured named result: the goroutine assigns
// the function's named results, which the timeout path also assigns when
// it returns.
package snapshotter

import (
	"errors"
	"io"
	"time"
)

// ErrTimeout is returned when the write takes too long.
var ErrTimeout = errors.New("snapshotter: timed out")

// A Snapshotter writes snapshots to w.
type Snapshotter struct {
	W       io.Writer
	Timeout time.Duration
}

// Save writes data and returns the bytes written, or ErrTimeout.
func (s *Snapshotter) Save(data []byte) (n int, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err = s.W.Write(data) // want "race"
	}()
	select {
	case <-done:
		return n, err
	case <-time.After(s.Timeout):
		return 0, ErrTimeout // want "race"
	}
}
