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
	// errs[i] is job i's outcome. It is written by Run before job i's
	// waiter starts, or by that waiter alone, and read after wg.Wait.
	errs := make([]error, len(jobs))
	var (
		procs []*Process // every process started; read only once the loop is over
		wg    sync.WaitGroup
	)
	for i, job := range jobs {
		if ctx.Err() != nil {
			break // cancelled: start nothing more
		}
		p, err := s.Start(job)
		if err != nil {
			errs[i] = fmt.Errorf("job %s: %w", job.Name, err)
			continue
		}
		procs = append(procs, p)
		wg.Add(1)
		// The waiter reaps the process: it exits once the process has
		// exited, on its own or because it was stopped.
		go func() {
			defer wg.Done()
			if err := p.Wait(); err != nil {
				errs[i] = fmt.Errorf("job %s: %w", job.Name, err)
			}
		}()
	}

	// reaped is closed once every waiter has returned, so once every
	// process has been reaped. The goroutine that closes it exits then.
	reaped := make(chan struct{})
	go func() {
		wg.Wait()
		close(reaped)
	}()
	select {
	case <-reaped:
	case <-ctx.Done():
		// Stop each job with everything it started: its process group.
		// Terminating the job's process alone would orphan its helpers.
		// A job that has already been reaped is left alone
		// (TerminateGroup does nothing then).
		for _, p := range procs {
			p.TerminateGroup()
		}
		// Never return before the waiters have reaped every process:
		// a process nobody waits for stays behind as a zombie.
		<-reaped
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	// reaped was closed after wg.Wait returned, which orders every
	// waiter's write to errs before this read.
	return errors.Join(errs...)
}
