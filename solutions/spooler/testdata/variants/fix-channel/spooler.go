// Package spooler holds print jobs between the people who submit them and
// the printers that print them: a [Spool] keeps a bounded queue of [Job]s,
// makes submitters wait while it is full and printers wait while it is
// empty.
package spooler

import (
	"errors"
	"sync"
)

// ErrClosed is returned by [Spool.Submit] once the spool is closed.
var ErrClosed = errors.New("spooler: spool is closed")

// A Job is one document to print.
type Job struct {
	ID    int
	Doc   string
	Pages int
}

// A Spool is a first-in, first-out queue of print jobs that holds at most
// a fixed number of them. Submitters call Submit, printers call Next; its
// methods may be called from many goroutines at once. Create one with
// [New].
type Spool struct {
	jobs      chan Job      // the queue itself: its buffer is the spool's capacity
	done      chan struct{} // closed by the first Close
	closeOnce sync.Once
}

// New returns an empty spool that holds at most capacity jobs. It panics
// if capacity is less than 1.
func New(capacity int) *Spool {
	if capacity < 1 {
		panic("spooler: capacity must be at least 1")
	}
	return &Spool{jobs: make(chan Job, capacity), done: make(chan struct{})}
}

// Submit adds j at the end of the spool, waiting while the spool is full.
// It returns ErrClosed, and adds nothing, if the spool is closed before
// there is room.
func (s *Spool) Submit(j Job) error {
	select {
	case <-s.done: // closed already: even with room, add nothing
		return ErrClosed
	default:
	}
	select {
	case s.jobs <- j:
		return nil
	case <-s.done:
		return ErrClosed
	}
}

// Next takes the oldest job from the spool, waiting while the spool is
// empty and open. Once the spool is closed and every job in it has been
// taken, Next returns false.
func (s *Spool) Next() (Job, bool) {
	select {
	case j := <-s.jobs:
		return j, true
	case <-s.done:
		select { // closed: the jobs still in the spool come first
		case j := <-s.jobs:
			return j, true
		default:
			return Job{}, false
		}
	}
}

// Close closes the spool: from now on Submit returns ErrClosed, and once
// the jobs still in the spool are taken, Next returns false. Submitters and
// printers waiting when the spool closes stop waiting. Closing a closed
// spool does nothing.
func (s *Spool) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}
