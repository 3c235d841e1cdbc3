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

// Run runs every job at the same time; on cancellation it stops every
// job's group and returns at once, without waiting for the processes.
func (s *Supervisor) Run(ctx context.Context, jobs []Job) error {
	type exit struct {
		job string
		err error
	}
	exits := make(chan exit)
	var errs []error
	var procs []*Process
	for _, job := range jobs {
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
	for range procs {
		select {
		case e := <-exits:
			if e.err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", e.job, e.err))
			}
		case <-ctx.Done():
			for _, p := range procs {
				p.TerminateGroup()
			}
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}
