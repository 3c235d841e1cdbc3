// Package collector ingests telemetry: a [Collector] runs workers that take
// [Batch]es of sensor readings from a channel and write them to a [Sink],
// until it is stopped or a write fails.
package collector

import "sync"

// A Batch is a batch of readings from one sensor.
type Batch struct {
	Sensor string
	Values []float64
}

// A Sink stores batches: a time-series database, say. Its Write may be
// called from several goroutines at once.
type Sink interface {
	Write(b Batch) error
}

// A Collector writes batches to a sink with several workers. Create one
// with [Start]; its methods may be called from many goroutines at once.
type Collector struct {
	in   <-chan Batch
	sink Sink

	quit    chan struct{}  // closed, by shutdown only, to tell the workers to stop
	stop    sync.Once      // closes quit, once whoever asks first
	workers sync.WaitGroup // counts the workers

	mu  sync.Mutex // protects err
	err error      // the first error a write returned
}

// Start starts n workers that take batches from in and write them to sink,
// each one batch at a time. They stop once the collector is stopped, or in
// is closed and empty, or a write fails: a failed write stops the
// collector, as Stop would.
func Start(in <-chan Batch, sink Sink, n int) *Collector {
	c := &Collector{in: in, sink: sink, quit: make(chan struct{})}
	for range n {
		c.workers.Go(c.work) // exits when the collector stops, or in runs dry
	}
	return c
}

// work writes batches until the collector stops or in is closed and empty.
func (c *Collector) work() {
	for {
		select {
		case <-c.quit:
			return
		case b, ok := <-c.in:
			if !ok {
				return
			}
			if err := c.sink.Write(b); err != nil {
				c.mu.Lock()
				if c.err == nil {
					c.err = err
				}
				c.mu.Unlock()
				c.shutdown() // stop the other workers, and tell Done
				return
			}
		}
	}
}

// shutdown tells the workers to stop. Any number of goroutines may call
// it, at once or one after another: only the first call closes quit, and
// like the others it returns only once quit is closed.
func (c *Collector) shutdown() {
	c.stop.Do(func() { close(c.quit) })
}

// Done returns a channel that is closed once the collector stops: Stop was
// called, or a write failed.
func (c *Collector) Done() <-chan struct{} { return c.quit }

// Stop stops the collector and waits until every worker has returned; a
// worker finishes writing the batch in hand first. It returns the first
// error a write returned, if any.
//
// Stop may be called more than once, and from several goroutines at once
// (a signal handler, a health check, the deferred call in main): every
// call waits for the workers, and returns the same error.
func (c *Collector) Stop() error {
	c.shutdown()
	c.workers.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
