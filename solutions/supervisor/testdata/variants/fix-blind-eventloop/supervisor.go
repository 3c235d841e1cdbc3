// Package supervisor runs the jobs of a build at the same time, each in a
// process of its own, the way a CI agent does: [Supervisor.Run] starts the
// jobs through a [Starter] and watches their [Process]es until they end or
// the build is cancelled.
package supervisor

import (
	"context"
	"errors"
	"fmt"
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
	type exit struct {
		job string
		err error
	}
	exits := make(chan exit)
	var errs []error
	var procs []*Process
	skipped := false // jobs left unstarted because the build was cancelled
	for _, job := range jobs {
		if ctx.Err() != nil {
			skipped = true // cancelled already: start nothing more
			break
		}
		p, err := s.Start(job)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
			continue
		}
		procs = append(procs, p)
		go func() {
			exits <- exit{job.Name, p.Wait()}
		}()
	}

	// Every goroutine started above sends exactly one exit: receive them
	// all, whatever happens, so that every process is reaped and no
	// goroutine is left blocked on the send.
	done := ctx.Done()
	cancelled := false
	for running := len(procs); running > 0; {
		select {
		case e := <-exits:
			running--
			// The exit status of a job we stopped is no failure of its own.
			if e.err != nil && !cancelled {
				errs = append(errs, fmt.Errorf("job %s: %w", e.job, e.err))
			}
		case <-done:
			// The build was cancelled: stop every job and whatever it
			// started (its process group), then keep receiving until each
			// one has exited and been reaped. TerminateGroup does nothing
			// for a process already reaped.
			cancelled = true
			done = nil
			for _, p := range procs {
				p.TerminateGroup()
			}
		}
	}
	if cancelled || skipped {
		return fmt.Errorf("build cancelled: %w", errors.Join(append([]error{ctx.Err()}, errs...)...))
	}
	return errors.Join(errs...)
}
