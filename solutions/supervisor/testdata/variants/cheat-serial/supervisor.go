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

// Run runs the jobs one after another, stopping the current one's group
// if the build is cancelled.
func (s *Supervisor) Run(ctx context.Context, jobs []Job) error {
	var errs []error
	for _, job := range jobs {
		if ctx.Err() != nil {
			break
		}
		p, err := s.Start(job)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
			continue
		}
		waited := make(chan error, 1)
		go func() { waited <- p.Wait() }()
		select {
		case err = <-waited:
		case <-ctx.Done():
			p.TerminateGroup()
			err = <-waited
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", job.Name, err))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
