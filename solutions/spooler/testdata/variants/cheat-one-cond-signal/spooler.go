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
	// changed is broadcast whenever a job is added or taken, or the spool
	// closes. Printers wait on it for a job and submitters for room: one
	// condition for both, so a Signal could wake the wrong kind of waiter,
	// and every change wakes them all.
	changed sync.Cond // changed.L is &mu
	jobs    []Job     // oldest first, at most capacity
	closed  bool
}

// New returns an empty spool that holds at most capacity jobs. It panics
// if capacity is less than 1.
func New(capacity int) *Spool {
	if capacity < 1 {
		panic("spooler: capacity must be at least 1")
	}
	s := &Spool{capacity: capacity}
	s.changed.L = &s.mu
	return s
}

// Submit adds j at the end of the spool, waiting while the spool is full.
// It returns ErrClosed, and adds nothing, if the spool is closed before
// there is room.
func (s *Spool) Submit(j Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Wait in a loop: the room we were woken for may be taken by another
	// submitter before we have the lock again.
	for !s.closed && len(s.jobs) == s.capacity {
		s.changed.Wait()
	}
	if s.closed {
		return ErrClosed
	}
	s.jobs = append(s.jobs, j)
	s.changed.Signal() // WRONG probe
	return nil
}

// Next takes the oldest job from the spool, waiting while the spool is
// empty and open. Once the spool is closed and every job in it has been
// taken, Next returns false.
func (s *Spool) Next() (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Wait in a loop: every change wakes every waiter, and another printer
	// may take the job we were woken for before we have the lock again.
	for len(s.jobs) == 0 {
		if s.closed {
			return Job{}, false
		}
		s.changed.Wait()
	}
	j := s.jobs[0]
	s.jobs = s.jobs[1:]
	s.changed.Signal() // WRONG probe
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
	s.changed.Broadcast()
}
