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
	running := 0
	for _, job := range jobs {
		p, err := s.Start(job)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
			continue
		}
		running++
		go func() {
			exits <- exit{job.Name, p.Wait()}
		}()
	}

	for range running {
		select {
		case e := <-exits:
			if e.err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", e.job, e.err))
			}
		case <-ctx.Done():
			// TODO: the build was cancelled, and Run walks away from its
			// jobs. The ones still running keep running, with whatever
			// they started (their database, their browser), and nothing
			// waits for them any more.
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}
