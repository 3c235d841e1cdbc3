// Package workqueue is a FIFO queue that consumers wait on.
//
// Tu et al., blocking, Cond: Get waits without checking the condition
// first, so a Put that came before the Wait (and signalled nobody) is
// never noticed: a lost wake-up.
package workqueue

import "sync"

// A Queue holds items in order.
type Queue struct {
	mu    sync.Mutex // protects items
	cond  *sync.Cond // signalled when an item is added
	items []string
}

// New returns an empty queue.
func New() *Queue {
	q := &Queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Put adds an item and wakes one waiting Get.
func (q *Queue) Put(item string) {
	q.mu.Lock()
	q.items = append(q.items, item)
	q.mu.Unlock()
	q.cond.Signal()
}

// Get waits for an item and removes it.
func (q *Queue) Get() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cond.Wait() // want "deadlock: Cond lost wake-up"
	item := q.items[0]
	q.items = q.items[1:]
	return item
}
