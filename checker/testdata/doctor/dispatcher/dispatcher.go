// Package dispatcher runs submitted jobs on a pool of workers.
//
// Saioc et al., "ranging over a channel nobody closes": the workers end
// only when the jobs channel is closed, and nothing ever closes it.
package dispatcher

// A Dispatcher runs jobs on its workers.
type Dispatcher struct {
	jobs chan func()
}

// New starts workers.
func New(workers int) *Dispatcher {
	d := &Dispatcher{jobs: make(chan func())}
	for i := 0; i < workers; i++ {
		go func() {
			for job := range d.jobs { // want "leak"
				job()
			}
		}()
	}
	return d
}

// Submit hands a job to a free worker.
func (d *Dispatcher) Submit(job func()) { d.jobs <- job }
