// Package promise runs a function in the background and hands over its result.
//
// Chabbi and Ramanathan, mixing message passing and shared memory: the
// goroutine signals "done" before it stores the result, so the reader's
// receive orders nothing.
package promise

// A Future is a value being computed.
type Future struct {
	done chan struct{}
	val  string
	err  error
}

// Go starts f.
func Go(f func() (string, error)) *Future {
	fut := &Future{done: make(chan struct{})}
	go func() {
		v, err := f()
		close(fut.done)
		fut.val, fut.err = v, err // want "race"
	}()
	return fut
}

// Get waits for the result.
func (f *Future) Get() (string, error) {
	<-f.done
	return f.val, f.err // want "race"
}
