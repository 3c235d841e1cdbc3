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

// Run runs every job at the same time and waits for them all.
func (s *Supervisor) Run(ctx context.Context, jobs []Job) error {
	results := make(chan error, len(jobs)) // one per job: no watcher ever blocks
	for _, job := range jobs {
		go func() { results <- s.watch(ctx, job) }()
	}
	var errs []error
	for range jobs {
		if err := <-results; err != nil {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// watch runs one job and returns once its process has been reaped,
// stopping its whole group if ctx ends first.
func (s *Supervisor) watch(ctx context.Context, job Job) error {
	p, err := s.Start(job)
	if err != nil {
		return fmt.Errorf("job %s: %w", job.Name, err)
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
		return fmt.Errorf("job %s: %w", job.Name, err)
	}
	return nil
}
