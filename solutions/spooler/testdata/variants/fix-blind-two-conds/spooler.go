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
	capacity int // the most jobs the spool holds

	mu sync.Mutex // protects jobs and closed
	// Printers and submitters wait on conditions of their own, so that a
	// change wakes just one waiter of the kind that can use it: a job added
	// signals one printer, a job taken signals one submitter. Close
	// broadcasts both, since every waiter must then stop waiting.
	nonEmpty sync.Cond // a job was added, or the spool closed; L is &mu
	nonFull  sync.Cond // a job was taken, or the spool closed; L is &mu
	jobs     []Job     // oldest first, at most capacity
	closed   bool
}

// New returns an empty spool that holds at most capacity jobs. It panics
// if capacity is less than 1.
func New(capacity int) *Spool {
	if capacity < 1 {
		panic("spooler: capacity must be at least 1")
	}
	s := &Spool{capacity: capacity}
	s.nonEmpty.L = &s.mu
	s.nonFull.L = &s.mu
	return s
}

// Submit adds j at the end of the spool, waiting while the spool is full.
// It returns ErrClosed, and adds nothing, if the spool is closed before
// there is room.
func (s *Spool) Submit(j Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.jobs) == s.capacity {
		s.nonFull.Wait()
	}
	if s.closed {
		return ErrClosed
	}
	s.jobs = append(s.jobs, j)
	s.nonEmpty.Signal() // one waiting printer can take it
	return nil
}

// Next takes the oldest job from the spool, waiting while the spool is
// empty and open. Once the spool is closed and every job in it has been
// taken, Next returns false.
func (s *Spool) Next() (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A loop, not an if: a printer woken for a job may find it taken by a
	// printer that got the lock first.
	for len(s.jobs) == 0 {
		if s.closed {
			return Job{}, false
		}
		s.nonEmpty.Wait()
	}
	j := s.jobs[0]
	s.jobs = s.jobs[1:]
	s.nonFull.Signal() // one waiting submitter can use the room
	return j, true
}

// Close closes the spool: from now on Submit returns ErrClosed, and once
// the jobs still in the spool are taken, Next returns false. Submitters and
// printers waiting when the spool closes stop waiting. Closing a closed
// spool does nothing.
func (s *Spool) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.nonEmpty.Broadcast()
	s.nonFull.Broadcast()
}
