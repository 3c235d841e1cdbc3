// Package cleanpipeline squares numbers in a two-stage pipeline that
// stops when its context is cancelled. Correct: every goroutine ends, on
// every path, and the doctor must report nothing.
package cleanpipeline

import (
	"context"
	"sync"
)

// Squares sends the squares of in's values, in order, until in is closed
// or ctx ends. The returned channel is closed when the stage ends.
func Squares(ctx context.Context, in <-chan int) <-chan int {
	out := make(chan int)
	go func() { // ends when in is closed or ctx ends
		defer close(out)
		for v := range in {
			select {
			case out <- v * v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Generate sends 1..n until ctx ends, then closes the channel.
func Generate(ctx context.Context, n int) <-chan int {
	out := make(chan int)
	go func() { // ends after n values or when ctx ends
		defer close(out)
		for i := 1; i <= n; i++ {
			select {
			case out <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// A Queue is a bounded FIFO whose Get waits for an item (a Cond used
// correctly: the condition is checked in a loop under the lock).
type Queue struct {
	mu    sync.Mutex // protects items
	cond  *sync.Cond
	items []int
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Put adds an item.
func (q *Queue) Put(v int) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.cond.Signal()
}

// Get waits for an item.
func (q *Queue) Get() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		q.cond.Wait()
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v
}
