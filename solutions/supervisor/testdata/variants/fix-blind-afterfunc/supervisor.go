// Package supervisor runs the jobs of a build at the same time, each in a
// process of its own, the way a CI agent does: [Supervisor.Run] starts the
// jobs through a [Starter] and watches their [Process]es until they end or
// the build is cancelled.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Supervisor runs the jobs of a build.
type Supervisor struct {
	// Start starts one job's process.
	Start Starter
}

// Run runs every job at the same time, each in its own process, and waits
// for them all. It returns nil if every job exited with status 0, or an
// error naming each job that failed or could not start.
//
// When ctx is done before every job has finished (the build was
// cancelled), Run stops every job still running, together with every
// process the job started, and returns an error that wraps ctx.Err().
//
// Either way, Run returns only after every process it started has exited
// and been reaped: it leaves no process behind, running or zombie.
func (s *Supervisor) Run(ctx context.Context, jobs []Job) error {
	var (
		waiters   sync.WaitGroup // one per job process: reaps it
		stoppers  sync.WaitGroup // one per job process: its cancellation hook, run or unregistered
		mu        sync.Mutex     // protects errs and cancelled
		errs      []error
		cancelled bool // a job was stopped, or not started, because the build was cancelled
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	cancel := func() {
		mu.Lock()
		cancelled = true
		mu.Unlock()
	}

	for _, job := range jobs {
		if ctx.Err() != nil {
			cancel() // the build is cancelled: start nothing more
			break
		}
		p, err := s.Start(job)
		if err != nil {
			fail(fmt.Errorf("job %s: %w", job.Name, err))
			continue
		}
		// When the build is cancelled, stop the job and everything it
		// started (its process group). Exactly one of the hook and the
		// waiter below marks the hook as done, so that Run can wait for a
		// hook that already runs.
		stoppers.Add(1)
		stop := context.AfterFunc(ctx, func() {
			defer stoppers.Done()
			p.TerminateGroup()
		})
		waiters.Go(func() {
			err := p.Wait() // reaps the job, whether it ended or was stopped
			if stop() {
				stoppers.Done() // the hook will never run
				if err != nil {
					fail(fmt.Errorf("job %s: %w", job.Name, err))
				}
				return
			}
			// The build was cancelled while the job ran: its exit status
			// is that of a job we stopped, no failure of its own.
			cancel()
		})
	}
	waiters.Wait()
	stoppers.Wait()

	// Every goroutine is done: errs and cancelled are Run's alone now.
	if cancelled {
		return fmt.Errorf("build cancelled: %w", errors.Join(append([]error{ctx.Err()}, errs...)...))
	}
	return errors.Join(errs...)
}
