package resolver

// This file is what is left of the resolver's first version, which called
// a C resolver library that kept its state per OS thread: every lookup had
// to run on an OS thread of its own, like a Python threading.Thread. Lookup
// no longer needs that. You do not need to change this file.

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
)

// A Thread runs one function on an OS thread of its own.
type Thread struct {
	done chan struct{} // closed when the function has returned
}

// StartThread runs f on a new OS thread, started for f and ended when f
// returns, and returns at once. Call Join to wait for f.
func StartThread(f func()) *Thread {
	threadStarts.record()
	t := &Thread{done: make(chan struct{})}
	go func() {
		// Locked, and never unlocked: when this goroutine exits, the
		// runtime ends its OS thread with it, so every Thread costs the
		// start and the end of a real OS thread.
		runtime.LockOSThread()
		defer close(t.done)
		f()
	}()
	return t
}

// Join waits for the Thread's function to return. Everything the function
// did happens before Join returns.
func (t *Thread) Join() { <-t.done }

// threadStarts counts the calls of StartThread, for the tests.
var threadStarts threadCounter

type threadCounter struct {
	mu     sync.Mutex // protects the fields below
	n      int        // StartThread calls
	caller string     // where StartThread was first called, "file.go:line"
}

func (c *threadCounter) record() {
	_, file, line, _ := runtime.Caller(2)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.caller == "" {
		c.caller = fmt.Sprintf("%s:%d", filepath.Base(file), line)
	}
}

// take returns the calls counted since the last take, and where the
// first of them came from.
func (c *threadCounter) take() (n int, caller string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, caller = c.n, c.caller
	c.n, c.caller = 0, ""
	return n, caller
}
